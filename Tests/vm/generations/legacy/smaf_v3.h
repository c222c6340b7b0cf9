/* SPDX-License-Identifier: MIT */
/*
 * smaf_v3.h - the SMAF uapi of v3 to v6 of the driver (2015-07 to early
 * 2016; libsmaf 66f9904 to 8eb643b; docs/generations.md), for the
 * generation tests. Standalone: a program includes this instead of smaf.h.
 * Natural C layout, so an i386 build (-m32) gets the ILP32 sizes.
 *
 *   CREATE          LP64 80 bytes 0xC0505300, ILP32 76 bytes 0xC04C5300
 *   GET/SET_SECURE  8 bytes 0xC0085301 / 0xC0085302 (every ABI)
 *
 * The allocator is named in CREATE (empty: SMAF chooses); there is no way
 * to list the allocators (GET_INFO came with v7). No version field.
 */
#ifndef SMAF_LEGACY_V3_H
#define SMAF_LEGACY_V3_H

#include <linux/ioctl.h>
#include <stddef.h>

#define ALLOCATOR_NAME_LENGTH 64

struct smaf_create_data {
	size_t length;
	unsigned int flags;
	char name[ALLOCATOR_NAME_LENGTH];
	int fd;
};

struct smaf_secure_flag {
	int fd;
	int secure;
};

#define SMAF_IOC_MAGIC 'S'

#define SMAF_IOC_CREATE          _IOWR(SMAF_IOC_MAGIC, 0, struct smaf_create_data)
#define SMAF_IOC_GET_SECURE_FLAG _IOWR(SMAF_IOC_MAGIC, 1, struct smaf_secure_flag)
#define SMAF_IOC_SET_SECURE_FLAG _IOWR(SMAF_IOC_MAGIC, 2, struct smaf_secure_flag)

#ifdef __LP64__
_Static_assert(sizeof(struct smaf_create_data) == 80, "v3 CREATE is 80 bytes on LP64");
_Static_assert(offsetof(struct smaf_create_data, name) == 12, "v3 CREATE name at 12 on LP64");
_Static_assert(offsetof(struct smaf_create_data, fd) == 76, "v3 CREATE fd at 76 on LP64");
_Static_assert(SMAF_IOC_CREATE == 0xC0505300u, "v3 CREATE LP64 number");
#else
_Static_assert(sizeof(struct smaf_create_data) == 76, "v3 CREATE is 76 bytes on ILP32");
_Static_assert(offsetof(struct smaf_create_data, name) == 8, "v3 CREATE name at 8 on ILP32");
_Static_assert(offsetof(struct smaf_create_data, fd) == 72, "v3 CREATE fd at 72 on ILP32");
_Static_assert(SMAF_IOC_CREATE == 0xC04C5300u, "v3 CREATE ILP32 number");
#endif
_Static_assert(sizeof(struct smaf_secure_flag) == 8, "v3 SECURE_FLAG is 8 bytes");
_Static_assert(SMAF_IOC_GET_SECURE_FLAG == 0xC0085301u && SMAF_IOC_SET_SECURE_FLAG == 0xC0085302u,
	       "v3 GET/SET_SECURE_FLAG numbers");

#endif

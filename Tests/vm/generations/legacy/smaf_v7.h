/* SPDX-License-Identifier: MIT */
/*
 * smaf_v7.h - the SMAF uapi of v7 of the driver (2016-05-09; libsmaf
 * 7d55a5f; docs/generations.md), for the generation tests.
 * Standalone: a program includes this instead of smaf.h. Natural C layout,
 * so an i386 build (-m32) gets the ILP32 sizes.
 *
 *   CREATE          LP64 80 bytes 0xC0505300, ILP32 76 bytes 0xC04C5300 (as v3-v6)
 *   GET/SET_SECURE  8 bytes 0xC0085301 / 0xC0085302 (every ABI)
 *   GET_INFO        72 bytes 0xC0485303 (every ABI): allocator `index` of
 *                   `count`, EINVAL past the end
 *
 * No version field (it came with v8).
 */
#ifndef SMAF_LEGACY_V7_H
#define SMAF_LEGACY_V7_H

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

struct smaf_info {
	int index;
	int count;
	char name[ALLOCATOR_NAME_LENGTH];
};

#define SMAF_IOC_MAGIC 'S'

#define SMAF_IOC_CREATE          _IOWR(SMAF_IOC_MAGIC, 0, struct smaf_create_data)
#define SMAF_IOC_GET_SECURE_FLAG _IOWR(SMAF_IOC_MAGIC, 1, struct smaf_secure_flag)
#define SMAF_IOC_SET_SECURE_FLAG _IOWR(SMAF_IOC_MAGIC, 2, struct smaf_secure_flag)
#define SMAF_IOC_GET_INFO        _IOWR(SMAF_IOC_MAGIC, 3, struct smaf_info)

#ifdef __LP64__
_Static_assert(sizeof(struct smaf_create_data) == 80, "v7 CREATE is 80 bytes on LP64");
_Static_assert(offsetof(struct smaf_create_data, fd) == 76, "v7 CREATE fd at 76 on LP64");
_Static_assert(SMAF_IOC_CREATE == 0xC0505300u, "v7 CREATE LP64 number");
#else
_Static_assert(sizeof(struct smaf_create_data) == 76, "v7 CREATE is 76 bytes on ILP32");
_Static_assert(offsetof(struct smaf_create_data, fd) == 72, "v7 CREATE fd at 72 on ILP32");
_Static_assert(SMAF_IOC_CREATE == 0xC04C5300u, "v7 CREATE ILP32 number");
#endif
_Static_assert(sizeof(struct smaf_secure_flag) == 8, "v7 SECURE_FLAG is 8 bytes");
_Static_assert(sizeof(struct smaf_info) == 72, "v7 GET_INFO is 72 bytes");
_Static_assert(offsetof(struct smaf_info, name) == 8, "v7 GET_INFO name at 8");
_Static_assert(SMAF_IOC_GET_SECURE_FLAG == 0xC0085301u && SMAF_IOC_SET_SECURE_FLAG == 0xC0085302u,
	       "v7 GET/SET_SECURE_FLAG numbers");
_Static_assert(SMAF_IOC_GET_INFO == 0xC0485303u, "v7 GET_INFO number");

#endif

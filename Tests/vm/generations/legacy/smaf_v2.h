/* SPDX-License-Identifier: MIT */
/*
 * smaf_v2.h - the SMAF uapi as v2 of the driver (2015-07-06) and libsmaf
 * 5e80982 saw it (docs/generations.md), for the generation tests.
 * Standalone: a program includes this instead of smaf.h. Natural C layout,
 * so an i386 build (-m32) gets the ILP32 sizes and request numbers.
 *
 *   CREATE          LP64 16 bytes 0xC0105300, ILP32 12 bytes 0xC00C5300
 *   GET/SET_SECURE  8 bytes 0xC0085301 / 0xC0085302 (every ABI)
 *   SELECT_BY_NAME  68 bytes 0xC0445303 (every ABI): binds an allocator to a
 *                   buffer CREATE made, before anyone uses it
 *
 * No version field, no reserved fields; no allocator name in CREATE.
 */
#ifndef SMAF_LEGACY_V2_H
#define SMAF_LEGACY_V2_H

#include <linux/ioctl.h>
#include <stddef.h>

#define ALLOCATOR_NAME_LENGTH 64

struct smaf_create_data {
	size_t length;
	unsigned int flags;
	int fd;
};

struct smaf_secure_flag {
	int fd;
	int secure;
};

struct smaf_select_by_name {
	int fd;
	char name[ALLOCATOR_NAME_LENGTH];
};

#define SMAF_IOC_MAGIC 'S'

#define SMAF_IOC_CREATE          _IOWR(SMAF_IOC_MAGIC, 0, struct smaf_create_data)
#define SMAF_IOC_GET_SECURE_FLAG _IOWR(SMAF_IOC_MAGIC, 1, struct smaf_secure_flag)
#define SMAF_IOC_SET_SECURE_FLAG _IOWR(SMAF_IOC_MAGIC, 2, struct smaf_secure_flag)
#define SMAF_IOC_SELECT_BY_NAME  _IOWR(SMAF_IOC_MAGIC, 3, struct smaf_select_by_name)

#ifdef __LP64__
_Static_assert(sizeof(struct smaf_create_data) == 16, "v2 CREATE is 16 bytes on LP64");
_Static_assert(SMAF_IOC_CREATE == 0xC0105300u, "v2 CREATE LP64 number");
#else
_Static_assert(sizeof(struct smaf_create_data) == 12, "v2 CREATE is 12 bytes on ILP32");
_Static_assert(SMAF_IOC_CREATE == 0xC00C5300u, "v2 CREATE ILP32 number");
#endif
_Static_assert(offsetof(struct smaf_create_data, flags) == sizeof(size_t), "v2 CREATE flags after length");
_Static_assert(sizeof(struct smaf_secure_flag) == 8, "v2 SECURE_FLAG is 8 bytes");
_Static_assert(sizeof(struct smaf_select_by_name) == 68, "v2 SELECT_BY_NAME is 68 bytes");
_Static_assert(offsetof(struct smaf_select_by_name, name) == 4, "v2 SELECT_BY_NAME name at 4");
_Static_assert(SMAF_IOC_GET_SECURE_FLAG == 0xC0085301u && SMAF_IOC_SET_SECURE_FLAG == 0xC0085302u,
	       "v2 GET/SET_SECURE_FLAG numbers");
_Static_assert(SMAF_IOC_SELECT_BY_NAME == 0xC0445303u, "v2 SELECT_BY_NAME number");

#endif

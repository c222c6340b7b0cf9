/* SPDX-License-Identifier: MIT */
/*
 * smaf_legacy.h - the request structs and numbers of the SMAF generations
 * before v8 (v2, v3-v7) and of the local 64-bit-fd variant (S64), in the
 * NATIVE layout of the compiler: a 64-bit build sees the LP64 numbers, an
 * i386 (-m32) build the ILP32 ones, as programs built for those ABIs send
 * them (docs/generations.md). Internal (the handoff code
 * recognises the CREATE numbers, whose fd smafd hands over like v10's);
 * not installed. Every name is prefixed so that it cannot clash with smaf.h.
 */
#ifndef SMAF_LEGACY_H
#define SMAF_LEGACY_H

#include <stddef.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/* Called ALLOCATOR_NAME_LENGTH up to v7. */
#define SMAF_LEGACY_NAME_LENGTH 64

/* v2 CREATE (16 bytes LP64, 12 ILP32). */
struct smaf_legacy_v2_create {
	size_t length;
	unsigned int flags;
	int fd;
};

/* v2 SELECT_BY_NAME (68): binds the named allocator to the buffer fd. */
struct smaf_legacy_v2_select {
	int fd;
	char name[SMAF_LEGACY_NAME_LENGTH];
};

/* v3-v7 CREATE (80 LP64, 76 ILP32). */
struct smaf_legacy_v3_create {
	size_t length;
	unsigned int flags;
	char name[SMAF_LEGACY_NAME_LENGTH];
	int fd;
};

/* v2-v7 GET/SET_SECURE_FLAG (8). */
struct smaf_legacy_v2_secure {
	int fd;
	int secure;
};

/* v7 GET_INFO (72). */
struct smaf_legacy_v7_info {
	int index;
	int count;
	char name[SMAF_LEGACY_NAME_LENGTH];
};

/* S64 CREATE: v8's layout with a 64-bit fd (136 LP64; 132 on i386, where
 * a 64-bit member is 4-byte aligned and nothing pads the tail). */
struct smaf_legacy_s64_create {
	__u64 version;
	__u64 length;
	__u32 flags;
	__u32 reserved1;
	__s64 fd;
	__u32 reserved2;
	__u8 name[SMAF_LEGACY_NAME_LENGTH];
	__u8 reserved3[32];
};

/* S64 GET/SET_SECURE_FLAG (72 LP64, 68 i386). */
struct smaf_legacy_s64_secure {
	__u64 version;
	__s64 fd;
	__u32 reserved1;
	__u32 secure;
	__u8 reserved2[44];
};

#define SMAF_LEGACY_IOC_V2_CREATE          _IOWR('S', 0, struct smaf_legacy_v2_create)
#define SMAF_LEGACY_IOC_V2_SELECT_BY_NAME  _IOWR('S', 3, struct smaf_legacy_v2_select)
#define SMAF_LEGACY_IOC_V3_CREATE          _IOWR('S', 0, struct smaf_legacy_v3_create)
#define SMAF_LEGACY_IOC_V2_GET_SECURE_FLAG _IOWR('S', 1, struct smaf_legacy_v2_secure)
#define SMAF_LEGACY_IOC_V2_SET_SECURE_FLAG _IOWR('S', 2, struct smaf_legacy_v2_secure)
#define SMAF_LEGACY_IOC_V7_GET_INFO        _IOWR('S', 3, struct smaf_legacy_v7_info)
#define SMAF_LEGACY_IOC_S64_CREATE         _IOWR('S', 0, struct smaf_legacy_s64_create)
#define SMAF_LEGACY_IOC_S64_GET_SECURE_FLAG _IOWR('S', 1, struct smaf_legacy_s64_secure)
#define SMAF_LEGACY_IOC_S64_SET_SECURE_FLAG _IOWR('S', 2, struct smaf_legacy_s64_secure)

/* ---- the layouts and numbers the spec gives, per ABI ---- */

_Static_assert(sizeof(struct smaf_legacy_v2_select) == 68, "v2 select is 68 bytes");
_Static_assert(offsetof(struct smaf_legacy_v2_select, name) == 4, "v2 select name at 4");
_Static_assert(sizeof(struct smaf_legacy_v2_secure) == 8, "v2 secure is 8 bytes");
_Static_assert(sizeof(struct smaf_legacy_v7_info) == 72, "v7 info is 72 bytes");
_Static_assert(offsetof(struct smaf_legacy_v7_info, name) == 8, "v7 info name at 8");
_Static_assert(offsetof(struct smaf_legacy_s64_create, flags) == 16, "S64 create flags at 16");
_Static_assert(offsetof(struct smaf_legacy_s64_create, fd) == 24, "S64 create fd at 24");
_Static_assert(offsetof(struct smaf_legacy_s64_create, reserved2) == 32, "S64 create reserved2 at 32");
_Static_assert(offsetof(struct smaf_legacy_s64_create, name) == 36, "S64 create name at 36");
_Static_assert(offsetof(struct smaf_legacy_s64_create, reserved3) == 100, "S64 create reserved3 at 100");
_Static_assert(offsetof(struct smaf_legacy_s64_secure, fd) == 8, "S64 secure fd at 8");
_Static_assert(offsetof(struct smaf_legacy_s64_secure, reserved1) == 16, "S64 secure reserved1 at 16");
_Static_assert(offsetof(struct smaf_legacy_s64_secure, secure) == 20, "S64 secure flag at 20");
_Static_assert(offsetof(struct smaf_legacy_s64_secure, reserved2) == 24, "S64 secure reserved2 at 24");

/* The same on every ABI (int and char only). */
_Static_assert(SMAF_LEGACY_IOC_V2_SELECT_BY_NAME == 0xC0445303u, "v2 SELECT_BY_NAME is 0xC0445303");
_Static_assert(SMAF_LEGACY_IOC_V2_GET_SECURE_FLAG == 0xC0085301u, "v2-v7 GET_SECURE_FLAG is 0xC0085301");
_Static_assert(SMAF_LEGACY_IOC_V2_SET_SECURE_FLAG == 0xC0085302u, "v2-v7 SET_SECURE_FLAG is 0xC0085302");
_Static_assert(SMAF_LEGACY_IOC_V7_GET_INFO == 0xC0485303u, "v7 GET_INFO is 0xC0485303");

/* size_t decides v2 and v3-v7 CREATE. */
#if __SIZEOF_SIZE_T__ == 8
_Static_assert(sizeof(struct smaf_legacy_v2_create) == 16, "LP64 v2 create is 16 bytes");
_Static_assert(offsetof(struct smaf_legacy_v2_create, fd) == 12, "LP64 v2 create fd at 12");
_Static_assert(sizeof(struct smaf_legacy_v3_create) == 80, "LP64 v3-v7 create is 80 bytes");
_Static_assert(offsetof(struct smaf_legacy_v3_create, fd) == 76, "LP64 v3-v7 create fd at 76");
_Static_assert(SMAF_LEGACY_IOC_V2_CREATE == 0xC0105300u, "LP64 v2 CREATE is 0xC0105300");
_Static_assert(SMAF_LEGACY_IOC_V3_CREATE == 0xC0505300u, "LP64 v3-v7 CREATE is 0xC0505300");
#elif __SIZEOF_SIZE_T__ == 4
_Static_assert(sizeof(struct smaf_legacy_v2_create) == 12, "ILP32 v2 create is 12 bytes");
_Static_assert(offsetof(struct smaf_legacy_v2_create, fd) == 8, "ILP32 v2 create fd at 8");
_Static_assert(sizeof(struct smaf_legacy_v3_create) == 76, "ILP32 v3-v7 create is 76 bytes");
_Static_assert(offsetof(struct smaf_legacy_v3_create, fd) == 72, "ILP32 v3-v7 create fd at 72");
_Static_assert(SMAF_LEGACY_IOC_V2_CREATE == 0xC00C5300u, "ILP32 v2 CREATE is 0xC00C5300");
_Static_assert(SMAF_LEGACY_IOC_V3_CREATE == 0xC04C5300u, "ILP32 v3-v7 CREATE is 0xC04C5300");
#else
#error "smaf_legacy.h: size_t is neither 4 nor 8 bytes"
#endif

/* The alignment of a 64-bit member decides S64: 4 on i386, 8 elsewhere
 * (arm32 included). */
#if defined(__i386__)
_Static_assert(sizeof(struct smaf_legacy_s64_create) == 132, "i386 S64 create is 132 bytes");
_Static_assert(sizeof(struct smaf_legacy_s64_secure) == 68, "i386 S64 secure is 68 bytes");
_Static_assert(SMAF_LEGACY_IOC_S64_CREATE == 0xC0845300u, "i386 S64 CREATE is 0xC0845300");
_Static_assert(SMAF_LEGACY_IOC_S64_GET_SECURE_FLAG == 0xC0445301u, "i386 S64 GET_SECURE_FLAG is 0xC0445301");
_Static_assert(SMAF_LEGACY_IOC_S64_SET_SECURE_FLAG == 0xC0445302u, "i386 S64 SET_SECURE_FLAG is 0xC0445302");
#else
_Static_assert(sizeof(struct smaf_legacy_s64_create) == 136, "S64 create is 136 bytes");
_Static_assert(sizeof(struct smaf_legacy_s64_secure) == 72, "S64 secure is 72 bytes");
_Static_assert(SMAF_LEGACY_IOC_S64_CREATE == 0xC0885300u, "S64 CREATE is 0xC0885300");
_Static_assert(SMAF_LEGACY_IOC_S64_GET_SECURE_FLAG == 0xC0485301u, "S64 GET_SECURE_FLAG is 0xC0485301");
_Static_assert(SMAF_LEGACY_IOC_S64_SET_SECURE_FLAG == 0xC0485302u, "S64 SET_SECURE_FLAG is 0xC0485302");
#endif

#endif

/* SPDX-License-Identifier: MIT */
/*
 * smaf_s64.h - the "S64" SMAF uapi: v8's structs with the fd widened to 64
 * bits, a local variant that was never posted (vingu-linaro/linux, used by
 * libsmaf-fork's register_fd branch, a0d0512; docs/generations.md), for the
 * generation tests. Standalone: a program includes this
 * instead of smaf.h. The __s64 fd makes the layout differ by ABI: on
 * x86_64 (and arm32) __s64 is 8-aligned, so the structs are padded to a
 * multiple of 8; on i386 it is 4-aligned inside structs.
 *
 *   CREATE          136 bytes 0xC0885300; i386 132 bytes 0xC0845300
 *   GET/SET_SECURE  72 bytes 0xC0485301 / 0xC0485302; i386 68 bytes 0xC0445301 / 0xC0445302
 *   GET_INFO        v8's: 128 bytes 0xC0805303 (the same as v10)
 *
 * As in v8: version must be 0, CREATE flags outside SMAF_RDWR|SMAF_CLOEXEC
 * are refused.
 */
#ifndef SMAF_LEGACY_S64_H
#define SMAF_LEGACY_S64_H

#include <fcntl.h>
#include <linux/ioctl.h>
#include <linux/types.h>
#include <stddef.h>

#define MAX_NAME_LENGTH 64

#define SMAF_RDWR    O_RDWR
#define SMAF_CLOEXEC O_CLOEXEC

struct smaf_create_data {
	__u64 version;
	__u64 length;
	__u32 flags;
	__u32 reserved1;
	__s64 fd;
	__u32 reserved2;
	__u8 name[MAX_NAME_LENGTH];
	__u8 reserved3[32];
};

struct smaf_secure_flag {
	__u64 version;
	__s64 fd;
	__u32 reserved1;
	__u32 secure;
	__u8 reserved2[44];
};

struct smaf_info {
	__u64 version;
	__u32 index;
	__u32 reserved1;
	__u32 count;
	__u32 reserved2;
	__u8 name[MAX_NAME_LENGTH];
	__u8 reserved3[40];
};

#define SMAF_IOC_MAGIC 'S'

#define SMAF_IOC_CREATE          _IOWR(SMAF_IOC_MAGIC, 0, struct smaf_create_data)
#define SMAF_IOC_GET_SECURE_FLAG _IOWR(SMAF_IOC_MAGIC, 1, struct smaf_secure_flag)
#define SMAF_IOC_SET_SECURE_FLAG _IOWR(SMAF_IOC_MAGIC, 2, struct smaf_secure_flag)
#define SMAF_IOC_GET_INFO        _IOWR(SMAF_IOC_MAGIC, 3, struct smaf_info)

_Static_assert(offsetof(struct smaf_create_data, fd) == 24, "S64 CREATE fd at 24");
_Static_assert(offsetof(struct smaf_create_data, reserved2) == 32, "S64 CREATE reserved2 at 32");
_Static_assert(offsetof(struct smaf_create_data, name) == 36, "S64 CREATE name at 36");
_Static_assert(offsetof(struct smaf_create_data, reserved3) == 100, "S64 CREATE reserved3 at 100");
_Static_assert(offsetof(struct smaf_secure_flag, fd) == 8, "S64 SECURE_FLAG fd at 8");
_Static_assert(offsetof(struct smaf_secure_flag, secure) == 20, "S64 SECURE_FLAG secure at 20");
_Static_assert(offsetof(struct smaf_secure_flag, reserved2) == 24, "S64 SECURE_FLAG reserved2 at 24");
#if defined(__i386__)
_Static_assert(sizeof(struct smaf_create_data) == 132, "S64 CREATE is 132 bytes on i386");
_Static_assert(sizeof(struct smaf_secure_flag) == 68, "S64 SECURE_FLAG is 68 bytes on i386");
_Static_assert(SMAF_IOC_CREATE == 0xC0845300u, "S64 CREATE i386 number");
_Static_assert(SMAF_IOC_GET_SECURE_FLAG == 0xC0445301u && SMAF_IOC_SET_SECURE_FLAG == 0xC0445302u,
	       "S64 GET/SET_SECURE_FLAG i386 numbers");
#else
_Static_assert(sizeof(struct smaf_create_data) == 136, "S64 CREATE is 136 bytes");
_Static_assert(sizeof(struct smaf_secure_flag) == 72, "S64 SECURE_FLAG is 72 bytes");
_Static_assert(SMAF_IOC_CREATE == 0xC0885300u, "S64 CREATE number");
_Static_assert(SMAF_IOC_GET_SECURE_FLAG == 0xC0485301u && SMAF_IOC_SET_SECURE_FLAG == 0xC0485302u,
	       "S64 GET/SET_SECURE_FLAG numbers");
#endif
_Static_assert(sizeof(struct smaf_info) == 128, "S64 GET_INFO is v8's 128 bytes");
_Static_assert(SMAF_IOC_GET_INFO == 0xC0805303u, "S64 GET_INFO is v8's number");

#endif

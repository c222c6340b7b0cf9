/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note OR MIT */
/*
 * smaf.h - userspace API of the Secure Memory Allocation Framework,
 * v10 of the proposed Linux driver (identical to v8/v9), as served by
 * smafd over CUSE at /dev/smaf.
 *
 * Written for smaf-cuse from the ABI description; every layout below is
 * fixed-width and naturally aligned, so it is the same on i386, x86_64,
 * arm and arm64, and there is no implicit padding.
 */
#ifndef _UAPI_LINUX_SMAF_H
#define _UAPI_LINUX_SMAF_H

#include <linux/ioctl.h>
#include <linux/types.h>
#ifndef __KERNEL__
/* The flag values are the host's O_* values (x86_64: 02 and 02000000). */
#include <fcntl.h>
#endif

#define MAX_NAME_LENGTH 64

/* CREATE flags: anything outside SMAF_RDWR|SMAF_CLOEXEC is refused. */
#define SMAF_RDWR    O_RDWR
#define SMAF_CLOEXEC O_CLOEXEC

/**
 * struct smaf_create_data - SMAF_IOC_CREATE argument (128 bytes)
 * @version:   must be 0
 * @length:    requested size in bytes (the buffer is rounded up to pages)
 * @flags:     SMAF_RDWR and/or SMAF_CLOEXEC
 * @reserved1: ignored, returned unchanged
 * @fd:        out: the new buffer's file descriptor
 * @reserved2: ignored, returned unchanged
 * @name:      allocator name, or empty to let SMAF choose
 * @reserved3: ignored, returned unchanged
 */
struct smaf_create_data {
	__u64 version;
	__u64 length;
	__u32 flags;
	__u32 reserved1;
	__s32 fd;
	__u32 reserved2;
	__u8 name[MAX_NAME_LENGTH];
	__u8 reserved3[32];
};

/**
 * struct smaf_secure_flag - SMAF_IOC_GET/SET_SECURE_FLAG argument (64 bytes)
 * @version:   must be 0
 * @fd:        a buffer fd in the caller's own fd table
 * @reserved1: ignored, returned unchanged
 * @secure:    SET: non-zero makes the buffer secure; GET: out, 0 or 1
 * @reserved2: ignored, returned unchanged
 */
struct smaf_secure_flag {
	__u64 version;
	__s32 fd;
	__u32 reserved1;
	__u32 secure;
	__u8 reserved2[44];
};

/**
 * struct smaf_info - SMAF_IOC_GET_INFO argument (128 bytes)
 * @version:   must be 0
 * @index:     position in the ranked allocator list
 * @reserved1: ignored, returned unchanged
 * @count:     out: number of registered allocators
 * @reserved2: ignored, returned unchanged
 * @name:      out: NUL-terminated, NUL-padded name of allocator @index
 * @reserved3: ignored, returned unchanged
 */
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

#endif /* _UAPI_LINUX_SMAF_H */

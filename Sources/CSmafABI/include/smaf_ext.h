/* SPDX-License-Identifier: MIT */
/*
 * smaf_ext.h - smafd's extensions to the SMAF v10 ABI. Not part of the
 * driver's uapi: they exist because a CUSE ioctl cannot return a file
 * descriptor. libsmaf and libsmaf-preload.so use them; plain v10 clients
 * never need them.
 *
 * Buffer handoff, in short:
 *  1. SMAF_IOC_EXT_HANDOFF on the /dev/smaf fd tells the client where smafd's
 *     handoff socket is (a kernel driver answers EINVAL: use plain ioctls).
 *  2. The client connects a SOCK_SEQPACKET socket there. smafd identifies the
 *     peer process by SO_PEERCRED, registers it as that process's channel
 *     and sends one welcome message (token 0, no fd). Wait for it before the
 *     first CREATE: until then the channel may not be registered.
 *  3. SMAF_IOC_CREATE from any thread of that process: before the ioctl
 *     returns, smafd sends one message whose token equals the `fd` field the
 *     ioctl returns (always <= -2, never a valid fd number), carrying the
 *     buffer fd as SCM_RIGHTS. The client receives it and puts the real fd
 *     number into `fd`.
 *  A process without a channel gets ENOTCONN from CREATE. A forked child
 *  must make its own connection (channels belong to processes).
 *
 * Steps 1-2 need smafd's socket path to be visible to the client, which a
 * container given only the device node does not see. SMAF_IOC_EXT_CONNECT
 * needs nothing but the node: the client makes an AF_UNIX SOCK_SEQPACKET
 * socketpair() and names one end in the ioctl; smafd takes a duplicate of
 * that end out of the calling process (pidfd_getfd(2)), registers it as the
 * caller's channel and sends the welcome on it before the ioctl returns. The
 * client then closes the end it named and keeps the other. libsmaf and the
 * shim try this first and fall back to steps 1-2 when the node answers
 * EINVAL, ENOTTY or EOPNOTSUPP.
 */
#ifndef _SMAF_EXT_H
#define _SMAF_EXT_H

#include <linux/ioctl.h>
#include <linux/types.h>

#include "smaf.h"

#define SMAF_HANDOFF_PROTOCOL 1
#define SMAF_HANDOFF_MAGIC 0x46414d53u /* "SMAF" in little-endian bytes */
#define SMAF_HANDOFF_PATH_MAX 108      /* sizeof(sockaddr_un.sun_path) */

/* SMAF_IOC_EXT_HANDOFF argument (128 bytes). */
struct smaf_ext_handoff {
	__u64 version;                     /* in: 0 */
	__u32 protocol;                    /* out: SMAF_HANDOFF_PROTOCOL */
	__u32 reserved1;
	char path[SMAF_HANDOFF_PATH_MAX];  /* out: NUL-terminated socket path */
	__u32 reserved2;
};

/* SMAF_IOC_EXT_STATUS argument (128 bytes): what smafd holds right now. */
struct smaf_ext_status {
	__u64 version;          /* in: 0 */
	__u64 live_buffers;     /* out: buffers with an fd or mapping somewhere */
	__u64 live_bytes;       /* out: their page-rounded sizes, summed */
	__u32 channels;         /* out: connected handoff channels */
	__u32 secure_buffers;   /* out: live buffers currently secure */
	__u64 created_total;    /* out: buffers created since start */
	__u64 ready_ahead;      /* out: buffers made ahead of requests, held by smafd (its own fds) */
	__u8 reserved[80];
};

/*
 * SMAF_IOC_EXT_CONNECT argument (128 bytes). `sock` must be an end of an
 * AF_UNIX SOCK_SEQPACKET socketpair() made by the calling process itself:
 * smafd checks the socket's type and that its peer credentials (set by
 * socketpair) are the caller's process and uid, so no process can register
 * a socket another process made or hand it a channel. Errors: EBADF (sock
 * not open in the caller), EINVAL (not such a socket, or version != 0),
 * EPERM (the socket was made by another process or user), EMFILE (the
 * process already has --max-channels-per-process channels), EOPNOTSUPP
 * (smafd cannot take the socket: no pidfd_getfd before Linux 5.6, or its
 * seccomp filter or capabilities refuse it; use SMAF_IOC_EXT_HANDOFF).
 */
struct smaf_ext_connect {
	__u64 version;     /* in: 0 */
	__s32 sock;        /* in: the caller's end to hand to smafd */
	__u32 protocol;    /* out: SMAF_HANDOFF_PROTOCOL */
	__u8 reserved[112];
};

/* One message on the handoff socket (24 bytes), with 0 or 1 SCM_RIGHTS fd. */
struct smaf_handoff_msg {
	__u32 magic;     /* SMAF_HANDOFF_MAGIC */
	__u32 protocol;  /* SMAF_HANDOFF_PROTOCOL */
	__s32 token;     /* 0: welcome (no fd); else the CREATE's returned fd field */
	__u32 flags;     /* the CREATE flags (SMAF_RDWR, SMAF_CLOEXEC) */
	__u64 length;    /* the buffer's page-rounded size */
};

/*
 * Queries on the handoff socket (smafctl info/status/buffers): send one message with
 * token SMAF_QUERY_TOKEN, flags = SMAF_QUERY_INFO or SMAF_QUERY_STATUS and
 * length 0, no fd. The answer is one message: the same header with length =
 * the number of bytes that follow it in that message, a UTF-8 JSON object
 * (documented in docs/smafctl.md). An unknown query kind is answered with
 * length 0. Queries never disturb buffer delivery: CREATE tokens are <= -2.
 */
#define SMAF_QUERY_TOKEN (-1)
#define SMAF_QUERY_INFO 1u
#define SMAF_QUERY_STATUS 2u
/* What smafd knows of one of the asker's buffers: length = the buffer's fd
 * number in the asking process; the answer names its allocator. */
#define SMAF_QUERY_BUFFER 3u
/* The live buffers the asker may see (root: all; others: their own), with
 * their creator, cgroup, allocator, size, age and the pids holding them open
 * or mapped (smafctl buffers; length 0). */
#define SMAF_QUERY_BUFFERS 4u
#define SMAF_QUERY_MAX 65536 /* largest answer, header included */

/*
 * Constraint-aware allocation. The kernel driver learned which devices would
 * use a buffer from its dma-buf attachments; smafd cannot see attachments,
 * so the caller names the devices, as file descriptors of its own (a V4L2
 * node, a DRM node, a /dev/dma_heap node, any character device; an O_PATH
 * fd is enough). smafd resolves each through /proc, finds its sysfs device
 * by the device number, and reads its constraints: udev properties
 * SMAF_DMA_CONTIGUOUS=1, SMAF_DMA_MASK_BITS=N, SMAF_DMA_ALIGN=BYTES, and
 * from sysfs dma_mask_bits and iommu_group. Any device at all needs a real
 * dma-buf.
 *
 * SMAF_IOC_EXT_CREATE_FOR: `create` is handled exactly as SMAF_IOC_CREATE
 * (same checks, same handoff of the fd by token), except that an unnamed
 * buffer comes from the first allocator in rank order that meets every
 * constraint of every device (none: EINVAL). A named one uses that
 * allocator unconditionally. n_devices 0 is a plain unnamed CREATE.
 * Errors besides CREATE's: more than SMAF_EXT_MAX_DEVICES devices: E2BIG;
 * a device fd not open in the caller: EBADF; not a character device: ENODEV.
 */
#define SMAF_EXT_MAX_DEVICES 16

struct smaf_ext_create_for {
	__u64 version;                          /* in: 0 */
	struct smaf_create_data create;         /* in/out: as for SMAF_IOC_CREATE */
	__u32 n_devices;                        /* in: entries of device_fds used */
	__u32 reserved1;
	__s32 device_fds[SMAF_EXT_MAX_DEVICES]; /* in: the caller's fds */
	__u8 reserved2[48];
};                                          /* 256 bytes */

/* What the devices need, merged (union of needs, intersection of what
 * satisfies them): smaf_ext_devices.needs bits. */
#define SMAF_NEEDS_DMABUF     0x1u /* any device: only a dma-buf can be imported */
#define SMAF_NEEDS_CONTIGUOUS 0x2u /* physically contiguous memory */
#define SMAF_NEEDS_KERNEL_MAPPING 0x4u /* correct kernel mappings: a device uses buffers through the kernel (dma_buf_vmap) */

/* Where the facts came from: smaf_ext_devices.sources bits. */
#define SMAF_SOURCE_UDEV        0x1u /* udev properties were read */
#define SMAF_SOURCE_NO_UDEV     0x2u /* udev has no data (udevd not running?): sysfs only */
#define SMAF_SOURCE_DMA_MASK    0x4u /* a sysfs dma_mask_bits */
#define SMAF_SOURCE_IOMMU_GROUP 0x8u /* an iommu_group: the device translates */
#define SMAF_SOURCE_KERNEL_MAPPING 0x10u /* udev SMAF_KERNEL_MAPPING was set */
#define SMAF_SOURCE_NO_DMA      0x20u /* no DMA mask nor IOMMU group in sysfs: a device without DMA of its own */

/* SMAF_IOC_EXT_DEVICES argument (256 bytes): the merged constraints of the
 * devices, and which allocators meet them for a buffer of `length` bytes
 * (what SMAF_IOC_EXT_CREATE_FOR would choose from). Same errors. */
struct smaf_ext_devices {
	__u64 version;                          /* in: 0 */
	__u64 length;                           /* in: buffer size to match (0: one page) */
	__u32 n_devices;                        /* in */
	__u32 reserved1;
	__s32 device_fds[SMAF_EXT_MAX_DEVICES]; /* in */
	__u32 needs;                            /* out: SMAF_NEEDS_* */
	__u32 dma_mask_bits;                    /* out: addressable bits (64: no limit) */
	__u64 align;                            /* out: bytes the buffer must be aligned to */
	__u64 allocators;                       /* out: bit i set: GET_INFO index i meets them */
	__u32 sources;                          /* out: SMAF_SOURCE_* */
	__u8 reserved2[140];
};                                          /* 256 bytes */

/* Numbers far from the v10 requests 0-3, same magic 'S'. */
#define SMAF_IOC_EXT_HANDOFF _IOWR('S', 0x40, struct smaf_ext_handoff)
#define SMAF_IOC_EXT_STATUS  _IOWR('S', 0x41, struct smaf_ext_status)
#define SMAF_IOC_EXT_CREATE_FOR _IOWR('S', 0x42, struct smaf_ext_create_for)
#define SMAF_IOC_EXT_DEVICES _IOWR('S', 0x43, struct smaf_ext_devices)
#define SMAF_IOC_EXT_CONNECT _IOWR('S', 0x44, struct smaf_ext_connect)

#endif

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
 */
#ifndef _SMAF_EXT_H
#define _SMAF_EXT_H

#include <linux/ioctl.h>
#include <linux/types.h>

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
	__u8 reserved[88];
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
 * Queries on the handoff socket (smafctl info/status): send one message with
 * token SMAF_QUERY_TOKEN, flags = SMAF_QUERY_INFO or SMAF_QUERY_STATUS and
 * length 0, no fd. The answer is one message: the same header with length =
 * the number of bytes that follow it in that message, a UTF-8 JSON object
 * (documented in README, "smafctl"). An unknown query kind is answered with
 * length 0. Queries never disturb buffer delivery: CREATE tokens are <= -2.
 */
#define SMAF_QUERY_TOKEN (-1)
#define SMAF_QUERY_INFO 1u
#define SMAF_QUERY_STATUS 2u
#define SMAF_QUERY_MAX 65536 /* largest answer, header included */

/* Numbers far from the v10 requests 0-3, same magic 'S'. */
#define SMAF_IOC_EXT_HANDOFF _IOWR('S', 0x40, struct smaf_ext_handoff)
#define SMAF_IOC_EXT_STATUS  _IOWR('S', 0x41, struct smaf_ext_status)

#endif

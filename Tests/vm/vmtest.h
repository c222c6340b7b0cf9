/* SPDX-License-Identifier: MIT */
/*
 * vmtest.h - what the VM tier's C test programs share: result lines, data
 * patterns, fd passing, and smafd's handoff protocol spoken by hand (see
 * smaf_ext.h), for clients that must behave in ways libsmaf never would.
 *
 * Results (vtresults.h, which names no SMAF struct, so the per-generation
 * programs with their own headers use it too): vt_check() prints "ok - ..." or "FAIL - ..." and counts it in
 * memory shared with forked children, so checks made in a child count in
 * the parent's final "NAME: N passed, M failed" line (vt_finish()).
 * Everything here is static inline: each program uses only part of it.
 */
#ifndef SMAF_VMTEST_H
#define SMAF_VMTEST_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "smaf.h"
#include "smaf_ext.h"
#include "vtresults.h"

/* ---- time, children ------------------------------------------------------------ */

static inline uint64_t vt_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static inline void vt_sleep_ms(unsigned ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

/* Exit status of a child, 128 + signal if it was killed, -1 on error. */
static inline int vt_wait_child(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static inline int vt_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The q-quantile (0.5: median) of n samples, which it sorts; 0 if n is 0. */
static inline uint64_t vt_quantile(uint64_t *v, size_t n, double q)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), vt_cmp_u64);
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* ---- data patterns ---------------------------------------------------------------- */

/* 64-bit words that differ per seed and per position; n is a multiple of 8
 * (buffers are whole pages). */
static inline uint64_t vt_word(uint64_t seed, size_t i)
{
	uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)i * 0xD6E8FEB86659FD93ull;
	return x ^ (x >> 31);
}

static inline void vt_fill(void *p, size_t n, uint64_t seed)
{
	uint64_t *w = p;
	for (size_t i = 0; i < n / 8; i++)
		w[i] = vt_word(seed, i);
}

/* Byte offset of the first word that does not match, or -1. */
static inline long vt_verify(const void *p, size_t n, uint64_t seed)
{
	const uint64_t *w = p;
	for (size_t i = 0; i < n / 8; i++)
		if (w[i] != vt_word(seed, i))
			return (long)(i * 8);
	return -1;
}

static inline long vt_first_nonzero(const void *p, size_t n)
{
	const uint64_t *w = p;
	for (size_t i = 0; i < n / 8; i++)
		if (w[i])
			return (long)(i * 8);
	return -1;
}

/* ---- fd passing ------------------------------------------------------------------- */

/* Sends len bytes of data with fd (if >= 0) attached. 0, or -1 with errno. */
static inline int vt_send_fd(int sock, int fd, const void *data, size_t len, int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	ssize_t n = sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
	return n == (ssize_t)len ? 0 : -1;
}

/* Receives one message (up to len bytes) and the fd it carries (*fd, -1 if
 * none; extra fds are closed), with FD_CLOEXEC. Bytes received, 0 at end of
 * file, -1 with errno. */
static inline ssize_t vt_recv_fd(int sock, void *data, size_t len, int *fd, int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(8 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	*fd = -1;
	ssize_t n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int f;
			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = f;
			else
				close(f);
		}
	}
	return n;
}

/* Waits up to timeout_ms for sock to become readable: 1, 0 on timeout. */
static inline int vt_readable(int sock, int timeout_ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int r;
	while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	return r > 0;
}

/* ---- the device and smafd's handoff socket, by hand ---------------------------------- */

static inline const char *vt_device_path(void)
{
	const char *p = getenv("SMAF_DEVICE");
	return p && *p ? p : "/dev/smaf";
}

/* The handoff socket path of the smafd serving devfd (SMAF_IOC_EXT_HANDOFF). */
static inline int vt_handoff_path(int devfd, char path[SMAF_HANDOFF_PATH_MAX])
{
	struct smaf_ext_handoff h;
	memset(&h, 0, sizeof(h));
	if (ioctl(devfd, SMAF_IOC_EXT_HANDOFF, &h) != 0)
		return -1;
	memcpy(path, h.path, SMAF_HANDOFF_PATH_MAX);
	path[SMAF_HANDOFF_PATH_MAX - 1] = '\0';
	return 0;
}

/* A SOCK_SEQPACKET connection to path (extra: more socket type flags, e.g.
 * SOCK_NONBLOCK), or -1 with errno. */
static inline int vt_connect(const char *path, int extra)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	size_t n = strnlen(path, sizeof(a.sun_path) - 1);
	memcpy(a.sun_path, path, n); /* NUL-terminated by the memset */
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | extra, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

/* What smafd said first on a new connection, within timeout_ms: 1 its
 * welcome (token 0, no fd), 0 it closed the connection without one, -1
 * nothing (errno ETIMEDOUT) or something else (errno EPROTO). */
static inline int vt_welcome(int sock, int timeout_ms)
{
	if (!vt_readable(sock, timeout_ms)) {
		errno = ETIMEDOUT;
		return -1;
	}
	struct smaf_handoff_msg m;
	int fd;
	ssize_t n = vt_recv_fd(sock, &m, sizeof(m), &fd, MSG_DONTWAIT);
	if (fd >= 0)
		close(fd);
	if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
		return 0;
	if (n == (ssize_t)sizeof(m) && m.magic == SMAF_HANDOFF_MAGIC && m.protocol == SMAF_HANDOFF_PROTOCOL &&
	    m.token == 0 && fd < 0)
		return 1;
	errno = n < 0 ? errno : EPROTO;
	return -1;
}

/* A channel of this process to the smafd serving devfd, welcomed (as
 * libsmaf makes it, but by hand), or -1 with errno. */
static inline int vt_channel(int devfd)
{
	char path[SMAF_HANDOFF_PATH_MAX];
	if (vt_handoff_path(devfd, path) != 0)
		return -1;
	int s = vt_connect(path, 0);
	if (s < 0)
		return -1;
	int w = vt_welcome(s, 5000);
	if (w != 1) {
		int e = w == 0 ? ECONNREFUSED : errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

/* SMAF_IOC_EXT_STATUS of the device at path. 0, or -1 with errno. */
static inline int vt_status(const char *path, struct smaf_ext_status *st)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(st, 0, sizeof(*st));
	int r = ioctl(fd, SMAF_IOC_EXT_STATUS, st);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

/* smafd's status JSON (the smafctl status query of smaf_ext.h) into buf,
 * NUL-terminated. Its length, or -1 with errno. */
static inline ssize_t vt_status_json(const char *device, char *buf, size_t cap)
{
	int dev = open(device, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -1;
	int s = vt_channel(dev);
	int e = errno;
	close(dev);
	if (s < 0) {
		errno = e;
		return -1;
	}
	struct smaf_handoff_msg q = { .magic = SMAF_HANDOFF_MAGIC, .protocol = SMAF_HANDOFF_PROTOCOL,
				      .token = SMAF_QUERY_TOKEN, .flags = SMAF_QUERY_STATUS, .length = 0 };
	static char reply[SMAF_QUERY_MAX];
	ssize_t n = -1;
	if (vt_send_fd(s, -1, &q, sizeof(q), 0) == 0 && vt_readable(s, 5000)) {
		int fd;
		n = vt_recv_fd(s, reply, sizeof(reply), &fd, MSG_DONTWAIT);
		if (fd >= 0)
			close(fd);
	}
	close(s);
	if (n < (ssize_t)sizeof(q)) {
		errno = EPROTO;
		return -1;
	}
	size_t body = (size_t)n - sizeof(q);
	if (body >= cap)
		body = cap - 1;
	memcpy(buf, reply + sizeof(q), body);
	buf[body] = '\0';
	return (ssize_t)body;
}

/* Live buffers smafd's status JSON attributes to uid (0 if it lists none). */
static inline long vt_uid_buffers(const char *json, unsigned uid)
{
	char key[48];
	snprintf(key, sizeof(key), "{\"uid\":%u,\"buffers\":", uid);
	const char *p = strstr(json, key);
	return p ? strtol(p + strlen(key), NULL, 10) : 0;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * gen_pre8.h - the 8-byte secure-flag requests of v2-v7 (struct
 * smaf_secure_flag {int fd; int secure}, 0xC0085301 / 0xC0085302 on every
 * ABI), checked the same way by generations_v2.c, generations_v3.c and generations_v7.c. Include
 * after that generation's header (smaf_v2.h, smaf_v3.h or smaf_v7.h) and
 * gen_common.h.
 */
#ifndef SMAF_GEN_PRE8_H
#define SMAF_GEN_PRE8_H

/* GET or SET through the 8-byte struct: the ioctl's result, errno kept. */
static inline int pre8_secure(int dev, int set, int fd, int *secure)
{
	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	s.secure = set ? *secure : 42;
	int r = ioctl(dev, set ? SMAF_IOC_SET_SECURE_FLAG : SMAF_IOC_GET_SECURE_FLAG, &s);
	if (r == 0 && !set)
		*secure = s.secure;
	return r;
}

/*
 * The round trip on a buffer (testsecure, smafd's default): SET 1, GET 1
 * (and the v10 GET sees it too: the flag belongs to the buffer), SET 0, GET 0.
 */
static inline void pre8_secure_round_trip(int dev, int fd, const char *what)
{
	int one = 1, zero = 0, got = -1, e;
	uint32_t v10 = 99;
	int r = pre8_secure(dev, 1, fd, &one);
	e = errno;
	vt_check(r == 0, "%s: SET_SECURE_FLAG (8-byte struct) secure=1 (%s)", what, gen_result(r, e));
	r = pre8_secure(dev, 0, fd, &got);
	e = errno;
	vt_check(r == 0 && got == 1, "%s: GET_SECURE_FLAG reads 1 after SET 1 (%s, secure=%d)", what, gen_result(r, e), got);
	r = gen_v10_secure(dev, 0, fd, &v10);
	e = errno;
	vt_check(r == 0 && v10 == 1, "%s: the v10 GET_SECURE_FLAG reads the same flag, 1 (%s, secure=%u)", what,
		  gen_result(r, e), v10);
	r = pre8_secure(dev, 1, fd, &zero);
	e = errno;
	vt_check(r == 0, "%s: SET_SECURE_FLAG secure=0 (%s)", what, gen_result(r, e));
	got = -1;
	r = pre8_secure(dev, 0, fd, &got);
	e = errno;
	vt_check(r == 0 && got == 0, "%s: GET_SECURE_FLAG reads 0 after SET 0 (%s, secure=%d)", what, gen_result(r, e), got);
}

/* fds that are not buffers: GET of -1 or a closed number is EINVAL (no fd
 * -1 special case before v8, but it is a bad fd like any other), GET of an
 * open file that is no buffer reads 0, SET on either is EINVAL. */
static inline void pre8_secure_bad_fds(int dev)
{
	int p[2];
	if (pipe(p) != 0) {
		vt_check(0, "pipe: %s", strerror(errno));
		return;
	}
	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = -1;
	gen_expect_errno(dev, SMAF_IOC_GET_SECURE_FLAG, &s, sizeof(s), EINVAL, "GET_SECURE_FLAG fd -1");
	s.fd = gen_closed_fd();
	gen_expect_errno(dev, SMAF_IOC_GET_SECURE_FLAG, &s, sizeof(s), EINVAL, "GET_SECURE_FLAG on a closed fd number");
	s.secure = 1;
	gen_expect_errno(dev, SMAF_IOC_SET_SECURE_FLAG, &s, sizeof(s), EINVAL, "SET_SECURE_FLAG on a closed fd number");
	s.fd = p[0];
	gen_expect_errno(dev, SMAF_IOC_SET_SECURE_FLAG, &s, sizeof(s), EINVAL, "SET_SECURE_FLAG on a pipe (not a buffer)");
	int got = -1;
	int r = pre8_secure(dev, 0, p[0], &got);
	int e = errno;
	vt_check(r == 0 && got == 0, "GET_SECURE_FLAG on a pipe (open, not a buffer) reads 0 (%s, secure=%d)", gen_result(r, e),
		  got);
	close(p[0]);
	close(p[1]);
}

/* Not enabled: both requests EINVAL on a real buffer (one made with v10). */
static inline void pre8_secure_refused(int dev, int fd)
{
	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	gen_expect_errno(dev, SMAF_IOC_GET_SECURE_FLAG, &s, sizeof(s), EINVAL, "refused: GET_SECURE_FLAG (8-byte struct)");
	s.secure = 1;
	gen_expect_errno(dev, SMAF_IOC_SET_SECURE_FLAG, &s, sizeof(s), EINVAL, "refused: SET_SECURE_FLAG (8-byte struct)");
}

/* In --expect-refused mode: the buffer the 8-byte requests are tried on,
 * made with the v10 CREATE through the shim (or a pipe without it). */
static inline int pre8_target(int dev, int *is_buffer)
{
	int fd = gen_v10_create(dev, 4096, O_RDWR | O_CLOEXEC);
	*is_buffer = fd >= 0;
	if (fd >= 0)
		return fd;
	vt_note("no v10 buffer (%s): the refused requests are tried on a pipe", vt_errname(errno));
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	close(p[1]);
	return p[0];
}

/* --expect-refused for the 8-byte requests: EINVAL, or with
 * --secure-flag-served (another enabled generation serves them) the round
 * trip. */
static inline void pre8_secure_when_refused(int dev, const struct gen_opts *o)
{
	int is_buffer;
	int fd = pre8_target(dev, &is_buffer);
	if (fd < 0) {
		vt_check(0, "no fd to try the secure-flag requests on: %s", strerror(errno));
		return;
	}
	if (!o->secure_flag_served)
		pre8_secure_refused(dev, fd);
	else if (is_buffer)
		pre8_secure_round_trip(dev, fd, "served by another enabled generation: a v10 buffer");
	else
		vt_check(0, "--secure-flag-served needs a v10 buffer (run under the shim)");
	close(fd);
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * generations_s64: a program written against the local "S64" SMAF uapi
 * (legacy/smaf_s64.h: v8's structs with a 64-bit fd; CREATE 136 bytes,
 * 132 on i386; GET/SET_SECURE_FLAG 72, 68 on i386; v8's GET_INFO), run
 * against smafd with raw ioctl() calls under LD_PRELOAD=libsmaf-preload.so.
 * With the generation enabled (smafd --abi-generations s64 or all) it lists
 * the allocators with GET_INFO until EINVAL, creates from each, maps,
 * secures, and checks v8's rules (version 0, no flags outside
 * SMAF_RDWR|SMAF_CLOEXEC); see legacy/gen_common.h for the options
 * (--expect-refused, --expect-enotconn).
 *
 *   generations-s64 [--device PATH] [--allocator NAME]... [--expect-refused | --expect-enotconn]
 */
#include "legacy/smaf_s64.h"
#include "legacy/gen_common.h"

#define FD_UNTOUCHED 0x7777777777777777ll

static char listed[32][MAX_NAME_LENGTH];

static struct smaf_create_data s64_req(uint64_t length, uint32_t flags, const char *name)
{
	struct smaf_create_data c;
	memset(&c, 0, sizeof(c));
	c.length = length;
	c.flags = flags;
	c.fd = FD_UNTOUCHED;
	c.reserved1 = 0x11111111u;
	c.reserved2 = 0x22222222u;
	memset(c.reserved3, 0x33, sizeof(c.reserved3));
	if (name)
		strncpy((char *)c.name, name, sizeof(c.name) - 1);
	return c;
}

static int s64_create(int dev, uint64_t length, uint32_t flags, const char *name, const char *what)
{
	struct smaf_create_data c = s64_req(length, flags, name);
	struct smaf_create_data before = c;
	errno = 0;
	int r = ioctl(dev, SMAF_IOC_CREATE, &c);
	int e = errno;
	/* Everything but fd comes back as it was sent. */
	struct smaf_create_data masked = c;
	masked.fd = before.fd;
	int echoed = !memcmp(&masked, &before, sizeof(c));
	if (!vt_check(r == 0 && c.fd >= 0 && c.fd <= 0x7FFFFFFF && echoed,
		       "%s: CREATE %llu bytes flags 0x%x name '%s' puts an fd in the 64-bit field, the rest echoed (%s, fd %lld%s)",
		       what, (unsigned long long)length, flags, name ? name : "", gen_result(r, e), (long long)c.fd,
		       echoed ? "" : ", other fields changed"))
		return -1;
	return (int)c.fd;
}

static int s64_secure(int dev, int set, int64_t fd, uint32_t *value)
{
	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	s.secure = set ? *value : 42;
	s.reserved1 = 0x44444444u;
	memset(s.reserved2, 0x55, sizeof(s.reserved2));
	int r = ioctl(dev, set ? SMAF_IOC_SET_SECURE_FLAG : SMAF_IOC_GET_SECURE_FLAG, &s);
	if (r == 0 && !set)
		*value = s.secure;
	return r;
}

static void secure_round_trip(int dev, int fd)
{
	uint32_t one = 1, zero = 0, got = 99, v10 = 99;
	int r = s64_secure(dev, 1, fd, &one);
	vt_check(r == 0, "SET_SECURE_FLAG (S64) secure=1 (%s)", gen_result(r, errno));
	r = s64_secure(dev, 0, fd, &got);
	vt_check(r == 0 && got == 1, "GET_SECURE_FLAG (S64) reads 1 after SET 1 (%s, secure=%u)", gen_result(r, errno), got);
	r = gen_v10_secure(dev, 0, fd, &v10);
	vt_check(r == 0 && v10 == 1, "the v10 GET_SECURE_FLAG reads the same flag, 1 (%s, secure=%u)", gen_result(r, errno), v10);
	r = s64_secure(dev, 1, fd, &zero);
	vt_check(r == 0, "SET_SECURE_FLAG (S64) secure=0 (%s)", gen_result(r, errno));
	got = 99;
	r = s64_secure(dev, 0, fd, &got);
	vt_check(r == 0 && got == 0, "GET_SECURE_FLAG (S64) reads 0 after SET 0 (%s, secure=%u)", gen_result(r, errno), got);

	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	s.reserved1 = 0x44444444u;
	memset(s.reserved2, 0x55, sizeof(s.reserved2));
	struct smaf_secure_flag before = s;
	r = ioctl(dev, SMAF_IOC_GET_SECURE_FLAG, &s);
	before.secure = s.secure;
	vt_check(r == 0 && !memcmp(&s, &before, sizeof(s)), "GET_SECURE_FLAG (S64) echoes version, fd and reserved fields (%s)",
		  gen_result(r, errno));
	s = before;
	s.version = 1;
	gen_expect_errno(dev, SMAF_IOC_GET_SECURE_FLAG, &s, sizeof(s), EINVAL, "GET_SECURE_FLAG (S64) version 1");
	s.secure = 1;
	gen_expect_errno(dev, SMAF_IOC_SET_SECURE_FLAG, &s, sizeof(s), EINVAL, "SET_SECURE_FLAG (S64) version 1");
	/* The whole 64-bit field is the fd: high bits make it no fd at all. */
	s = before;
	s.fd = ((int64_t)1 << 32) + fd;
	gen_expect_errno(dev, SMAF_IOC_GET_SECURE_FLAG, &s, sizeof(s), EINVAL, "GET_SECURE_FLAG (S64) fd 2^32 + a buffer's fd");
	s.secure = 1;
	gen_expect_errno(dev, SMAF_IOC_SET_SECURE_FLAG, &s, sizeof(s), EINVAL, "SET_SECURE_FLAG (S64) fd 2^32 + a buffer's fd");
}

static void bad_fds(int dev)
{
	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = -1;
	gen_expect_errno(dev, SMAF_IOC_GET_SECURE_FLAG, &s, sizeof(s), EINVAL, "GET_SECURE_FLAG (S64) fd -1");
	s.fd = gen_closed_fd();
	gen_expect_errno(dev, SMAF_IOC_GET_SECURE_FLAG, &s, sizeof(s), EINVAL, "GET_SECURE_FLAG (S64) on a closed fd number");
	s.secure = 1;
	gen_expect_errno(dev, SMAF_IOC_SET_SECURE_FLAG, &s, sizeof(s), EINVAL, "SET_SECURE_FLAG (S64) on a closed fd number");
	int p[2];
	if (pipe(p) == 0) {
		s.fd = p[0];
		gen_expect_errno(dev, SMAF_IOC_SET_SECURE_FLAG, &s, sizeof(s), EINVAL, "SET_SECURE_FLAG (S64) on a pipe");
		uint32_t got = 99;
		int r = s64_secure(dev, 0, p[0], &got);
		vt_check(r == 0 && got == 0, "GET_SECURE_FLAG (S64) on a pipe (not a buffer) reads 0 (%s, secure=%u)",
			  gen_result(r, errno), got);
		close(p[0]);
		close(p[1]);
	}
}

static int enumerate(int dev, const struct gen_opts *o)
{
	int n = 0, ok = 1, r, e;
	unsigned count = 0;
	struct smaf_info info;
	for (;;) {
		memset(&info, 0, sizeof(info));
		info.index = (unsigned)n;
		errno = 0;
		r = ioctl(dev, SMAF_IOC_GET_INFO, &info);
		e = errno;
		if (r != 0 || n >= 32)
			break;
		if (n == 0)
			count = info.count;
		ok &= info.count == count && info.name[0] && memchr(info.name, 0, sizeof(info.name)) != NULL;
		memcpy(listed[n], info.name, sizeof(info.name));
		listed[n][MAX_NAME_LENGTH - 1] = '\0';
		vt_note("  GET_INFO index %d of %u: %s", n, info.count, listed[n]);
		n++;
	}
	vt_check(n > 0 && (unsigned)n == count && r == -1 && e == EINVAL && ok,
		  "GET_INFO (v8's, 128 bytes) lists %d allocators, then EINVAL at index %u = count (%s)", n, count, gen_result(r, e));
	if (o->n_allocators) {
		int same = n == o->n_allocators;
		for (int i = 0; same && i < n; i++)
			same = !strcmp(listed[i], o->allocators[i]);
		vt_check(same, "GET_INFO lists exactly the expected allocators, in rank order");
	}
	return n;
}

static void works(int dev, const struct gen_opts *o)
{
	int n = enumerate(dev, o);
	const uint32_t rw = SMAF_RDWR | SMAF_CLOEXEC;
	int fd = s64_create(dev, 16384, rw, NULL, "unnamed");
	if (fd >= 0) {
		gen_check_buffer(fd, 16384, 1, 1, "unnamed CREATE SMAF_RDWR|SMAF_CLOEXEC");
		secure_round_trip(dev, fd);
		close(fd);
	}
	fd = s64_create(dev, 16385, rw, NULL, "not page-aligned");
	if (fd >= 0) {
		gen_check_buffer(fd, 16385, 1, 1, "16385 bytes are page-rounded and map in full");
		close(fd);
	}
	fd = s64_create(dev, 8192, SMAF_RDWR, NULL, "without SMAF_CLOEXEC");
	if (fd >= 0) {
		gen_check_buffer(fd, 8192, 1, 0, "CREATE SMAF_RDWR");
		close(fd);
	}
	fd = s64_create(dev, 8192, 0, NULL, "flags 0");
	if (fd >= 0) {
		gen_check_buffer(fd, 8192, 0, 0, "CREATE flags 0 is read-only");
		close(fd);
	}
	/* v8's checks, which S64 keeps. */
	struct smaf_create_data c = s64_req(8192, rw | O_NONBLOCK, NULL);
	gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE flags with O_NONBLOCK (S64 validates flags)");
	c = s64_req(8192, rw | 0x10000000u, NULL);
	gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE flags with 0x10000000");
	c = s64_req(8192, rw, NULL);
	c.version = 1;
	gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE version 1");
	c = s64_req(0, rw, NULL);
	gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE length 0");
	c = s64_req(16384, rw, "deadbeef");
	gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE unknown allocator 'deadbeef'");
	for (int i = 0; i < n; i++) {
		char what[128];
		snprintf(what, sizeof(what), "named '%.63s'", listed[i]);
		fd = s64_create(dev, 16384, rw, listed[i], what);
		if (fd >= 0) {
			snprintf(what, sizeof(what), "CREATE name '%.63s'", listed[i]);
			gen_check_buffer(fd, 16384, 1, 1, what);
			close(fd);
		}
	}
	bad_fds(dev);
}

static void refused(int dev)
{
	struct smaf_create_data c = s64_req(16384, SMAF_RDWR | SMAF_CLOEXEC, NULL);
	gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "refused: CREATE (S64)");
	int fd = gen_v10_create(dev, 4096, SMAF_RDWR | SMAF_CLOEXEC);
	int p[2] = { -1, -1 };
	if (fd < 0) {
		vt_note("no v10 buffer (%s): GET/SET are tried on a pipe", vt_errname(errno));
		if (pipe(p) == 0)
			fd = p[0];
	}
	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	gen_expect_errno(dev, SMAF_IOC_GET_SECURE_FLAG, &s, sizeof(s), EINVAL, "refused: GET_SECURE_FLAG (S64)");
	s.secure = 1;
	gen_expect_errno(dev, SMAF_IOC_SET_SECURE_FLAG, &s, sizeof(s), EINVAL, "refused: SET_SECURE_FLAG (S64)");
	close(fd);
	if (p[1] >= 0)
		close(p[1]);
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	int u = gen_start(argc, argv, &o, "generations-s64");
	if (u)
		return u;
	if (o.secure_flag_served) {
		gen_usage(argv[0]);
		return 2;
	}
#if defined(__i386__)
	const unsigned want_create = 0xC0845300u, want_get = 0xC0445301u, want_set = 0xC0445302u;
	const size_t want_c = 132, want_s = 68;
#else
	const unsigned want_create = 0xC0885300u, want_get = 0xC0485301u, want_set = 0xC0485302u;
	const size_t want_c = 136, want_s = 72;
#endif
	vt_note("S64 ABI (%s): CREATE 0x%08X (%zu bytes), GET/SET_SECURE_FLAG 0x%08X/0x%08X (%zu), GET_INFO 0x%08X (%zu) on %s",
		 sizeof(long) == 8 ? "LP64" : "ILP32", (unsigned)SMAF_IOC_CREATE, sizeof(struct smaf_create_data),
		 (unsigned)SMAF_IOC_GET_SECURE_FLAG, (unsigned)SMAF_IOC_SET_SECURE_FLAG, sizeof(struct smaf_secure_flag),
		 (unsigned)SMAF_IOC_GET_INFO, sizeof(struct smaf_info), o.device);
	vt_check(SMAF_IOC_CREATE == want_create && SMAF_IOC_GET_SECURE_FLAG == want_get && SMAF_IOC_SET_SECURE_FLAG == want_set &&
			  sizeof(struct smaf_create_data) == want_c && sizeof(struct smaf_secure_flag) == want_s,
		  "CREATE 0x%08X (%zu bytes), GET/SET 0x%08X/0x%08X (%zu), as docs/generations.md gives for this ABI", want_create,
		  want_c, want_get, want_set, want_s);
	int dev = gen_open(&o);
	if (dev < 0)
		return vt_finish();
	if (o.mode == GEN_WORKS) {
		works(dev, &o);
	} else if (o.mode == GEN_REFUSED) {
		refused(dev);
	} else {
		struct smaf_create_data c = s64_req(16384, SMAF_RDWR | SMAF_CLOEXEC, NULL);
		gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), ENOTCONN, "CREATE (S64) without a handoff channel (no shim)");
		bad_fds(dev);
	}
	close(dev);
	return vt_finish();
}

/* SPDX-License-Identifier: MIT */
/*
 * generations_v2: a program written against the v2 SMAF uapi (legacy/smaf_v2.h:
 * CREATE without a name, 16 bytes on LP64, 12 on ILP32; the 8-byte secure
 * flag; SMAF_IOC_SELECT_BY_NAME, 68 bytes, binding an allocator to a buffer
 * nobody has used yet), run against smafd with raw ioctl() calls under
 * LD_PRELOAD=libsmaf-preload.so. With the generation enabled (smafd
 * --abi-generations v2 or all) it creates, maps and secures buffers and
 * selects each --allocator NAME for a new buffer: the first NAME is the
 * allocator an unnamed CREATE takes (rank order), so for every other one
 * the shim must have put a buffer of that allocator behind the same fd
 * number. See legacy/gen_common.h for the options (--expect-refused,
 * --secure-flag-served, --expect-enotconn).
 *
 *   generations-v2 [--device PATH] [--allocator NAME]... [--expect-refused [--secure-flag-served] | --expect-enotconn]
 */
#include "legacy/smaf_v2.h"
#include "legacy/gen_common.h"
#include "legacy/gen_pre8.h"

#define FD_UNTOUCHED (-7)

static struct smaf_create_data v2_req(size_t length, unsigned flags)
{
	struct smaf_create_data c;
	memset(&c, 0, sizeof(c));
	c.length = length;
	c.flags = flags;
	c.fd = FD_UNTOUCHED;
	return c;
}

static int v2_create(int dev, size_t length, unsigned flags, const char *what)
{
	struct smaf_create_data c = v2_req(length, flags);
	errno = 0;
	int r = ioctl(dev, SMAF_IOC_CREATE, &c);
	int e = errno;
	if (!vt_check(r == 0 && c.fd >= 0, "%s: CREATE %zu bytes flags 0x%x gives an fd (%s, fd %d)", what, length, flags,
		       gen_result(r, e), c.fd))
		return -1;
	return c.fd;
}

static struct smaf_select_by_name v2_select_req(int fd, const char *name)
{
	struct smaf_select_by_name s;
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	strncpy(s.name, name, sizeof(s.name) - 1);
	return s;
}

static void select_checks(int dev, const struct gen_opts *o)
{
	const unsigned rw = O_RDWR | O_CLOEXEC;
	if (!o->n_allocators)
		vt_note("no --allocator given: SELECT_BY_NAME is tried with unknown names only");
	for (int i = 0; i < o->n_allocators; i++) {
		const char *a = o->allocators[i];
		char what[160];
		snprintf(what, sizeof(what), "select '%s'", a);
		int fd = v2_create(dev, 16384, rw, what);
		if (fd < 0)
			continue;
		struct stat before;
		fstat(fd, &before);
		struct smaf_select_by_name s = v2_select_req(fd, a);
		errno = 0;
		int r = ioctl(dev, SMAF_IOC_SELECT_BY_NAME, &s);
		int e = errno;
		vt_check(r == 0 && s.fd == fd, "SELECT_BY_NAME '%s' on a new, unused buffer succeeds (%s)", a, gen_result(r, e));
		if (i > 0)
			vt_check(r == 0 && !gen_same_file(fd, &before),
				  "  ... '%s' is not the allocator that made it (%s): fd %d is now another buffer", a,
				  o->allocators[0], fd);
		else
			vt_note("  ... '%s' is the allocator an unnamed CREATE takes: fd %d is %s buffer", a, fd,
				 gen_same_file(fd, &before) ? "the same" : "another");
		snprintf(what, sizeof(what), "after SELECT_BY_NAME '%s'", a);
		gen_check_buffer(fd, 16384, 1, 1, what);
		s = v2_select_req(fd, a);
		gen_expect_errno(dev, SMAF_IOC_SELECT_BY_NAME, &s, sizeof(s), EINVAL, "a second SELECT_BY_NAME on the same buffer");
		close(fd);
	}
	int fd = v2_create(dev, 16384, rw, "select an unknown name");
	if (fd >= 0) {
		struct smaf_select_by_name s = v2_select_req(fd, "deadbeef");
		gen_expect_errno(dev, SMAF_IOC_SELECT_BY_NAME, &s, sizeof(s), EINVAL, "SELECT_BY_NAME 'deadbeef' (unknown)");
		memset(s.name, 'a', sizeof(s.name));
		gen_expect_errno(dev, SMAF_IOC_SELECT_BY_NAME, &s, sizeof(s), EINVAL, "SELECT_BY_NAME with a 64-byte unterminated name");
		gen_check_buffer(fd, 16384, 1, 1, "the buffer is unharmed by the refused selects");
		close(fd);
	}
	if (o->n_allocators) {
		const char *a = o->allocators[o->n_allocators - 1];
		fd = v2_create(dev, 16384, rw, "select on a secure buffer");
		if (fd >= 0) {
			int one = 1;
			int r = pre8_secure(dev, 1, fd, &one);
			vt_check(r == 0, "SET_SECURE_FLAG 1 on a new buffer (%s)", gen_result(r, errno));
			struct smaf_select_by_name s = v2_select_req(fd, a);
			gen_expect_errno(dev, SMAF_IOC_SELECT_BY_NAME, &s, sizeof(s), EINVAL, "SELECT_BY_NAME on a secured buffer");
			close(fd);
		}
		fd = gen_v10_create(dev, 16384, rw);
		if (vt_check(fd >= 0, "a buffer made with the v10 CREATE (%s)", fd >= 0 ? "ok" : vt_errname(errno))) {
			struct smaf_select_by_name s = v2_select_req(fd, a);
			gen_expect_errno(dev, SMAF_IOC_SELECT_BY_NAME, &s, sizeof(s), EINVAL, "SELECT_BY_NAME on a v10-created buffer");
			close(fd);
		}
		int p[2];
		if (pipe(p) == 0) {
			struct smaf_select_by_name s = v2_select_req(p[0], a);
			gen_expect_errno(dev, SMAF_IOC_SELECT_BY_NAME, &s, sizeof(s), EINVAL, "SELECT_BY_NAME on a pipe (not a buffer)");
			close(p[0]);
			close(p[1]);
		}
		struct smaf_select_by_name s = v2_select_req(-1, a);
		gen_expect_errno(dev, SMAF_IOC_SELECT_BY_NAME, &s, sizeof(s), EINVAL, "SELECT_BY_NAME fd -1");
		s = v2_select_req(gen_closed_fd(), a);
		gen_expect_errno(dev, SMAF_IOC_SELECT_BY_NAME, &s, sizeof(s), EINVAL, "SELECT_BY_NAME on a closed fd number");
	}
}

static void works(int dev, const struct gen_opts *o)
{
	const unsigned rw = O_RDWR | O_CLOEXEC;
	int fd = v2_create(dev, 16384, rw, "v2");
	if (fd >= 0) {
		gen_check_buffer(fd, 16384, 1, 1, "CREATE O_RDWR|O_CLOEXEC");
		pre8_secure_round_trip(dev, fd, "a v2 buffer");
		close(fd);
	}
	fd = v2_create(dev, 16385, rw, "not page-aligned");
	if (fd >= 0) {
		gen_check_buffer(fd, 16385, 1, 1, "16385 bytes are page-rounded (smafd rounds every generation)");
		close(fd);
	}
	fd = v2_create(dev, 8192, O_RDWR, "without O_CLOEXEC");
	if (fd >= 0) {
		gen_check_buffer(fd, 8192, 1, 0, "CREATE O_RDWR");
		close(fd);
	}
	fd = v2_create(dev, 8192, 0, "flags 0");
	if (fd >= 0) {
		gen_check_buffer(fd, 8192, 0, 0, "CREATE flags 0 is read-only");
		close(fd);
	}
	unsigned extra = rw | O_NONBLOCK | O_CREAT | 0x10000000u;
	fd = v2_create(dev, 8192, extra, "pre-v8 flags are not validated");
	if (fd >= 0) {
		gen_check_buffer(fd, 8192, 1, 1, "extra flag bits (O_NONBLOCK|O_CREAT|0x10000000) are ignored");
		close(fd);
	}
	struct smaf_create_data c = v2_req(0, rw);
	gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE length 0");
	select_checks(dev, o);
	pre8_secure_bad_fds(dev);
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	int u = gen_start(argc, argv, &o, "generations-v2");
	if (u)
		return u;
	vt_note("v2 ABI (%s): CREATE 0x%08X (%zu bytes), GET/SET_SECURE_FLAG 0x%08X/0x%08X (%zu), SELECT_BY_NAME 0x%08X (%zu) on %s",
		 sizeof(long) == 8 ? "LP64" : "ILP32", (unsigned)SMAF_IOC_CREATE, sizeof(struct smaf_create_data),
		 (unsigned)SMAF_IOC_GET_SECURE_FLAG, (unsigned)SMAF_IOC_SET_SECURE_FLAG, sizeof(struct smaf_secure_flag),
		 (unsigned)SMAF_IOC_SELECT_BY_NAME, sizeof(struct smaf_select_by_name), o.device);
	vt_check(SMAF_IOC_CREATE == (sizeof(long) == 8 ? 0xC0105300u : 0xC00C5300u) &&
			  sizeof(struct smaf_create_data) == (sizeof(long) == 8 ? 16u : 12u) &&
			  SMAF_IOC_SELECT_BY_NAME == 0xC0445303u,
		  "CREATE is 0x%08X (%zu bytes), SELECT_BY_NAME 0x%08X, as docs/generations.md gives for this ABI",
		  (unsigned)SMAF_IOC_CREATE, sizeof(struct smaf_create_data), (unsigned)SMAF_IOC_SELECT_BY_NAME);
	int dev = gen_open(&o);
	if (dev < 0)
		return vt_finish();
	if (o.mode == GEN_WORKS) {
		works(dev, &o);
	} else if (o.mode == GEN_REFUSED) {
		struct smaf_create_data c = v2_req(16384, O_RDWR | O_CLOEXEC);
		gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "refused: CREATE");
		int is_buffer;
		int fd = pre8_target(dev, &is_buffer);
		struct smaf_select_by_name s = v2_select_req(fd, o.n_allocators ? o.allocators[0] : "smaf-memfd");
		gen_expect_errno(dev, SMAF_IOC_SELECT_BY_NAME, &s, sizeof(s), EINVAL, "refused: SELECT_BY_NAME");
		if (fd >= 0)
			close(fd);
		pre8_secure_when_refused(dev, &o);
	} else {
		struct smaf_create_data c = v2_req(16384, O_RDWR | O_CLOEXEC);
		gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), ENOTCONN, "CREATE without a handoff channel (no shim)");
		pre8_secure_bad_fds(dev);
	}
	close(dev);
	return vt_finish();
}

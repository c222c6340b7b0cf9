/* SPDX-License-Identifier: MIT */
/*
 * gen_named.h - the checks of the v3-v7 CREATE (struct smaf_create_data
 * {size_t length; unsigned flags; char name[64]; int fd}: LP64 80 bytes
 * 0xC0505300, ILP32 76 bytes 0xC04C5300), shared by generations_v3.c and generations_v7.c.
 * Include after smaf_v3.h or smaf_v7.h, gen_common.h and gen_pre8.h.
 */
#ifndef SMAF_GEN_NAMED_H
#define SMAF_GEN_NAMED_H

#define FD_UNTOUCHED (-7)

static struct smaf_create_data named_req(size_t length, unsigned flags, const char *name)
{
	struct smaf_create_data c;
	memset(&c, 0, sizeof(c));
	c.length = length;
	c.flags = flags;
	if (name)
		strncpy(c.name, name, sizeof(c.name) - 1);
	c.fd = FD_UNTOUCHED;
	return c;
}

/* CREATE that must succeed: the fd, or -1 after a FAIL line. */
static int named_create(int dev, size_t length, unsigned flags, const char *name, const char *what)
{
	struct smaf_create_data c = named_req(length, flags, name);
	errno = 0;
	int r = ioctl(dev, SMAF_IOC_CREATE, &c);
	int e = errno;
	if (!vt_check(r == 0 && c.fd >= 0, "%s: CREATE %zu bytes flags 0x%x name '%s' gives an fd (%s, fd %d)", what, length, flags,
		       name ? name : "", gen_result(r, e), c.fd))
		return -1;
	return c.fd;
}

/* What every enabled v3-v7 CREATE must do (names: allocators to create from). */
static void named_checks(int dev, const char *const *names, int n_names)
{
	const unsigned rw = O_RDWR | O_CLOEXEC;
	int fd = named_create(dev, 16384, rw, NULL, "unnamed");
	if (fd >= 0) {
		gen_check_buffer(fd, 16384, 1, 1, "unnamed CREATE O_RDWR|O_CLOEXEC");
		pre8_secure_round_trip(dev, fd, "a v3-v7 buffer");
		close(fd);
	}
	fd = named_create(dev, 16385, rw, NULL, "not page-aligned");
	if (fd >= 0) {
		gen_check_buffer(fd, 16385, 1, 1, "16385 bytes are page-rounded (every generation) and map in full");
		close(fd);
	}
	fd = named_create(dev, 8192, O_RDWR, NULL, "without O_CLOEXEC");
	if (fd >= 0) {
		gen_check_buffer(fd, 8192, 1, 0, "CREATE O_RDWR");
		close(fd);
	}
	fd = named_create(dev, 8192, 0, NULL, "flags 0");
	if (fd >= 0) {
		gen_check_buffer(fd, 8192, 0, 0, "CREATE flags 0 is read-only");
		close(fd);
	}
	/* Before v8 the flags were not validated: other bits are ignored. */
	unsigned extra = rw | O_NONBLOCK | O_CREAT | 0x10000000u;
	fd = named_create(dev, 8192, extra, NULL, "pre-v8 flags are not validated");
	if (fd >= 0) {
		gen_check_buffer(fd, 8192, 1, 1, "extra flag bits (O_NONBLOCK|O_CREAT|0x10000000) are ignored");
		close(fd);
	}
	struct smaf_create_data c = named_req(0, rw, NULL);
	gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE length 0");
	c = named_req(16384, rw, "deadbeef");
	gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE unknown allocator 'deadbeef'");
	c = named_req(16384, rw, NULL);
	memset(c.name, 'a', sizeof(c.name)); /* 64 bytes, no NUL */
	gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE with a 64-byte unterminated name");
	for (int i = 0; i < n_names; i++) {
		char what[128];
		snprintf(what, sizeof(what), "named '%s'", names[i]);
		fd = named_create(dev, 16384, rw, names[i], what);
		if (fd >= 0) {
			snprintf(what, sizeof(what), "CREATE name '%s'", names[i]);
			gen_check_buffer(fd, 16384, 1, 1, what);
			close(fd);
		}
	}
	pre8_secure_bad_fds(dev);
}

static void named_refused(int dev, const struct gen_opts *o)
{
	struct smaf_create_data c = named_req(16384, O_RDWR | O_CLOEXEC, NULL);
	gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "refused: unnamed CREATE");
	c = named_req(16384, O_RDWR | O_CLOEXEC, o->n_allocators ? o->allocators[0] : "smaf-memfd");
	gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "refused: named CREATE");
	pre8_secure_when_refused(dev, o);
}

static void named_enotconn(int dev)
{
	struct smaf_create_data c = named_req(16384, O_RDWR | O_CLOEXEC, NULL);
	gen_expect_errno(dev, SMAF_IOC_CREATE, &c, sizeof(c), ENOTCONN, "CREATE without a handoff channel (no shim)");
	pre8_secure_bad_fds(dev);
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * abi_test: checks a live SMAF device node with raw open/ioctl calls,
 * the way a program written for the v10 kernel driver would use it.
 * Compiled against our smaf.h only; prints one line per check and a final
 * "N passed, M failed" line; exits 1 on any failure.
 *
 *   abi_test [--device PATH] [--secure-module testsecure|deny-cpu|none]
 *                 [--allocator NAME]...   (names GET_INFO must list, in order)
 *                 [--legacy-served]       (smafd --abi-generations all: the
 *                                          older numbers are answered, not EINVAL)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <stddef.h>

#include "smaf.h"

_Static_assert(sizeof(struct smaf_create_data) == 128, "create size");
_Static_assert(sizeof(struct smaf_secure_flag) == 64, "secure size");
_Static_assert(sizeof(struct smaf_info) == 128, "info size");
_Static_assert(offsetof(struct smaf_create_data, name) == 32, "create name");
_Static_assert(offsetof(struct smaf_info, name) == 24, "info name");
_Static_assert(offsetof(struct smaf_secure_flag, secure) == 16, "secure field");

static int passed, failed;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s - ", ok ? "ok" : "FAIL");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (ok)
		passed++;
	else
		failed++;
}

/* An ioctl that must fail with `want`; also checks the struct was not touched. */
static void expect_errno(int fd, unsigned long req, void *arg, size_t size, int want, const char *what)
{
	unsigned char before[256];
	if (arg && size)
		memcpy(before, arg, size);
	errno = 0;
	int r = ioctl(fd, req, arg);
	int e = errno;
	int untouched = !(arg && size) || memcmp(before, arg, size) == 0;
	check(r == -1 && e == want && untouched, "%s -> %s (got r=%d errno=%d %s%s)", what, strerror(want), r, e,
	      strerror(e), untouched ? "" : ", struct modified");
}

static struct smaf_create_data create_req(unsigned long long length, unsigned flags, const char *name)
{
	struct smaf_create_data c;
	memset(&c, 0, sizeof(c));
	c.length = length;
	c.flags = flags;
	c.fd = -7;
	if (name)
		memcpy(c.name, name, strnlen(name, sizeof(c.name) - 1));
	return c;
}

int main(int argc, char **argv)
{
	const char *device = "/dev/smaf";
	const char *secure_module = "testsecure";
	const char *expected[16];
	int nexpected = 0;
	int legacy_served = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--device") && i + 1 < argc)
			device = argv[++i];
		else if (!strcmp(argv[i], "--secure-module") && i + 1 < argc)
			secure_module = argv[++i];
		else if (!strcmp(argv[i], "--allocator") && i + 1 < argc && nexpected < 16)
			expected[nexpected++] = argv[++i];
		else if (!strcmp(argv[i], "--legacy-served"))
			legacy_served = 1;
		else {
			fprintf(stderr, "usage: %s [--device PATH] [--secure-module M] [--allocator NAME]... [--legacy-served]\n", argv[0]);
			return 2;
		}
	}
	printf("# abi_test on %s (uid %d, secure module %s)\n", device, (int)getuid(), secure_module);

	check(SMAF_IOC_CREATE == 0xC0805300u && SMAF_IOC_GET_SECURE_FLAG == 0xC0405301u &&
	      SMAF_IOC_SET_SECURE_FLAG == 0xC0405302u && SMAF_IOC_GET_INFO == 0xC0805303u,
	      "request numbers are 0xC0805300 0xC0405301 0xC0405302 0xC0805303");
	check(SMAF_RDWR == 02 && SMAF_CLOEXEC == 02000000 && MAX_NAME_LENGTH == 64 && SMAF_IOC_MAGIC == 'S',
	      "SMAF_RDWR, SMAF_CLOEXEC, MAX_NAME_LENGTH, SMAF_IOC_MAGIC");

	int fd = open(device, O_RDWR | O_CLOEXEC);
	check(fd >= 0, "open %s O_RDWR (%s)", device, fd >= 0 ? "ok" : strerror(errno));
	if (fd < 0)
		goto out;

	/* ---- GET_INFO ---- */
	struct smaf_info info;
	memset(&info, 0, sizeof(info));
	info.reserved1 = 0x11223344;
	info.reserved2 = 0x55667788;
	memset(info.reserved3, 0xA5, sizeof(info.reserved3));
	memset(info.name, 0xFF, sizeof(info.name));
	int r = ioctl(fd, SMAF_IOC_GET_INFO, &info);
	check(r == 0 && info.count >= 1, "GET_INFO index 0 succeeds, count=%u (r=%d %s)", info.count, r, r ? strerror(errno) : "");
	unsigned count = r == 0 ? info.count : 0;
	int padded = 1;
	for (int k = (int)strnlen((char *)info.name, 64); k < 64; k++)
		padded &= info.name[k] == 0;
	int reserved_ok = info.reserved1 == 0x11223344 && info.reserved2 == 0x55667788;
	for (size_t k = 0; k < sizeof(info.reserved3); k++)
		reserved_ok &= info.reserved3[k] == 0xA5;
	check(padded && info.name[63] == 0, "GET_INFO name is NUL-terminated and NUL-padded");
	check(reserved_ok && info.version == 0 && info.index == 0, "GET_INFO echoes version, index and reserved fields");

	int listed_ok = nexpected == 0 || (unsigned)nexpected == count;
	for (unsigned i = 0; i < count; i++) {
		struct smaf_info e;
		memset(&e, 0, sizeof(e));
		e.index = i;
		r = ioctl(fd, SMAF_IOC_GET_INFO, &e);
		printf("#   allocator %u: %s\n", i, r == 0 ? (char *)e.name : "(error)");
		check(r == 0 && e.count == count && e.name[0] != 0, "GET_INFO index %u names an allocator", i);
		if (nexpected && (i >= (unsigned)nexpected || strcmp((char *)e.name, expected[i])))
			listed_ok = 0;
	}
	if (nexpected)
		check(listed_ok, "GET_INFO lists exactly the expected allocators in rank order");

	memset(&info, 0, sizeof(info));
	info.index = count;
	expect_errno(fd, SMAF_IOC_GET_INFO, &info, sizeof(info), EINVAL, "GET_INFO index == count");
	info.index = 0xFFFFFFFFu;
	expect_errno(fd, SMAF_IOC_GET_INFO, &info, sizeof(info), EINVAL, "GET_INFO index 0xFFFFFFFF");
	memset(&info, 0, sizeof(info));
	info.version = 1;
	expect_errno(fd, SMAF_IOC_GET_INFO, &info, sizeof(info), EINVAL, "GET_INFO version 1");

	/* ---- CREATE ---- */
	struct smaf_create_data c = create_req(16384, SMAF_RDWR | SMAF_CLOEXEC, NULL);
	c.version = 1;
	expect_errno(fd, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE version 1");
	unsigned bad_flags[] = { O_WRONLY, O_RDWR | O_WRONLY, O_NONBLOCK, O_APPEND, SMAF_RDWR | 0x40, 0x80000000u };
	for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		c = create_req(16384, bad_flags[i], NULL);
		char what[64];
		snprintf(what, sizeof(what), "CREATE flags 0x%x", bad_flags[i]);
		expect_errno(fd, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, what);
	}
	c = create_req(16384, SMAF_RDWR | SMAF_CLOEXEC, "deadbeef");
	expect_errno(fd, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE unknown allocator 'deadbeef'");
	c = create_req(16384, SMAF_RDWR, "smaf-memf");
	expect_errno(fd, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE name prefix 'smaf-memf' does not match");
	c = create_req(0, SMAF_RDWR, NULL);
	expect_errno(fd, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE length 0");
	c = create_req(~0ULL, SMAF_RDWR, NULL);
	expect_errno(fd, SMAF_IOC_CREATE, &c, sizeof(c), EINVAL, "CREATE length 2^64-1 (overflows rounding)");
	unsigned good_flags[] = { 0, SMAF_RDWR, SMAF_CLOEXEC, SMAF_RDWR | SMAF_CLOEXEC };
	for (size_t i = 0; i < 4; i++) {
		c = create_req(16385, good_flags[i], i == 3 ? "smaf-memfd" : NULL);
		char what[96];
		snprintf(what, sizeof(what), "CREATE flags 0x%x without a handoff channel (fd stays -7)", good_flags[i]);
		expect_errno(fd, SMAF_IOC_CREATE, &c, sizeof(c), ENOTCONN, what);
	}

	/* ---- GET / SET_SECURE_FLAG ---- */
	int p[2];
	if (pipe(p) != 0) {
		perror("pipe");
		return 1;
	}
	int closed_fd = fcntl(p[0], F_DUPFD, 700);
	close(closed_fd);
	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = -1;
	expect_errno(fd, SMAF_IOC_GET_SECURE_FLAG, &s, sizeof(s), EINVAL, "GET_SECURE_FLAG fd -1");
	s.fd = closed_fd;
	expect_errno(fd, SMAF_IOC_GET_SECURE_FLAG, &s, sizeof(s), EINVAL, "GET_SECURE_FLAG closed fd");
	s.fd = p[0];
	s.version = 3;
	expect_errno(fd, SMAF_IOC_GET_SECURE_FLAG, &s, sizeof(s), EINVAL, "GET_SECURE_FLAG version 3");
	memset(&s, 0, sizeof(s));
	s.fd = p[0];
	s.secure = 42;
	s.reserved1 = 0xABCD;
	memset(s.reserved2, 0x3C, sizeof(s.reserved2));
	r = ioctl(fd, SMAF_IOC_GET_SECURE_FLAG, &s);
	int echo = s.reserved1 == 0xABCD && s.fd == p[0];
	for (size_t k = 0; k < sizeof(s.reserved2); k++)
		echo &= s.reserved2[k] == 0x3C;
	check(r == 0 && s.secure == 0 && echo, "GET_SECURE_FLAG on a pipe (not a buffer) -> 0, reserved echoed (r=%d secure=%u)", r, s.secure);

	memset(&s, 0, sizeof(s));
	s.secure = 1;
	s.fd = p[0];
	expect_errno(fd, SMAF_IOC_SET_SECURE_FLAG, &s, sizeof(s), EINVAL, "SET_SECURE_FLAG on a pipe (not a buffer)");
	s.fd = closed_fd;
	expect_errno(fd, SMAF_IOC_SET_SECURE_FLAG, &s, sizeof(s), EINVAL, "SET_SECURE_FLAG closed fd");
	s.fd = -1;
	expect_errno(fd, SMAF_IOC_SET_SECURE_FLAG, &s, sizeof(s), EINVAL, "SET_SECURE_FLAG fd -1");
	s.fd = p[0];
	s.version = 1;
	expect_errno(fd, SMAF_IOC_SET_SECURE_FLAG, &s, sizeof(s), EINVAL, "SET_SECURE_FLAG version 1");
	if (!strcmp(secure_module, "none")) {
		memset(&s, 0, sizeof(s));
		s.fd = p[0];
		expect_errno(fd, SMAF_IOC_SET_SECURE_FLAG, &s, sizeof(s), EINVAL, "SET_SECURE_FLAG with no secure module");
	}
	close(p[0]);
	close(p[1]);

	/* ---- requests outside the v10 ABI ---- */
	unsigned char legacy[256];
	memset(legacy, 0, sizeof(legacy));
	expect_errno(fd, 0xC0505300u, legacy, 80, EINVAL, "legacy v3-v7 CREATE 0xC0505300");
	if (legacy_served) {
		/* Translated: fd 0 is open and no buffer (reads 0); index 0 exists.
		 * The zeroed CREATEs above and below stay EINVAL (length 0). */
		int r = ioctl(fd, 0xC0085301u, legacy);
		check(r == 0 && legacy[4] == 0, "legacy v2-v7 GET_SECURE_FLAG 0xC0085301 of fd 0 served: 0 (r=%d)", r);
		memset(legacy, 0, sizeof(legacy));
		r = ioctl(fd, 0xC0485303u, legacy);
		check(r == 0 && legacy[4] >= 1 && legacy[8] != 0, "legacy v7 GET_INFO 0xC0485303 index 0 served: count %u, '%.64s' (r=%d)",
		      legacy[4], (char *)legacy + 8, r);
		memset(legacy, 0, sizeof(legacy));
	} else {
		expect_errno(fd, 0xC0085301u, legacy, 8, EINVAL, "legacy v2-v7 GET_SECURE_FLAG 0xC0085301");
		expect_errno(fd, 0xC0485303u, legacy, 72, EINVAL, "legacy v7 GET_INFO 0xC0485303");
	}
	expect_errno(fd, 0xC0885300u, legacy, 136, EINVAL, "64-bit-fd variant CREATE 0xC0885300");
	expect_errno(fd, _IOWR('S', 4, struct smaf_info), legacy, 128, EINVAL, "unknown _IOWR('S', 4)");
	expect_errno(fd, _IO('S', 9), NULL, 0, EINVAL, "unknown _IO('S', 9)");
	expect_errno(fd, _IOR('T', 1, int), legacy, 4, EINVAL, "foreign _IOR('T', 1, int)");

	/* ---- the kernel copies the struct: bad pointers are EFAULT ---- */
	expect_errno(fd, SMAF_IOC_GET_INFO, NULL, 0, EFAULT, "GET_INFO with a NULL argument");
	expect_errno(fd, SMAF_IOC_CREATE, (void *)8, 0, EFAULT, "CREATE with an unmapped argument");

	/* ---- no read or write on the node ---- */
	char buf[8];
	errno = 0;
	ssize_t n = read(fd, buf, sizeof(buf));
	check(n == -1 && errno == EINVAL, "read(/dev/smaf) -> EINVAL (got %zd %s)", n, strerror(errno));
	errno = 0;
	n = write(fd, "x", 1);
	check(n == -1 && errno == EINVAL, "write(/dev/smaf) -> EINVAL (got %zd %s)", n, strerror(errno));

	check(close(fd) == 0, "close %s", device);
out:
	printf("abi_test: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

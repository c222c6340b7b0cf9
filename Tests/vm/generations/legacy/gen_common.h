/* SPDX-License-Identifier: MIT */
/*
 * gen_common.h - what the per-generation test programs (Tests/vm/gen_*.c)
 * share. Each of them includes one generation's header (smaf_v2.h,
 * smaf_v3.h, smaf_v7.h, smaf_s64.h), whose struct and request names clash
 * with smaf.h and with each other, so nothing here names a SMAF struct: the
 * v10 requests these programs need (a buffer made the current way, the
 * secure flag read the current way) are spelled out as bytes at the v10
 * offsets (smaf.h).
 *
 * Every program takes the same options:
 *   --device PATH         the node (default $SMAF_DEVICE or /dev/smaf)
 *   --allocator NAME      (repeatable) the allocators smafd offers, in rank
 *                         order (what GET_INFO must list; v2/v3 create and
 *                         select with these names)
 *   --expect-refused      the generation is not enabled: every request of
 *                         it must fail with EINVAL, its struct untouched
 *   --secure-flag-served  with --expect-refused: the 8-byte GET/SET_SECURE_FLAG
 *                         (shared by v2-v7) are served by another enabled
 *                         generation, so they must work
 *   --expect-enotconn     enabled, but run without the shim (no handoff
 *                         channel): CREATE fails with ENOTCONN, fd untouched
 * and prints "ok - ..." / "FAIL - ..." lines and "NAME: N passed, M failed";
 * exit status 1 on any failure. Requests go through ioctl(), so under
 * LD_PRELOAD=libsmaf-preload.so the shim hands the buffers over.
 */
#ifndef SMAF_GEN_COMMON_H
#define SMAF_GEN_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../vtresults.h"

/* ---- results: vt_check, vt_note, vt_finish, vt_errname ------------------- */

/* "r=0" or "EINVAL" for the result of a call. */
static inline const char *gen_result(int r, int e)
{
	return r == 0 ? "succeeded" : vt_errname(e);
}

/* ---- options ------------------------------------------------------------ */

enum gen_mode { GEN_WORKS, GEN_REFUSED, GEN_ENOTCONN };

struct gen_opts {
	const char *device;
	const char *allocators[32];
	int n_allocators;
	enum gen_mode mode;
	int secure_flag_served;
};

static inline void gen_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--device PATH] [--allocator NAME]... [--expect-refused [--secure-flag-served] | --expect-enotconn]\n",
		prog);
}

/* Parses the common options; returns 0, or 2 (usage) for main to return. */
static inline int gen_parse(int argc, char **argv, struct gen_opts *o)
{
	memset(o, 0, sizeof(*o));
	const char *env = getenv("SMAF_DEVICE");
	o->device = env && *env ? env : "/dev/smaf";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--device") && i + 1 < argc)
			o->device = argv[++i];
		else if (!strcmp(argv[i], "--allocator") && i + 1 < argc && o->n_allocators < 32)
			o->allocators[o->n_allocators++] = argv[++i];
		else if (!strcmp(argv[i], "--expect-refused"))
			o->mode = GEN_REFUSED;
		else if (!strcmp(argv[i], "--expect-enotconn"))
			o->mode = GEN_ENOTCONN;
		else if (!strcmp(argv[i], "--secure-flag-served"))
			o->secure_flag_served = 1;
		else {
			gen_usage(argv[0]);
			return 2;
		}
	}
	if (o->secure_flag_served && o->mode != GEN_REFUSED) {
		gen_usage(argv[0]);
		return 2;
	}
	return 0;
}

static inline const char *gen_mode_name(enum gen_mode m)
{
	return m == GEN_REFUSED ? "expect-refused" : m == GEN_ENOTCONN ? "expect-enotconn" : "works";
}

/* Parses the options into o and names the result lines "PROG MODE". Not 0:
 * the exit status (a usage error). */
static inline int gen_start(int argc, char **argv, struct gen_opts *o, const char *prog)
{
	int u = gen_parse(argc, argv, o);
	if (u)
		return u;
	static char name[64];
	snprintf(name, sizeof(name), "%s %s", prog, gen_mode_name(o->mode));
	vt_init(name);
	return 0;
}

/* The device, opened read-write, as a check; -1 if it cannot be. */
static inline int gen_open(const struct gen_opts *o)
{
	int dev = open(o->device, O_RDWR | O_CLOEXEC);
	vt_check(dev >= 0, "open %s %s", o->device, dev < 0 ? strerror(errno) : "");
	return dev;
}

/* ---- calls -------------------------------------------------------------- */

/* An ioctl that must fail with `want`, leaving the struct as it was. */
static inline int gen_expect_errno(int dev, unsigned long req, void *arg, size_t size, int want, const char *what)
{
	unsigned char before[512];
	if (size > sizeof(before))
		size = sizeof(before);
	if (arg && size)
		memcpy(before, arg, size);
	errno = 0;
	int r = ioctl(dev, req, arg);
	int e = errno;
	int untouched = !(arg && size) || !memcmp(before, arg, size);
	return vt_check(r == -1 && e == want && untouched, "%s (0x%08lX, %zu bytes) -> %s, struct untouched (got %s%s)", what,
			 req, size, vt_errname(want), gen_result(r, e), untouched ? "" : ", struct changed");
}

static inline size_t gen_page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static inline size_t gen_round(size_t n)
{
	size_t p = gen_page();
	return (n + p - 1) / p * p;
}

static inline uint8_t gen_byte(unsigned seed, size_t i)
{
	return (uint8_t)(seed * 151u + i * 13u + (i >> 9) + 7u);
}

/*
 * What a buffer fd from CREATE must be: open, FD_CLOEXEC as asked, the
 * access mode asked (O_RDWR, or read-only for flags without it), the
 * page-rounded size, zero-filled, and (read-write) a shared mapping that
 * keeps what is written across munmap and a second mmap. One check line.
 */
static inline int gen_check_buffer(int fd, size_t length, int rdwr, int cloexec, const char *what)
{
	char why[160] = "";
	int fdfl = fcntl(fd, F_GETFD), fl = fcntl(fd, F_GETFL);
	struct stat st;
	size_t size = gen_round(length);
	if (fdfl < 0 || fl < 0)
		snprintf(why, sizeof(why), "fd %d is not open", fd);
	else if (!(fdfl & FD_CLOEXEC) != !cloexec)
		snprintf(why, sizeof(why), "FD_CLOEXEC is %s", fdfl & FD_CLOEXEC ? "set" : "clear");
	else if ((fl & O_ACCMODE) != (rdwr ? O_RDWR : O_RDONLY))
		snprintf(why, sizeof(why), "access mode 0%o", fl & O_ACCMODE);
	else if (fstat(fd, &st) != 0 || (size_t)st.st_size != size)
		snprintf(why, sizeof(why), "size %lld, want %zu", (long long)st.st_size, size);
	if (!why[0]) {
		uint8_t *p = mmap(NULL, length, PROT_READ | (rdwr ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			snprintf(why, sizeof(why), "mmap %zu bytes: %s", length, strerror(errno));
		} else {
			for (size_t i = 0; i < length && !why[0]; i++)
				if (p[i])
					snprintf(why, sizeof(why), "byte %zu of a new buffer is %u", i, p[i]);
			if (rdwr)
				for (size_t i = 0; i < length; i++)
					p[i] = gen_byte((unsigned)fd, i);
			munmap(p, length);
		}
	}
	if (!why[0] && rdwr) {
		uint8_t *p = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			snprintf(why, sizeof(why), "second mmap: %s", strerror(errno));
		} else {
			for (size_t i = 0; i < length && !why[0]; i++)
				if (p[i] != gen_byte((unsigned)fd, i))
					snprintf(why, sizeof(why), "byte %zu lost what was written", i);
			munmap(p, length);
		}
	}
	if (!why[0] && !rdwr) {
		errno = 0;
		void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED) {
			munmap(p, length);
			snprintf(why, sizeof(why), "a writable shared mapping of a read-only buffer succeeded");
		} else if (errno != EACCES) {
			snprintf(why, sizeof(why), "a writable shared mapping failed with %s, not EACCES", vt_errname(errno));
		}
	}
	return vt_check(!why[0], "%s: fd %d, %s%s, %zu bytes, %s%s%s", what, fd, rdwr ? "O_RDWR" : "read-only",
			 cloexec ? "+FD_CLOEXEC" : "", size, rdwr ? "zero-filled, data round trip through mmap" : "zero-filled, no writable mapping (EACCES)",
			 why[0] ? ": " : "", why);
}

/* ---- the v10 requests, as bytes (smaf.h cannot be included) ------------- */

#define GEN_V10_CREATE 0xC0805300u
#define GEN_V10_GET_SECURE 0xC0405301u
#define GEN_V10_SET_SECURE 0xC0405302u

/* A buffer made with the v10 CREATE (through the shim): its fd, or -1. */
static inline int gen_v10_create(int dev, uint64_t length, uint32_t flags)
{
	unsigned char c[128];
	memset(c, 0, sizeof(c));
	memcpy(c + 8, &length, 8);
	memcpy(c + 16, &flags, 4);
	int32_t fd = -7;
	memcpy(c + 24, &fd, 4);
	if (ioctl(dev, GEN_V10_CREATE, c) != 0)
		return -1;
	memcpy(&fd, c + 24, 4);
	return fd;
}

/* The v10 GET/SET_SECURE_FLAG on fd: 0 (GET: *value set), or -1 with errno. */
static inline int gen_v10_secure(int dev, int set, int fd, uint32_t *value)
{
	unsigned char s[64];
	memset(s, 0, sizeof(s));
	int32_t f = fd;
	memcpy(s + 8, &f, 4);
	if (set)
		memcpy(s + 16, value, 4);
	if (ioctl(dev, set ? GEN_V10_SET_SECURE : GEN_V10_GET_SECURE, s) != 0)
		return -1;
	if (!set)
		memcpy(value, s + 16, 4);
	return 0;
}

/* A number that is not an open fd (above what the tests open). */
static inline int gen_closed_fd(void)
{
	for (int fd = 700; fd < 1000; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			return fd;
	return 999;
}

/* Same fd number, another file behind it? (st_dev/st_ino of before.) */
static inline int gen_same_file(int fd, const struct stat *before)
{
	struct stat st;
	return fstat(fd, &st) == 0 && st.st_dev == before->st_dev && st.st_ino == before->st_ino;
}

#endif

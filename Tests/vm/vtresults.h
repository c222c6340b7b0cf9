/* SPDX-License-Identifier: MIT */
/*
 * vtresults.h - the result lines of the VM tier's C test programs: "ok - ..."
 * / "FAIL - ..." (vt_check), "# ..." notes, the final "NAME: N passed, M
 * failed" line (vt_finish) and errno names. It includes no SMAF header, so
 * programs that bring their own (Tests/vm/generations/legacy/) can use it; vmtest.h
 * includes it for the rest.
 */
#ifndef SMAF_VTRESULTS_H
#define SMAF_VTRESULTS_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- results ---------------------------------------------------------------- */

struct vt_state {
	const char *name;
	int *counts; /* [0] passed, [1] failed; MAP_SHARED, so children add to it */
};

static inline struct vt_state *vt_state(void)
{
	static struct vt_state s;
	return &s;
}

/* Call first: names the final line and sets up the shared counters. */
static inline void vt_init(const char *name)
{
	struct vt_state *s = vt_state();
	s->name = name;
	void *p = mmap(NULL, 2 * sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	s->counts = p == MAP_FAILED ? calloc(2, sizeof(int)) : p;
	/* One write per line, so lines of concurrent children never mix. */
	setvbuf(stdout, NULL, _IOLBF, 0);
}

static inline void vt_vcheck(int ok, const char *fmt, va_list ap)
{
	char msg[768];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && msg[n - 1] == ' ')
		msg[--n] = '\0'; /* an empty "%s" at the end */
	printf("%s - %s\n", ok ? "ok" : "FAIL", msg);
	fflush(stdout);
	__atomic_fetch_add(&vt_state()->counts[ok ? 0 : 1], 1, __ATOMIC_RELAXED);
}

__attribute__((format(printf, 2, 3))) static inline int vt_check(int ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vt_vcheck(ok, fmt, ap);
	va_end(ap);
	return ok;
}

/* A "# ..." line: a figure or an explanation, never counted. */
__attribute__((format(printf, 1, 2))) static inline void vt_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

static inline int vt_failures(void)
{
	return __atomic_load_n(&vt_state()->counts[1], __ATOMIC_RELAXED);
}

/* Prints the final line; the exit status for main(). */
static inline int vt_finish(void)
{
	struct vt_state *s = vt_state();
	printf("%s: %d passed, %d failed\n", s->name, s->counts[0], s->counts[1]);
	fflush(stdout);
	return s->counts[1] || s->counts[0] == 0 ? 1 : 0;
}

/* errno text for a failed call, "" for a successful one. */
static inline const char *vt_why(int failed_call)
{
	return failed_call ? strerror(errno) : "";
}

static inline const char *vt_errname(int e)
{
	switch (e) {
	case 0: return "no error";
	case EAGAIN: return "EAGAIN";
	case EACCES: return "EACCES";
	case EBADF: return "EBADF";
	case EBUSY: return "EBUSY";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case EIO: return "EIO";
	case EMFILE: return "EMFILE";
	case ENODEV: return "ENODEV";
	case ENOENT: return "ENOENT";
	case ENOMEM: return "ENOMEM";
	case ENOSPC: return "ENOSPC";
	case ENOTCONN: return "ENOTCONN";
	case ENOTTY: return "ENOTTY";
	case EPERM: return "EPERM";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ETIMEDOUT: return "ETIMEDOUT";
	default: return strerror(e);
	}
}

#endif

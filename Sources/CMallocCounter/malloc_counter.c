/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "malloc_counter.h"

#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static uint64_t count;

uint64_t smaf_malloc_count(void)
{
	return __atomic_load_n(&count, __ATOMIC_RELAXED);
}

static inline void counted(void)
{
	__atomic_fetch_add(&count, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t n)
{
	counted();
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	counted();
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	counted();
	return __libc_realloc(p, n);
}

void *memalign(size_t align, size_t n)
{
	counted();
	return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	counted();
	return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	counted();
	void *p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * buffer_libsmaf_suite: the cases of libsmaf's own test program (the
 * v8+ suite: 7d55a5f order, fc6a8b2 flag names), written for smaf-cuse and
 * using nothing but libsmaf.h and smaf.h. One line per case, then
 * "buffer-libsmaf-suite: N passed, M failed"; exit status 1 on any failure.
 *
 *   buffer_libsmaf_suite [--secure-mmap succeed|fail]
 *
 * --secure-mmap says what mmap of a secure buffer must do: "succeed" with a
 * secure module that grants CPU access (testsecure, the upstream tests;
 * the default), "fail" with one that denies it (deny-cpu, the OP-TEE-era
 * tests). The device is /dev/smaf or $SMAF_DEVICE.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "libsmaf.h"
#include "../vmtest.h"

#define LENGTH (16 * 1024)
#define FLAGS (SMAF_CLOEXEC | SMAF_RDWR)

static void create_unnamed(void)
{
	int fd = -1;
	int r = smaf_create_buffer(LENGTH, FLAGS, NULL, &fd);
	vt_check(r == 0 && fd >= 0, "create_unnamed: %u bytes, fd %d %s", LENGTH, fd, vt_why(r));
	if (fd >= 0)
		close(fd);
}

static void create_named(char *name)
{
	int fd = -1;
	int r = smaf_create_buffer(LENGTH, FLAGS, name, &fd);
	vt_check(r == 0 && fd >= 0, "create_named(%s): fd %d %s", name, fd, vt_why(r));
	if (fd >= 0)
		close(fd);
}

static void iter_over_allocators(void)
{
	int count = smaf_allocator_count();
	vt_check(count > 0, "iter_over_allocators: smaf_allocator_count() = %d", count);
	for (int i = 0; i < count; i++) {
		char *name = smaf_get_allocator_name(i);
		vt_check(name != NULL, "iter_over_allocators: smaf_get_allocator_name(%d) = %s", i, name ? name : "NULL");
		if (name)
			create_named(name);
		free(name);
	}
}

static void invalid_allocator_index(void)
{
	int count = smaf_allocator_count();
	char *name = count > 0 ? smaf_get_allocator_name(count) : NULL;
	vt_check(count > 0 && name == NULL, "invalid_allocator_index: smaf_get_allocator_name(%d) is NULL", count);
	free(name);
}

static void create_named_invalid(void)
{
	int fd = -1;
	int r = smaf_create_buffer(LENGTH, FLAGS, "deadbeef", &fd);
	int e = errno;
	vt_check(r != 0 && fd == -1, "create_named_invalid: 'deadbeef' is refused (r=%d fd=%d %s)", r, fd,
	       r ? strerror(e) : "");
	if (r == 0 && fd >= 0)
		close(fd);
}

static void create_non_page_aligned(void)
{
	int fd = -1;
	int r = smaf_create_buffer(LENGTH + 1, FLAGS, NULL, &fd);
	vt_check(r == 0 && fd >= 0, "create_non_page_aligned: %u bytes, fd %d %s", LENGTH + 1, fd, vt_why(r));
	if (fd >= 0)
		close(fd);
}

static void create_non_page_aligned_mmap(void)
{
	int fd = -1;
	int r = smaf_create_buffer(LENGTH + 1, FLAGS, NULL, &fd);
	void *p = MAP_FAILED;
	if (r == 0)
		p = mmap(NULL, LENGTH + 1, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	vt_check(r == 0 && p != MAP_FAILED, "create_non_page_aligned_mmap: mmap of %u bytes %s", LENGTH + 1,
	       vt_why(r != 0 || p == MAP_FAILED));
	if (p != MAP_FAILED)
		munmap(p, LENGTH + 1);
	if (fd >= 0)
		close(fd);
}

static void secure(void)
{
	int fd = -1;
	int r = smaf_create_buffer(LENGTH, FLAGS, NULL, &fd);
	int set = r == 0 ? smaf_set_secure(fd, 1) : -1;
	int e = errno;
	int get = r == 0 ? smaf_get_secure(fd) : 0;
	vt_check(r == 0 && set == 0 && get != 0, "secure: set_secure(fd, 1) = %d%s%s, get_secure(fd) = %d", set,
	       set ? " " : "", set ? strerror(e) : "", get);
	if (fd >= 0)
		close(fd);
}

static void test_mmap(void)
{
	int fd = -1;
	int r = smaf_create_buffer(LENGTH, FLAGS, NULL, &fd);
	void *p = MAP_FAILED;
	if (r == 0)
		p = mmap(NULL, LENGTH, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	vt_check(r == 0 && p != MAP_FAILED, "mmap: %u bytes read-write shared %s", LENGTH, vt_why(r != 0 || p == MAP_FAILED));
	if (p != MAP_FAILED)
		munmap(p, LENGTH);
	if (fd >= 0)
		close(fd);
}

static void mmap_secure(int expect_success)
{
	int fd = -1;
	int r = smaf_create_buffer(LENGTH, FLAGS, NULL, &fd);
	int set = r == 0 ? smaf_set_secure(fd, 1) : -1;
	void *p = MAP_FAILED;
	int e = 0;
	if (set == 0) {
		errno = 0;
		p = mmap(NULL, LENGTH, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		e = errno;
	}
	int mapped = p != MAP_FAILED;
	vt_check(r == 0 && set == 0 && mapped == expect_success, "mmap_secure: mmap of a secure buffer %s (%s%s)",
	       expect_success ? "succeeds" : "fails", mapped ? "mapped" : "MAP_FAILED",
	       mapped || set != 0 ? "" : e == EPERM ? ", EPERM" : e == EACCES ? ", EACCES" : ", other errno");
	if (mapped)
		munmap(p, LENGTH);
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	vt_init("buffer-libsmaf-suite");
	int secure_mmap_succeeds = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--secure-mmap") && i + 1 < argc && !strcmp(argv[i + 1], "succeed")) {
			secure_mmap_succeeds = 1;
			i++;
		} else if (!strcmp(argv[i], "--secure-mmap") && i + 1 < argc && !strcmp(argv[i + 1], "fail")) {
			secure_mmap_succeeds = 0;
			i++;
		} else {
			fprintf(stderr, "usage: %s [--secure-mmap succeed|fail]\n", argv[0]);
			return 2;
		}
	}
	printf("# buffer-libsmaf-suite: mmap of a secure buffer must %s\n", secure_mmap_succeeds ? "succeed" : "fail");

	int r = smaf_open();
	vt_check(r == 0, "smaf_open %s", vt_why(r));
	if (r != 0) {
		return vt_finish();
	}
	create_unnamed();
	iter_over_allocators();
	invalid_allocator_index();
	create_named_invalid();
	create_non_page_aligned();
	create_non_page_aligned_mmap();
	secure();
	test_mmap();
	mmap_secure(secure_mmap_succeeds);
	smaf_close();

	return vt_finish();
}

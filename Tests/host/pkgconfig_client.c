/* SPDX-License-Identifier: MIT */
/*
 * pkgconfig_client: a libsmaf user built from an installed tree with nothing
 * but `pkg-config --cflags --libs libsmaf` (Tests/host/make-install-tests.sh on the
 * host, Tests/vm/installed-tree/installed-tree-tests.sh in the VM). It includes the three installed
 * headers as system headers, so it also checks they stand on their own.
 *
 *   pkgconfig_client                create a buffer, map it, write and read it
 *                                   back, make it secure (testsecure)
 *   pkgconfig_client --deny-cpu     the same under --secure-module deny-cpu:
 *                                   once secure, a writable mapping is refused
 *   pkgconfig_client --expect-no-device
 *                                   only check that libsmaf loads and that
 *                                   smaf_open() fails cleanly (no /dev/smaf)
 *
 * The first line is "libsmaf: PATH", the library the dynamic linker loaded.
 * Exit status: 0 success, 1 failure.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libsmaf.h>
#include <smaf.h>
#include <smaf_ext.h>

#define LEN 65536

static int fail(const char *what)
{
	printf("FAIL: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	int deny = argc > 1 && strcmp(argv[1], "--deny-cpu") == 0;
	int no_device = argc > 1 && strcmp(argv[1], "--expect-no-device") == 0;
	Dl_info info;

	if (dladdr((void *)smaf_open, &info) && info.dli_fname)
		printf("libsmaf: %s\n", info.dli_fname);
	/* The uapi and extension headers are usable: their constants compile. */
	printf("SMAF_IOC_CREATE=%#lx SMAF_IOC_EXT_HANDOFF=%#lx\n",
	       (unsigned long)SMAF_IOC_CREATE, (unsigned long)SMAF_IOC_EXT_HANDOFF);

	if (no_device) {
		if (smaf_open() == 0) {
			printf("FAIL: smaf_open succeeded without a device\n");
			return 1;
		}
		printf("smaf_open: %s (as expected without a device)\n", strerror(errno));
		return 0;
	}

	if (smaf_open() != 0)
		return fail("smaf_open");
	int count = smaf_allocator_count();
	char *name = smaf_get_allocator_name(0);
	printf("allocators: %d, first: %s\n", count, name ? name : "(none)");
	if (count < 1 || !name)
		return fail("smaf_allocator_count/smaf_get_allocator_name");
	free(name);

	int fd = -1;
	if (smaf_create_buffer(LEN, SMAF_RDWR | SMAF_CLOEXEC, NULL, &fd) != 0 || fd < 0)
		return fail("smaf_create_buffer");
	unsigned char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap");
	for (int i = 0; i < LEN; i++)
		p[i] = (unsigned char)(i * 7 + 3);
	/* Read it back through a second mapping of the fd: the same memory.
	 * (Not read(2): a dma-buf, like the driver's buffers, has none.) */
	unsigned char *back = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
	if (back == MAP_FAILED)
		return fail("second mmap");
	if (memcmp(p, back, LEN) != 0) {
		printf("FAIL: the buffer does not hold what was written through the mapping\n");
		return 1;
	}
	munmap(back, LEN);
	printf("buffer fd %d: %d bytes mapped, written and read back\n", fd, LEN);
	if (deny && munmap(p, LEN) != 0)
		return fail("munmap");

	if (smaf_set_secure(fd, 1) != 0)
		return fail("smaf_set_secure");
	if (smaf_get_secure(fd) != 1) {
		printf("FAIL: smaf_get_secure is not 1 after smaf_set_secure(1)\n");
		return 1;
	}
	printf("secure: set and read back\n");
	if (deny) {
		void *w = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (w != MAP_FAILED) {
			printf("FAIL: deny-cpu: a writable mapping of a secure buffer succeeded\n");
			return 1;
		}
		printf("deny-cpu: writable mapping refused (%s)\n", strerror(errno));
	} else {
		munmap(p, LEN);
	}
	close(fd);
	smaf_close();
	printf("pkgconfig_client: ok\n");
	return 0;
}

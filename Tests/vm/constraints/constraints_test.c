/* SPDX-License-Identifier: MIT */
/*
 * constraints_test: constraint-aware allocation (smaf_create_buffer_for,
 * SMAF_IOC_EXT_CREATE_FOR) against real importers. Run by
 * Tests/vm/constraints/constraints-tests.sh in a VM with vivid (n_devs=2
 * allocators=0,1: instance 0 vmalloc, instance 1 dma-contig) and vgem;
 * prints "ok"/"FAIL" lines and "constraints-test ...: N passed, M failed".
 *
 *   constraints-test --contiguous-known
 *       udevd has tagged vivid instance 1 SMAF_DMA_CONTIGUOUS=1:
 *       a buffer for it captures a frame; one forced by name from a
 *       non-contiguous dma-buf allocator (NAME = --scatter NAME) is refused
 *       by its QBUF with EFAULT; a length beyond every contiguous allocator
 *       is EINVAL. With --none: no allocator here meets instance 1's needs
 *       (6.1: none is contiguous; 6.12: the contiguous one, hugetlb
 *       udmabuf, has wrong kernel mappings, and vivid draws through one),
 *       so even a frame-sized buffer for it is EINVAL, also together with
 *       vkms when vkms is loaded.
 *   constraints-test --sg
 *       a buffer for vivid instance 0 and vgem together is a dma-buf that
 *       instance 0 captures into and vgem imports.
 *   constraints-test --no-udev
 *       udev has no data: a buffer for instance 1 is still made (a dma-buf;
 *       no contiguity is known), nothing crashes.
 *   constraints-test --bad-input
 *       each bad device fd gets its documented errno, *fd = -1.
 *
 * The device is $SMAF_DEVICE or /dev/smaf.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libsmaf.h"
#include "smaf_vkms.h"
#include "../vmtest.h"
#include "../importers.h"

#define FRAME_TIMEOUT_MS 20000

static int is_dmabuf(int fd, char *exp, size_t cap)
{
	char name[64];
	return imp_fdinfo(fd, exp, cap, name, sizeof(name)) == 0 && exp[0];
}

/* Instance `inst`'s capture node, opened and set to its format: the fd, or
 * -errno. */
static int open_formatted(int inst)
{
	int v = imp_vivid_open(inst);
	if (v < 0)
		return v;
	long size = imp_vivid_format(v);
	if (size < 0) {
		close(v);
		return (int)size;
	}
	return v;
}

/* A capture into fd on instance `inst`: 0 or -errno of the failing step. */
static int capture(int inst, int fd, size_t length, const char **step)
{
	int v = open_formatted(inst);
	if (v < 0) {
		*step = "open";
		return v;
	}
	int r = imp_vivid_capture(v, fd, length, FRAME_TIMEOUT_MS, step);
	close(v);
	return r;
}

/* imp_contig_refusal's maker for the control: a buffer forced by name. */
struct by_name {
	const char *allocator;
	unsigned size;
};

static int make_by_name(void *ctx, int *fd)
{
	struct by_name *b = ctx;
	return smaf_create_buffer(b->size, SMAF_RDWR | SMAF_CLOEXEC, (char *)b->allocator, fd) == 0 ? 0 : -errno;
}

static long frame_size(int inst)
{
	int v = imp_vivid_open(inst);
	if (v < 0)
		return v;
	long size = imp_vivid_format(v);
	close(v);
	return size;
}

static void contiguous_known(const char *scatter, int none)
{
	long frame = frame_size(1);
	int v1 = imp_vivid_open(1);
	if (!vt_check(frame > 0 && v1 >= 0, "vivid instance 1: open and S_FMT (frame %ld bytes)", frame))
		return;
	int fd = -1;
	int r = smaf_create_buffer_for((unsigned)frame, SMAF_RDWR | SMAF_CLOEXEC, &v1, 1, &fd);
	int e = errno;
	if (none) {
		vt_check(r == -1 && e == EINVAL && fd == -1,
			 "no allocator here gives what the dma-contig node needs: a buffer for it is EINVAL (r=%d %s)", r,
			 r ? strerror(e) : "made");
		/* With vkms as well (a display that also reads through the kernel). */
		int card = imp_drm_open("vkms");
		if (card >= 0) {
			int devs[2] = { card, v1 };
			fd = -1;
			r = smaf_create_buffer_for((unsigned)frame, SMAF_RDWR | SMAF_CLOEXEC, devs, 2, &fd);
			e = errno;
			vt_check(r == -1 && e == EINVAL && fd == -1, "for vkms and the dma-contig node together: EINVAL too (r=%d %s)", r,
				 r ? strerror(e) : "made");
			close(card);
		}
	} else if (vt_check(r == 0 && fd >= 0, "smaf_create_buffer_for(%ld, dma-contig node) %s", frame, r ? strerror(e) : "ok")) {
		const char *step = "";
		int c = capture(1, fd, (size_t)frame, &step);
		vt_check(c == 0, "the dma-contig instance captures a frame into it (%s%s%s)", c ? step : "REQBUFS, QBUF, STREAMON, DQBUF ok",
			 c ? ": " : "", c ? strerror(-c) : "");
		close(fd);
	}
	/* The control: the same capture into a scatter-gather dma-buf forced by
	 * name, which the dma-contig instance must refuse at QBUF with EFAULT;
	 * its shmem pages are contiguous now and then by chance, so up to three
	 * buffers (imp_contig_refusal). */
	if (scatter) {
		struct by_name ctx = { scatter, (unsigned)frame };
		int v = open_formatted(1);
		if (vt_check(v >= 0, "vivid instance 1 opened and set to its format for the control %s",
			     v < 0 ? strerror(-v) : "")) {
			struct imp_contig_outcome o = imp_contig_refusal(v, (size_t)frame, FRAME_TIMEOUT_MS, make_by_name, &ctx);
			vt_check(o.refused, "the dma-contig instance refuses the %s buffer: QBUF EFAULT (%d accepted by chance before; "
				 "got %s %s)", scatter, o.accepted, o.step, o.last ? strerror(-o.last) : "success");
			close(v);
		}
	}
	/* Beyond every contiguous allocator (one huge page, 2 MiB here). */
	fd = -1;
	r = smaf_create_buffer_for(8u << 20, SMAF_RDWR, &v1, 1, &fd);
	e = errno;
	vt_check(r == -1 && e == EINVAL && fd == -1, "8 MiB for the dma-contig node: EINVAL, *fd = -1 (r=%d %s)", r,
		 r ? strerror(e) : "made");
	close(v1);
}

static void scatter_gather(void)
{
	long frame = frame_size(0);
	int devs[2] = { imp_vivid_open(0), imp_vgem_open() };
	if (!vt_check(frame > 0 && devs[0] >= 0 && devs[1] >= 0, "vivid instance 0 (frame %ld bytes) and vgem open", frame))
		return;
	int fd = -1;
	int r = smaf_create_buffer_for((unsigned)frame, SMAF_RDWR | SMAF_CLOEXEC, devs, 2, &fd);
	int e = errno;
	if (vt_check(r == 0, "smaf_create_buffer_for(%ld, vivid 0 + vgem) %s", frame, r ? strerror(e) : "ok")) {
		char exp[64] = "";
		vt_check(is_dmabuf(fd, exp, sizeof(exp)), "it is a dma-buf (exp_name %s), never a memfd", exp[0] ? exp : "none");
		unsigned char *p = mmap(NULL, (size_t)frame, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED)
			memset(p, 0, (size_t)frame);
		const char *step = "";
		int c = capture(0, fd, (size_t)frame, &step);
		vt_check(c == 0, "vivid instance 0 captures into it (%s)", c ? step : "ok");
		size_t nonzero = 0;
		for (long i = 0; p != MAP_FAILED && i < frame; i++)
			nonzero += p[i] != 0;
		vt_check(p != MAP_FAILED && nonzero > 0, "the CPU reads the frame through its mapping (%zu non-zero bytes)", nonzero);
		long h = imp_vgem_import(devs[1], fd);
		vt_check(h > 0, "vgem imports it (handle %ld)", h);
		if (h > 0)
			imp_gem_close(devs[1], (uint32_t)h);
		if (p != MAP_FAILED)
			munmap(p, (size_t)frame);
		close(fd);
	}
	close(devs[0]);
	close(devs[1]);
}

static void no_udev(void)
{
	int v1 = imp_vivid_open(1);
	if (!vt_check(v1 >= 0, "vivid instance 1 opens"))
		return;
	for (int i = 0; i < 2; i++) {
		int fd = -1;
		int r = smaf_create_buffer_for(460800, SMAF_RDWR | SMAF_CLOEXEC, &v1, 1, &fd);
		int e = errno;
		char exp[64] = "";
		vt_check(r == 0 && is_dmabuf(fd, exp, sizeof(exp)),
			 "call %d: without udev data a buffer for the dma-contig node is still made, a dma-buf (%s)", i + 1,
			 r ? strerror(e) : exp);
		if (fd >= 0)
			close(fd);
	}
	close(v1);
}

static void expect_errno(const char *what, const int *fds, unsigned n, int want)
{
	int fd = 12345;
	int r = smaf_create_buffer_for(65536, SMAF_RDWR, fds, n, &fd);
	int e = errno;
	vt_check(r == -1 && e == want && fd == -1, "%s: %s, *fd = -1 (got r=%d %s, fd %d)", what, strerror(want), r,
		 r ? strerror(e) : "success", fd);
}

static void bad_input(void)
{
	int v0 = imp_vivid_open(0);
	/* A number far above anything opened below, so nothing reuses it. */
	int closed = fcntl(v0, F_DUPFD_CLOEXEC, 900);
	close(closed);
	int many[SMAF_EXT_MAX_DEVICES + 1];
	for (int i = 0; i <= SMAF_EXT_MAX_DEVICES; i++)
		many[i] = v0;
	char path[] = "/tmp/constraints-test-XXXXXX";
	int file = mkstemp(path);
	unlink(path);
	int pipefd[2];
	if (pipe(pipefd) != 0)
		pipefd[0] = pipefd[1] = -1;
	expect_errno("a closed fd", &closed, 1, EBADF);
	expect_errno("fd -1", (int[]){ -1 }, 1, EBADF);
	expect_errno("a regular file", &file, 1, ENODEV);
	expect_errno("a pipe", &pipefd[0], 1, ENODEV);
	expect_errno("17 devices (the struct holds 16)", many, SMAF_EXT_MAX_DEVICES + 1, E2BIG);
	expect_errno("a good device, then a closed fd", (int[]){ v0, closed }, 2, EBADF);
	int fd = -1;
	vt_check(smaf_create_buffer_for(65536, SMAF_RDWR, many, SMAF_EXT_MAX_DEVICES, &fd) == 0,
		 "16 devices (the same node 16 times) is fine");
	if (fd >= 0)
		close(fd);
	fd = -1;
	vt_check(smaf_create_buffer_for(65536, SMAF_RDWR, NULL, 0, &fd) == 0 && fd >= 0,
		 "no devices: like an unnamed smaf_create_buffer()");
	if (fd >= 0)
		close(fd);
	close(file);
	close(pipefd[0]);
	close(pipefd[1]);
	close(v0);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	char title[128];
	snprintf(title, sizeof(title), "constraints-test %s", mode);
	vt_init(title);
	if (smaf_open() != 0) {
		vt_check(0, "smaf_open: %s", strerror(errno));
		return vt_finish();
	}
	if (!strcmp(mode, "--contiguous-known")) {
		const char *scatter = NULL;
		int none = 0;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--none"))
				none = 1;
			else if (!strcmp(argv[i], "--scatter") && i + 1 < argc)
				scatter = argv[++i];
		}
		contiguous_known(scatter, none);
	}
	else if (!strcmp(mode, "--sg"))
		scatter_gather();
	else if (!strcmp(mode, "--no-udev"))
		no_udev();
	else if (!strcmp(mode, "--bad-input"))
		bad_input();
	else {
		fprintf(stderr, "usage: constraints-test --contiguous-known [--none] [--scatter NAME] | --sg | --no-udev | --bad-input\n");
		return 2;
	}
	smaf_close();
	return vt_finish();
}

/* SPDX-License-Identifier: MIT */
/*
 * dmabuf_direct: buffers made straight from the kernel, without smafd, and
 * what the importers do with them - the facts of docs/allocators.md's 'What the importers say' as
 * checks, so importers.h and dmabuf_routes.h are known to work on each
 * kernel before smafd's buffers are judged with them.  Prints "ok"/"FAIL"
 * lines and "dmabuf-direct: N passed, M failed".
 *
 *   dmabuf_direct        (in a VM booted with --modules vivid,vgem,
 *                         vivid.n_devs=2 vivid.allocators=0,1, hugepages=N)
 *
 * For every route of dmabuf_routes.h: a dma-buf route gives an fd whose
 * fdinfo names its exporter, takes a name (DMA_BUF_SET_NAME_B), maps
 * read-write, syncs (DMA_BUF_IOCTL_SYNC), is imported by vgem and receives
 * a frame from vivid instance 0 that the CPU reads through its mapping;
 * a memfd or memfd_secret is none of that and both importers refuse it.
 * Instance 1 (dma-contig) takes the hugetlb udmabuf and refuses the shmem
 * one with EFAULT.  And the fact smafd's bookkeeping rests on: an inotify
 * watch on a dma-buf whose last reference is a vgem handle sees one
 * IN_CLOSE_WRITE when that handle closes, and nothing before.
 *
 * A route the kernel lacks (6.1 has no udmabuf and no heaps) is reported on
 * a "#" line; on 6.12 ($SMAF_VM_KERNEL or uname 6.12*) every route must
 * exist and pass.  vgem, vivid, memfd and memfd_secret must exist
 * everywhere.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../vmtest.h"
#include "dmabuf_routes.h"
#include "buffer_checks.h"

#define FRAME_TIMEOUT_MS 20000

static int strict_kernel; /* 6.12: every route must be there */
static long sizeimage = 460800;

static int kernel_is_612(void)
{
	const char *k = getenv("SMAF_VM_KERNEL");
	struct utsname u;
	if ((!k || !*k) && uname(&u) == 0)
		k = u.release;
	return k && !strncmp(k, "6.12", 4);
}

static long huge_pages_total(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	long n = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Total: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* The inotify events (mask of all) that arrive on ifd within ms. */
static uint32_t events_within(int ifd, int ms)
{
	uint32_t mask = 0;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	while (vt_readable(ifd, ms)) {
		ssize_t n = read(ifd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *q = buf; q < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)q;
			mask |= ev->mask;
			q += sizeof(*ev) + ev->len;
		}
		ms = 100; /* whatever follows at once */
	}
	return mask;
}

/* A dma-buf whose last reference is a vgem handle lives until the handle
 * closes: a watch added through /proc/self/fd sees nothing when the fd and
 * the mapping go, and IN_CLOSE_WRITE when the handle does. */
static void check_lifetime(enum dr_route route, int drm)
{
	const char *rn = dr_name(route);
	int fd;
	if (dr_create(route, 65536, &fd) != 0)
		return; /* check_route has said why */
	int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int wd = ifd >= 0 ? inotify_add_watch(ifd, path, IN_ALL_EVENTS) : -1;
	if (!vt_check(wd >= 0, "%s lifetime: inotify watch through %s %s", rn, path, vt_why(wd < 0))) {
		close(fd);
		if (ifd >= 0)
			close(ifd);
		return;
	}
	void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED)
		memset(p, 0x5A, 65536);
	long h = imp_vgem_import(drm, fd);
	vt_check(h > 0, "%s lifetime: vgem imports a 64 KiB buffer %s", rn, h < 0 ? vt_errname((int)-h) : "");
	close(fd);
	if (p != MAP_FAILED)
		munmap(p, 65536);
	uint32_t m = events_within(ifd, 300);
	vt_check(h <= 0 || !(m & (IN_CLOSE_WRITE | IN_DELETE_SELF | IN_IGNORED)),
		 "%s lifetime: fd and mapping gone, the vgem handle keeps it: no close event (mask 0x%x)", rn, m);
	if (h > 0) {
		int r = imp_gem_close(drm, (uint32_t)h);
		m = events_within(ifd, 1000);
		vt_check(r == 0 && (m & IN_CLOSE_WRITE) && !(m & IN_DELETE_SELF),
			 "%s lifetime: closing the handle releases it: IN_CLOSE_WRITE, no IN_DELETE_SELF (mask 0x%x) %s", rn, m,
			 r ? vt_errname(-r) : "");
	}
	close(ifd);
}

/* imp_contig_refusal's maker for the udmabuf route: the buffer already
 * checked (a dup, since the helper closes what it offers), then new ones. */
struct next_udmabuf {
	int first;
	size_t size;
};

static int make_next_udmabuf(void *ctx, int *fd)
{
	struct next_udmabuf *n = ctx;
	if (n->first < 0)
		return dr_udmabuf_over(n->size, 0, fd);
	*fd = dup(n->first);
	n->first = -1;
	return *fd < 0 ? -errno : 0;
}

static void check_route(enum dr_route route, int drm, int vivid0, int vivid1)
{
	const char *rn = dr_name(route);
	int fd;
	int r = dr_create(route, (size_t)sizeimage, &fd);
	if (r && dr_missing(r) && !strict_kernel &&
	    (route == DR_UDMABUF || route == DR_UDMABUF_HUGETLB || route == DR_HEAP_SYSTEM)) {
		vt_note("%s: this kernel lacks the route (%s); nothing to check", rn, vt_errname(-r));
		return;
	}
	if (r && route == DR_UDMABUF_HUGETLB && huge_pages_total() == 0) {
		vt_check(0, "%s: no huge page is reserved: boot with hugepages=N (%s)", rn, vt_errname(-r));
		return;
	}
	if (!vt_check(r == 0, "%s: create %ld bytes %s", rn, sizeimage, r ? vt_errname(-r) : ""))
		return;
	long size = imp_size(fd);
	vt_check(size >= sizeimage, "%s: the fd has %ld bytes (>= %ld)", rn, size, sizeimage);
	if (size < sizeimage)
		size = sizeimage;

	char exp[64], name[128];
	r = imp_fdinfo(fd, exp, sizeof(exp), name, sizeof(name));
	int dmabuf = dr_is_dmabuf(route);
	if (dmabuf) {
		vt_check(r == 0 && !strcmp(exp, dr_exporter(route)), "%s: a dma-buf, fdinfo exp_name '%s' (want '%s') %s", rn,
			 exp, dr_exporter(route), r ? vt_errname(-r) : "");
		char want[32];
		snprintf(want, sizeof(want), "direct:%s", rn);
		r = imp_set_name(fd, want);
		imp_fdinfo(fd, NULL, 0, name, sizeof(name));
		vt_check(r == 0 && !strcmp(name, want), "%s: DMA_BUF_SET_NAME_B '%s' shows in fdinfo ('%s') %s", rn, want, name,
			 r ? vt_errname(-r) : "");
	} else {
		vt_check(r == -ENOENT, "%s: not a dma-buf, no exp_name in fdinfo (%s)", rn, r ? vt_errname(-r) : exp);
	}

	bc_check_buffer(rn, fd, (size_t)size, (size_t)sizeimage, dmabuf, route == DR_UDMABUF_HUGETLB, drm, vivid0);

	if (vivid1 >= 0 && route == DR_UDMABUF_HUGETLB) {
		const char *step;
		r = imp_vivid_capture(vivid1, fd, (size_t)size, FRAME_TIMEOUT_MS, &step);
		vt_check(r == 0, "%s: vivid instance 1 (dma-contig) accepts it: one huge page is contiguous %s %s", rn, step,
			 r ? vt_errname(-r) : "");
	} else if (vivid1 >= 0 && route == DR_UDMABUF) {
		/* Shmem pages are contiguous now and then by chance: this buffer
		 * first, then up to two more (imp_contig_refusal). */
		struct next_udmabuf next = { fd, (size_t)size };
		struct imp_contig_outcome o = imp_contig_refusal(vivid1, (size_t)size, FRAME_TIMEOUT_MS, make_next_udmabuf, &next);
		vt_check(o.refused, "%s: vivid instance 1 (dma-contig) refuses it at QBUF with EFAULT: not contiguous "
			 "(%d accepted by chance before; last: %s %s)", rn, o.accepted, o.step,
			 o.last ? vt_errname(-o.last) : "captured");
	} else if (vivid1 >= 0 && dmabuf) {
		const char *step;
		r = imp_vivid_capture(vivid1, fd, (size_t)size, FRAME_TIMEOUT_MS, &step);
		vt_note("%s: vivid instance 1 (dma-contig): %s %s (contiguous by chance only; not a check)", rn,
			r ? step : "accepted", r ? vt_errname(-r) : "");
	}

	close(fd);
}

int main(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: dmabuf-direct (no arguments; see the source)\n");
		return 2;
	}
	vt_init("dmabuf-direct");
	strict_kernel = kernel_is_612();
	vt_note("kernel %s: %s; %ld huge pages reserved", getenv("SMAF_VM_KERNEL") ? getenv("SMAF_VM_KERNEL") : "?",
		strict_kernel ? "every route must exist" : "udmabuf and heap routes may be missing", huge_pages_total());

	int drm = imp_vgem_open();
	vt_check(drm >= 0, "vgem's card node is found by its driver name %s", drm < 0 ? vt_errname(-drm) : "");
	int vivid0 = imp_vivid_open(0), vivid1 = imp_vivid_open(1);
	vt_check(vivid0 >= 0, "vivid-000-vid-cap is found by its sysfs name %s", vivid0 < 0 ? vt_errname(-vivid0) : "");
	vt_check(vivid1 >= 0, "vivid-001-vid-cap is found by its sysfs name (load vivid with n_devs=2 allocators=0,1) %s",
		 vivid1 < 0 ? vt_errname(-vivid1) : "");
	if (vivid0 >= 0) {
		long s = imp_vivid_format(vivid0);
		vt_check(s > 0, "vivid instance 0 takes 640x360 YUYV, sizeimage %ld %s", s, s < 0 ? vt_errname((int)-s) : "");
		if (s > 0)
			sizeimage = s;
	}
	if (vivid1 >= 0) {
		long s = imp_vivid_format(vivid1);
		vt_check(s == sizeimage, "vivid instance 1 takes the same format, sizeimage %ld %s", s,
			 s < 0 ? vt_errname((int)-s) : "");
	}

	for (int r = 0; r < DR_COUNT; r++) {
		printf("# --- %s\n", dr_name((enum dr_route)r));
		check_route((enum dr_route)r, drm, vivid0, vivid1);
		if (drm >= 0 && dr_is_dmabuf((enum dr_route)r))
			check_lifetime((enum dr_route)r, drm);
	}

	if (drm >= 0)
		close(drm);
	if (vivid0 >= 0)
		close(vivid0);
	if (vivid1 >= 0)
		close(vivid1);
	return vt_finish();
}

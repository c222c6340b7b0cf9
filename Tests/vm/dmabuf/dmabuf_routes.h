/* SPDX-License-Identifier: MIT */
/*
 * dmabuf_routes.h - every way a userspace process can get a buffer fd
 * straight from the kernel, without smafd (docs/allocators.md's 'What the importers say'): the three
 * dma-buf exporters (udmabuf over shmem or hugetlb memfds, dma-buf heaps,
 * vgem dumb buffers) and the two CPU-only kinds (memfd, memfd_secret).
 * Used by dmabuf_direct.c (what the importers do with each) and meant for
 * the benchmark's "direct export" side too, so each route is one function:
 *
 *   dr_create(route, size, &fd)   0 and an fd of at least size bytes, or -errno
 *
 * (dr_udmabuf_on, dr_heap_on and dr_vgem_on take the exporter's device
 * already open, as a client that keeps it open would: the benchmark times
 * the export itself, not an open+close around it.)
 *
 * -ENODEV / -ENOENT / -ENOSYS mean the kernel lacks the route (no
 * /dev/udmabuf, no heap, no vgem loaded, no memfd_secret); dr_missing()
 * tells these from real failures.  Header-only, static inline.
 */
#ifndef SMAF_DMABUF_ROUTES_H
#define SMAF_DMABUF_ROUTES_H

#ifndef _GNU_SOURCE
#error "build with -D_GNU_SOURCE (the Makefile does): O_CLOEXEC, struct timespec, memfd_create"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/dma-heap.h>
#include <linux/memfd.h>
#include <linux/udmabuf.h>

#include "../importers.h"

#ifndef F_SEAL_SHRINK
#define F_SEAL_SHRINK 0x0002
#endif
#define DR_HUGE_PAGE (2u << 20)

enum dr_route {
	DR_UDMABUF,         /* /dev/udmabuf over a sealed shmem memfd */
	DR_UDMABUF_HUGETLB, /* /dev/udmabuf over a hugetlb memfd (2 MiB pages) */
	DR_HEAP_SYSTEM,     /* /dev/dma_heap/system */
	DR_VGEM,            /* vgem dumb buffer, PRIME-exported */
	DR_MEMFD,           /* plain memfd: not a dma-buf */
	DR_SECRETMEM,       /* memfd_secret: not a dma-buf */
	DR_COUNT
};

static inline const char *dr_name(enum dr_route r)
{
	static const char *const names[DR_COUNT] = { "udmabuf", "udmabuf-hugetlb", "heap-system",
						     "vgem",    "memfd",           "secretmem" };
	return (unsigned)r < DR_COUNT ? names[r] : "?";
}

/* Does the route export a dma-buf (as opposed to a CPU-only fd)? */
static inline int dr_is_dmabuf(enum dr_route r)
{
	return r != DR_MEMFD && r != DR_SECRETMEM;
}

/* The exp_name fdinfo shows for the route's dma-bufs. */
static inline const char *dr_exporter(enum dr_route r)
{
	switch (r) {
	case DR_UDMABUF:
	case DR_UDMABUF_HUGETLB: return "udmabuf";
	case DR_HEAP_SYSTEM: return "system";
	case DR_VGEM: return "drm";
	default: return "";
	}
}

/* An error that means "this kernel has no such route". */
static inline int dr_missing(int r)
{
	return r == -ENODEV || r == -ENOENT || r == -ENOSYS;
}

static inline size_t dr_round(size_t n, size_t unit)
{
	return (n + unit - 1) / unit * unit;
}

/* udmabuf over a fresh memfd (hugetlb: rounded up to whole 2 MiB pages,
 * else shmem), the first size bytes of it, made through dev, an open
 * /dev/udmabuf.  udmabuf wants F_SEAL_SHRINK and no F_SEAL_WRITE; it keeps
 * the pages after the memfd is closed. */
static inline int dr_udmabuf_on(int dev, size_t size, int hugetlb, int *out)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size = dr_round(size, page);
	size_t mlen = hugetlb ? dr_round(size, DR_HUGE_PAGE) : size;
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING | (hugetlb ? MFD_HUGETLB | MFD_HUGE_2MB : 0);
	int mfd = memfd_create(hugetlb ? "dr-udmabuf-hugetlb" : "dr-udmabuf", flags);
	int r = 0;
	if (mfd < 0)
		r = -errno;
	else if (ftruncate(mfd, (off_t)mlen) != 0)
		r = -errno; /* hugetlb: ENOMEM... when no huge page is reserved */
	else if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK) != 0)
		r = -errno;
	if (r == 0) {
		struct udmabuf_create c = { .memfd = (uint32_t)mfd, .flags = UDMABUF_FLAGS_CLOEXEC, .offset = 0, .size = size };
		int fd = ioctl(dev, UDMABUF_CREATE, &c);
		if (fd < 0)
			r = -errno;
		else
			*out = fd;
	}
	if (mfd >= 0)
		close(mfd);
	return r;
}

static inline int dr_udmabuf_over(size_t size, int hugetlb, int *out)
{
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	int r = dr_udmabuf_on(dev, size, hugetlb, out);
	close(dev);
	return r;
}

/* DMA_HEAP_IOCTL_ALLOC on h, an open /dev/dma_heap/<heap>. */
static inline int dr_heap_on(int h, size_t size, int *out)
{
	struct dma_heap_allocation_data a = { .len = size, .fd_flags = O_RDWR | O_CLOEXEC };
	if (ioctl(h, DMA_HEAP_IOCTL_ALLOC, &a) != 0)
		return -errno;
	*out = (int)a.fd;
	return 0;
}

/* The same on /dev/dma_heap/<heap>, opened for the one call. */
static inline int dr_heap(const char *heap, size_t size, int *out)
{
	char path[128];
	snprintf(path, sizeof(path), "/dev/dma_heap/%s", heap);
	int h = open(path, O_RDONLY | O_CLOEXEC);
	if (h < 0)
		return -errno;
	int r = dr_heap_on(h, size, out);
	close(h);
	return r;
}

/* A vgem dumb buffer of at least size bytes (32 bpp, 1024 pixels a row),
 * exported with DRM_CLOEXEC|DRM_RDWR; the GEM handle is closed again, so
 * the dma-buf fd is the only reference.  drm: from imp_vgem_open(). */
static inline int dr_vgem_on(int drm, size_t size, int *out)
{
	struct drm_mode_create_dumb c;
	memset(&c, 0, sizeof(c));
	c.width = 1024;
	c.bpp = 32;
	c.height = (uint32_t)((size + 4095) / 4096);
	if (ioctl(drm, DRM_IOCTL_MODE_CREATE_DUMB, &c) != 0)
		return -errno;
	struct drm_prime_handle p = { .handle = c.handle, .flags = DRM_CLOEXEC | DRM_RDWR, .fd = -1 };
	int r = ioctl(drm, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p) == 0 ? 0 : -errno;
	imp_gem_close(drm, c.handle);
	if (r == 0)
		*out = p.fd;
	return r;
}

static inline int dr_vgem(size_t size, int *out)
{
	int drm = imp_vgem_open();
	if (drm < 0)
		return drm;
	int r = dr_vgem_on(drm, size, out);
	close(drm);
	return r;
}

/* A memfd of size bytes (page-rounded), sealed against shrinking and
 * growing, as smafd's CPU-only buffers are. */
static inline int dr_memfd(size_t size, int *out)
{
	size = dr_round(size, (size_t)sysconf(_SC_PAGESIZE));
	int fd = memfd_create("dr-memfd", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*out = fd;
	return 0;
}

/* memfd_secret (ENOSYS where the kernel lacks it or it is not enabled:
 * 6.1 wants secretmem.enable=1). */
static inline int dr_secretmem(size_t size, int *out)
{
#ifdef SYS_memfd_secret
	size = dr_round(size, (size_t)sysconf(_SC_PAGESIZE));
	int fd = (int)syscall(SYS_memfd_secret, (unsigned long)O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*out = fd;
	return 0;
#else
	(void)size;
	(void)out;
	return -ENOSYS;
#endif
}

static inline int dr_create(enum dr_route r, size_t size, int *out)
{
	*out = -1;
	switch (r) {
	case DR_UDMABUF: return dr_udmabuf_over(size, 0, out);
	case DR_UDMABUF_HUGETLB: return dr_udmabuf_over(size, 1, out);
	case DR_HEAP_SYSTEM: return dr_heap("system", size, out);
	case DR_VGEM: return dr_vgem(size, out);
	case DR_MEMFD: return dr_memfd(size, out);
	case DR_SECRETMEM: return dr_secretmem(size, out);
	default: return -EINVAL;
	}
}

#endif

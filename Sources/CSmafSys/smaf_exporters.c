/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "smaf_exporters.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <libdrm/drm.h>
#include <libdrm/drm_mode.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif
#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

/* ioctl that retries when a signal interrupted it (DRM ioctls may be). */
static int xioctl(int fd, unsigned long request, void *arg)
{
	int r;
	do {
		r = ioctl(fd, request, arg);
	} while (r < 0 && errno == EINTR);
	return r;
}

int smaf_sys_memfd_hugetlb(const char *name, unsigned int huge_log2)
{
	return memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | (huge_log2 << MFD_HUGE_SHIFT));
}

int smaf_sys_memfd_secret(void)
{
	return (int)syscall(SYS_memfd_secret, O_CLOEXEC);
}

int smaf_sys_heap_alloc(int heap_fd, uint64_t len, int read_write)
{
	struct dma_heap_allocation_data d;
	memset(&d, 0, sizeof(d));
	d.len = len;
	d.fd_flags = O_CLOEXEC | (read_write ? O_RDWR : O_RDONLY);
	if (xioctl(heap_fd, DMA_HEAP_IOCTL_ALLOC, &d) < 0)
		return -1;
	return (int)d.fd;
}

int smaf_sys_udmabuf_create(int udmabuf_fd, int memfd, uint64_t size)
{
	struct udmabuf_create c;
	memset(&c, 0, sizeof(c));
	c.memfd = (uint32_t)memfd;
	c.flags = UDMABUF_FLAGS_CLOEXEC;
	c.offset = 0;
	c.size = size;
	return xioctl(udmabuf_fd, UDMABUF_CREATE, &c);
}

int smaf_sys_drm_driver_name(int drm_fd, char *buf, size_t len)
{
	struct drm_version v;
	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	memset(&v, 0, sizeof(v));
	v.name = buf;
	v.name_len = len - 1;
	if (xioctl(drm_fd, DRM_IOCTL_VERSION, &v) < 0)
		return -1;
	buf[v.name_len < len - 1 ? v.name_len : len - 1] = 0;
	return 0;
}

int smaf_sys_drm_drop_master(int drm_fd)
{
	return xioctl(drm_fd, DRM_IOCTL_DROP_MASTER, NULL);
}

int smaf_sys_drm_dumb_dmabuf(int drm_fd, uint64_t len, uint64_t page_size, int read_write)
{
	struct drm_mode_create_dumb create;
	struct drm_prime_handle prime;
	struct drm_gem_close gem_close;
	int saved;

	/* One row per page of 8-bit pixels: size = pitch * height = len exactly. */
	if (page_size == 0 || len == 0 || len % page_size != 0 || len / page_size > UINT32_MAX ||
	    page_size > UINT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(&create, 0, sizeof(create));
	create.width = (uint32_t)page_size;
	create.height = (uint32_t)(len / page_size);
	create.bpp = 8;
	if (xioctl(drm_fd, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0)
		return -1;
	memset(&prime, 0, sizeof(prime));
	prime.handle = create.handle;
	prime.flags = DRM_CLOEXEC | (read_write ? DRM_RDWR : 0);
	prime.fd = -1;
	int r = xioctl(drm_fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime);
	saved = errno;
	memset(&gem_close, 0, sizeof(gem_close));
	gem_close.handle = create.handle;
	(void)xioctl(drm_fd, DRM_IOCTL_GEM_CLOSE, &gem_close);
	if (r < 0) {
		errno = saved;
		return -1;
	}
	if (create.size < len) { /* a driver that padded down: never hand it out */
		close(prime.fd);
		errno = ENOMEM;
		return -1;
	}
	return prime.fd;
}

int smaf_sys_dmabuf_set_name(int dmabuf_fd, const char *name)
{
	char buf[DMA_BUF_NAME_LEN];
	memset(buf, 0, sizeof(buf));
	strncpy(buf, name, sizeof(buf) - 1);
	return xioctl(dmabuf_fd, DMA_BUF_SET_NAME_B, buf);
}

int smaf_sys_dmabuf_exp_name(int fd, char *buf, size_t len)
{
	char path[64], text[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	ssize_t n = read(f, text, sizeof(text) - 1);
	close(f);
	if (n < 0)
		return -1;
	text[n] = 0;
	char *p = strstr(text, "exp_name:");
	if (!p || len == 0) {
		errno = ENOTTY;
		return -1;
	}
	p += strlen("exp_name:");
	while (*p == ' ' || *p == '\t')
		p++;
	size_t i = 0;
	while (p[i] && p[i] != '\n' && i + 1 < len) {
		buf[i] = p[i];
		i++;
	}
	buf[i] = 0;
	return 0;
}

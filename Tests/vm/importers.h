/* SPDX-License-Identifier: MIT */
/*
 * importers.h - the dma-buf side of the VM tier: what a dma-buf fd is
 * (fdinfo), what it does (DMA_BUF_IOCTL_SYNC, DMA_BUF_SET_NAME_B), and the
 * two in-kernel importers the test VMs load (vm/smaf-vm --modules vivid,vgem
 * --module-param vivid.n_devs=2 --module-param vivid.allocators=0,1):
 *
 *   vgem   a DRM driver without hardware: DRM_IOCTL_PRIME_FD_TO_HANDLE
 *          imports any dma-buf (and refuses anything else with EINVAL);
 *   vivid  a V4L2 test driver: its capture node takes a dma-buf as a frame
 *          buffer (V4L2_MEMORY_DMABUF) and draws a test pattern into it.
 *          Instance 0 uses vb2-vmalloc (any dma-buf, drawn through a vmap),
 *          instance 1 vb2-dma-contig (the buffer must be physically
 *          contiguous, else VIDIOC_QBUF fails with EFAULT).
 *
 * Every function returns 0 (or a non-negative result) on success and
 * -errno on failure, so callers can print vt_errname(-r).  Header-only,
 * static inline, no SMAF headers: usable from any VM-tier program.
 */
#ifndef SMAF_IMPORTERS_H
#define SMAF_IMPORTERS_H

#ifndef _GNU_SOURCE
#error "build with -D_GNU_SOURCE (the Makefile does): O_CLOEXEC, struct timespec, memfd_create"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/videodev2.h>
/* Debian ships the DRM uapi with libdrm-dev (/usr/include/libdrm), not with
 * linux-libc-dev; drm.h includes drm_mode.h (CREATE_DUMB). */
#include <libdrm/drm.h>

/* ---- dma-buf fds ----------------------------------------------------------- */

/* The exp_name (exporter) and name lines of /proc/self/fdinfo/fd.  0 if fd
 * is a dma-buf (it has exp_name), -ENOENT if it is something else, -errno
 * if fdinfo cannot be read.  exp / name get "" when absent (either may be
 * NULL). */
static inline int imp_fdinfo(int fd, char *exp, size_t exp_cap, char *name, size_t name_cap)
{
	char path[64], line[512];
	if (exp && exp_cap)
		exp[0] = '\0';
	if (name && name_cap)
		name[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int found = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *v = strchr(line, ':');
		if (!v)
			continue;
		*v++ = '\0';
		v += strspn(v, " \t");
		if (!strcmp(line, "exp_name")) {
			found = 1;
			if (exp && exp_cap)
				snprintf(exp, exp_cap, "%s", v);
		} else if (!strcmp(line, "name")) {
			if (name && name_cap)
				snprintf(name, name_cap, "%s", v);
		}
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

/* The size of a dma-buf (lseek(SEEK_END), the offset restored) or of
 * another file (fstat: memfd_secret cannot seek). */
static inline long imp_size(int fd)
{
	off_t cur = lseek(fd, 0, SEEK_CUR);
	off_t end = lseek(fd, 0, SEEK_END);
	if (end >= 0) {
		if (cur >= 0)
			lseek(fd, cur, SEEK_SET);
		return (long)end;
	}
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	return (long)st.st_size;
}

/* DMA_BUF_IOCTL_SYNC start then end, for rw (DMA_BUF_SYNC_RW and friends). */
static inline int imp_sync(int fd, unsigned long long rw)
{
	struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_START | rw };
	if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) != 0)
		return -errno;
	s.flags = DMA_BUF_SYNC_END | rw;
	if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) != 0)
		return -errno;
	return 0;
}

/* DMA_BUF_SET_NAME_B (the kernel keeps up to DMA_BUF_NAME_LEN - 1 bytes). */
static inline int imp_set_name(int fd, const char *name)
{
	return ioctl(fd, DMA_BUF_SET_NAME_B, name) == 0 ? 0 : -errno;
}

/* ---- vgem ------------------------------------------------------------------ */

/* The DRM driver name of a card node (DRM_IOCTL_VERSION) into buf. */
static inline int imp_drm_driver(int drm, char *buf, size_t cap)
{
	struct drm_version v;
	memset(&v, 0, sizeof(v));
	memset(buf, 0, cap);
	v.name = buf;
	v.name_len = cap - 1;
	if (ioctl(drm, DRM_IOCTL_VERSION, &v) != 0)
		return -errno;
	return 0;
}

/* An O_RDWR fd on the card node whose DRM driver is `driver` (found by its
 * name, never by number), or -ENODEV if none (-errno of the last failed
 * open). */
static inline int imp_drm_open(const char *driver)
{
	DIR *d = opendir("/dev/dri");
	if (!d)
		return -errno;
	int result = -ENODEV;
	struct dirent *e;
	while (result < 0 && (e = readdir(d))) {
		if (strncmp(e->d_name, "card", 4))
			continue;
		char path[300], drv[64];
		snprintf(path, sizeof(path), "/dev/dri/%s", e->d_name);
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			result = -errno;
			continue;
		}
		if (imp_drm_driver(fd, drv, sizeof(drv)) == 0 && !strcmp(drv, driver))
			result = fd;
		else
			close(fd);
	}
	closedir(d);
	return result;
}

/* vgem's card node (imp_drm_open). */
static inline int imp_vgem_open(void)
{
	return imp_drm_open("vgem");
}

/* DRM_IOCTL_PRIME_FD_TO_HANDLE: the GEM handle (> 0) vgem holds on the
 * dma-buf behind fd, or -errno (EINVAL for what is not a dma-buf). */
static inline long imp_vgem_import(int drm, int fd)
{
	struct drm_prime_handle h = { .fd = fd };
	if (ioctl(drm, DRM_IOCTL_PRIME_FD_TO_HANDLE, &h) != 0)
		return -errno;
	return (long)h.handle;
}

/* DRM_IOCTL_GEM_CLOSE: drops the importer's reference. */
static inline int imp_gem_close(int drm, uint32_t handle)
{
	struct drm_gem_close c = { .handle = handle };
	return ioctl(drm, DRM_IOCTL_GEM_CLOSE, &c) == 0 ? 0 : -errno;
}

/* ---- vivid ----------------------------------------------------------------- */

#define IMP_WIDTH 640
#define IMP_HEIGHT 360

/* An O_RDWR fd on the V4L2 node whose sysfs name is `want` (vivid makes
 * several nodes per instance, numbered in creation order, so they are found
 * by name), or -ENODEV. */
static inline int imp_v4l2_open(const char *want)
{
	DIR *d = opendir("/sys/class/video4linux");
	if (!d)
		return -errno;
	int result = -ENODEV;
	struct dirent *e;
	while (result < 0 && (e = readdir(d))) {
		if (strncmp(e->d_name, "video", 5))
			continue;
		char path[320], name[64] = "";
		snprintf(path, sizeof(path), "/sys/class/video4linux/%s/name", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f))
			name[strcspn(name, "\n")] = '\0';
		fclose(f);
		if (strcmp(name, want))
			continue;
		snprintf(path, sizeof(path), "/dev/%s", e->d_name);
		int fd = open(path, O_RDWR | O_CLOEXEC);
		result = fd >= 0 ? fd : -errno;
	}
	closedir(d);
	return result;
}

/* vivid instance n's video capture node, "vivid-00N-vid-cap". */
static inline int imp_vivid_open(int instance)
{
	char want[32];
	snprintf(want, sizeof(want), "vivid-%03d-vid-cap", instance);
	return imp_v4l2_open(want);
}

/* VIDIOC_S_FMT 640x360 YUYV on a capture node: the frame size the driver
 * wants (sizeimage; 460800 on vivid), or -errno. */
static inline long imp_vivid_format(int vfd)
{
	struct v4l2_format f;
	memset(&f, 0, sizeof(f));
	f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	f.fmt.pix.width = IMP_WIDTH;
	f.fmt.pix.height = IMP_HEIGHT;
	f.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
	f.fmt.pix.field = V4L2_FIELD_NONE;
	if (ioctl(vfd, VIDIOC_S_FMT, &f) != 0)
		return -errno;
	return (long)f.fmt.pix.sizeimage;
}

/* ioctl() that retries on EINTR: 0 or -errno. */
static inline int imp_xioctl(int fd, unsigned long req, void *arg)
{
	int r;
	while ((r = ioctl(fd, req, arg)) != 0 && errno == EINTR)
		;
	return r == 0 ? 0 : -errno;
}

/* Captures one frame into the dma-buf fd (length bytes, at least the
 * sizeimage of imp_vivid_format) on the capture node vfd: REQBUFS DMABUF,
 * QBUF (the same fd into every buffer the driver asked for: vivid wants
 * two queued before it streams), STREAMON, DQBUF within timeout_ms,
 * STREAMOFF, REQBUFS 0.  0, or -errno of the first step that failed, whose
 * name goes to *step ("REQBUFS", "QBUF", "STREAMON", "DQBUF" (-ETIMEDOUT
 * when no frame came), "STREAMOFF"); the queue is released either way. */
static inline int imp_vivid_capture(int vfd, int fd, size_t length, int timeout_ms, const char **step)
{
	const char *dummy;
	if (!step)
		step = &dummy;
	*step = "";
	int streaming = 0, type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct v4l2_requestbuffers rb;
	memset(&rb, 0, sizeof(rb));
	rb.count = 1;
	rb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	rb.memory = V4L2_MEMORY_DMABUF;
	int r = imp_xioctl(vfd, VIDIOC_REQBUFS, &rb);
	if (r) {
		*step = "REQBUFS";
		return r;
	}
	if (rb.count == 0) {
		*step = "REQBUFS";
		r = -ENOMEM;
		goto release;
	}
	for (unsigned i = 0; i < rb.count; i++) {
		struct v4l2_buffer b;
		memset(&b, 0, sizeof(b));
		b.index = i;
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_DMABUF;
		b.m.fd = fd;
		b.length = (unsigned)length;
		r = imp_xioctl(vfd, VIDIOC_QBUF, &b);
		if (r) {
			*step = "QBUF";
			goto release;
		}
	}
	r = imp_xioctl(vfd, VIDIOC_STREAMON, &type);
	if (r) {
		*step = "STREAMON";
		goto release;
	}
	streaming = 1;
	struct pollfd p = { .fd = vfd, .events = POLLIN };
	int n;
	while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (n <= 0) {
		*step = "DQBUF";
		r = n == 0 ? -ETIMEDOUT : -errno;
		goto release;
	}
	struct v4l2_buffer b;
	memset(&b, 0, sizeof(b));
	b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b.memory = V4L2_MEMORY_DMABUF;
	r = imp_xioctl(vfd, VIDIOC_DQBUF, &b);
	if (r) {
		*step = "DQBUF";
		goto release;
	}
	if (b.flags & V4L2_BUF_FLAG_ERROR) {
		*step = "DQBUF";
		r = -EIO;
		goto release;
	}
release:
	if (streaming) {
		int e = imp_xioctl(vfd, VIDIOC_STREAMOFF, &type);
		if (e && !r) {
			*step = "STREAMOFF";
			r = e;
		}
	}
	memset(&rb, 0, sizeof(rb));
	rb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	rb.memory = V4L2_MEMORY_DMABUF;
	imp_xioctl(vfd, VIDIOC_REQBUFS, &rb);
	return r;
}

/* vivid draws a frame counter and a clock over its test pattern unless its
 * "OSD Text Mode" control (a vivid-private id, found here by name) is
 * "None" (menu index 2); without them two frames of the same format are
 * identical, so a capture can be compared with a reference byte for byte. */
static inline int imp_vivid_quiet(int vfd)
{
	struct v4l2_queryctrl q;
	memset(&q, 0, sizeof(q));
	q.id = V4L2_CTRL_FLAG_NEXT_CTRL;
	while (imp_xioctl(vfd, VIDIOC_QUERYCTRL, &q) == 0) {
		if (!strcmp((const char *)q.name, "OSD Text Mode")) {
			struct v4l2_control c = { .id = q.id, .value = 2 };
			return imp_xioctl(vfd, VIDIOC_S_CTRL, &c);
		}
		q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
	}
	return -ENOENT;
}

/* One frame captured into vivid's own buffer (V4L2_MEMORY_MMAP: memory the
 * driver allocated and maps correctly), copied into ref (at least `length`
 * bytes): what a dma-buf capture of the same format must hold. 0 or -errno. */
static inline int imp_vivid_reference(int vfd, unsigned char *ref, size_t length, int timeout_ms)
{
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE, r;
	struct v4l2_requestbuffers rb;
	memset(&rb, 0, sizeof(rb));
	rb.count = 2;
	rb.type = type;
	rb.memory = V4L2_MEMORY_MMAP;
	if ((r = imp_xioctl(vfd, VIDIOC_REQBUFS, &rb)))
		return r;
	void *maps[8] = { 0 };
	size_t lens[8] = { 0 };
	unsigned n = rb.count < 8 ? rb.count : 8;
	for (unsigned i = 0; i < n && r == 0; i++) {
		struct v4l2_buffer b;
		memset(&b, 0, sizeof(b));
		b.index = i;
		b.type = type;
		b.memory = V4L2_MEMORY_MMAP;
		if ((r = imp_xioctl(vfd, VIDIOC_QUERYBUF, &b)))
			break;
		maps[i] = mmap(NULL, b.length, PROT_READ, MAP_SHARED, vfd, b.m.offset);
		if (maps[i] == MAP_FAILED) {
			maps[i] = NULL;
			r = -errno;
			break;
		}
		lens[i] = b.length;
		r = imp_xioctl(vfd, VIDIOC_QBUF, &b);
	}
	if (r == 0)
		r = imp_xioctl(vfd, VIDIOC_STREAMON, &type);
	if (r == 0) {
		struct pollfd p = { .fd = vfd, .events = POLLIN };
		int k;
		while ((k = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
			;
		struct v4l2_buffer b;
		memset(&b, 0, sizeof(b));
		b.type = type;
		b.memory = V4L2_MEMORY_MMAP;
		if (k <= 0)
			r = k == 0 ? -ETIMEDOUT : -errno;
		else if ((r = imp_xioctl(vfd, VIDIOC_DQBUF, &b)) == 0) {
			if (b.index >= n || !maps[b.index] || lens[b.index] < length)
				r = -EINVAL;
			else
				memcpy(ref, maps[b.index], length);
		}
		imp_xioctl(vfd, VIDIOC_STREAMOFF, &type);
	}
	for (unsigned i = 0; i < n; i++)
		if (maps[i])
			munmap(maps[i], lens[i]);
	memset(&rb, 0, sizeof(rb));
	rb.type = type;
	rb.memory = V4L2_MEMORY_MMAP;
	imp_xioctl(vfd, VIDIOC_REQBUFS, &rb);
	return r;
}

/* Pages of the frame (length bytes) where a capture p differs from the
 * reference ref: 0 when the importer wrote every byte where it belongs. */
static inline size_t imp_pages_differing(const unsigned char *p, const unsigned char *ref, size_t length)
{
	size_t bad = 0;
	for (size_t off = 0; off < length; off += 4096)
		bad += memcmp(p + off, ref + off, length - off < 4096 ? length - off : 4096) != 0;
	return bad;
}

/* Stamps every 4 KiB page of p[0..n) with its own index, so that a page an
 * importer failed to write can never match a reference page by chance. */
static inline void imp_stamp_pages(unsigned char *p, size_t n)
{
	for (size_t off = 0; off < n; off += 4096) {
		size_t len = n - off < 4096 ? n - off : 4096;
		for (size_t i = 0; i < len; i++)
			p[off + i] = (unsigned char)(0xA5 ^ (off >> 12) ^ (i * 7));
	}
}

/* ---- a dma-contig importer refusing scatter-gather memory ------------------ */

/* Shmem pages are not contiguous by promise, only now and then by chance (a
 * freshly booted VM hands out runs of consecutive pages), and no userspace
 * view shows a udmabuf's page frames (its mappings are VM_PFNMAP, which
 * /proc/self/pagemap skips). So a check that vivid's dma-contig instance
 * (vfd) refuses such a buffer offers up to IMP_CONTIG_TRIES of them, each
 * made by make(ctx, &fd) (0 or -errno; the buffer is closed here), and
 * requires one refused at QBUF with EFAULT.  The outcome: refused (0 or 1),
 * how many were accepted by chance before, and the last result (0, or
 * -errno with its step; step "make" when make() failed). */
#define IMP_CONTIG_TRIES 3
struct imp_contig_outcome {
	int refused, accepted, last;
	const char *step;
};

static inline struct imp_contig_outcome imp_contig_refusal(int vfd, size_t length, int timeout_ms,
							   int (*make)(void *ctx, int *fd), void *ctx)
{
	struct imp_contig_outcome o = { 0, 0, 0, "" };
	for (int attempt = 0; attempt < IMP_CONTIG_TRIES; attempt++) {
		int fd = -1;
		o.last = make(ctx, &fd);
		if (o.last) {
			o.step = "make";
			break;
		}
		long size = imp_size(fd);
		o.last = imp_vivid_capture(vfd, fd, size > 0 ? (size_t)size : length, timeout_ms, &o.step);
		close(fd);
		if (o.last == -EFAULT && !strcmp(o.step, "QBUF")) {
			o.refused = 1;
			break;
		}
		if (o.last != 0)
			break;
		printf("# buffer %d accepted by the dma-contig instance: its pages happened to be contiguous\n", ++o.accepted);
	}
	return o;
}

#endif

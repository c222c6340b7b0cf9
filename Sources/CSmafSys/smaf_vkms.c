/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "smaf_vkms.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* Debian ships the DRM uapi with libdrm-dev (/usr/include/libdrm). */
#include <linux/dma-buf.h>
#include <libdrm/drm.h>
#include <libdrm/drm_fourcc.h>

/* The "type" property's value for a primary plane (the kernel's enum
 * drm_plane_type; the uapi headers only name the enum's strings). */
#define PLANE_TYPE_PRIMARY 1

static int fail(char *why, size_t cap, int err, const char *fmt, ...)
{
	if (why && cap) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(why, cap, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < cap)
			snprintf(why + n, cap - (size_t)n, ": %s", strerror(err));
	}
	return -err;
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;
	while ((r = ioctl(fd, req, arg)) != 0 && (errno == EINTR || errno == EAGAIN))
		;
	return r == 0 ? 0 : -errno;
}

/* The id of object obj's property called name, and its current value; 0 if
 * it has none. */
static uint32_t prop_id(int card, uint32_t obj, uint32_t type, const char *name, uint64_t *value)
{
	uint32_t ids[64];
	uint64_t values[64];
	struct drm_mode_obj_get_properties op = {
		.props_ptr = (uintptr_t)ids, .prop_values_ptr = (uintptr_t)values,
		.count_props = 64, .obj_id = obj, .obj_type = type,
	};
	if (xioctl(card, DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op) != 0)
		return 0;
	for (uint32_t i = 0; i < op.count_props && i < 64; i++) {
		struct drm_mode_get_property p = { .prop_id = ids[i] };
		if (xioctl(card, DRM_IOCTL_MODE_GETPROPERTY, &p) == 0 && !strcmp(p.name, name)) {
			if (value)
				*value = values[i];
			return ids[i];
		}
	}
	return 0;
}

/* The atomic request being built: up to 32 (object, property, value). */
struct request {
	uint32_t objs[16], counts[16], props[32];
	uint64_t values[32];
	uint32_t nobjs, nprops;
	int bad; /* a property was missing or the request is full */
};

static int add(struct request *r, uint32_t obj, uint32_t prop, uint64_t value)
{
	if (!prop || r->nprops == 32) {
		r->bad = 1;
		return -1;
	}
	if (r->nobjs == 0 || r->objs[r->nobjs - 1] != obj) {
		if (r->nobjs == 16) {
			r->bad = 1;
			return -1;
		}
		r->objs[r->nobjs] = obj;
		r->counts[r->nobjs++] = 0;
	}
	r->counts[r->nobjs - 1]++;
	r->props[r->nprops] = prop;
	r->values[r->nprops++] = value;
	return 0;
}

static int commit(int card, struct request *r)
{
	struct drm_mode_atomic a = {
		.flags = DRM_MODE_ATOMIC_ALLOW_MODESET, .count_objs = r->nobjs,
		.objs_ptr = (uintptr_t)r->objs, .count_props_ptr = (uintptr_t)r->counts,
		.props_ptr = (uintptr_t)r->props, .prop_values_ptr = (uintptr_t)r->values,
	};
	return xioctl(card, DRM_IOCTL_MODE_ATOMIC, &a);
}

/* What one readback sets up, so that one teardown undoes any part of it. */
struct scanout {
	int card;
	uint32_t crtc, plane, wb, blob, src_handle, src_fb, dst_handle, dst_fb;
	uint32_t others[8], nothers; /* the other connectors (Virtual-1) */
	uint32_t p_fb, p_crtc, c_crtc, c_active, c_mode, w_crtc, w_fb; /* property ids */
	int lit;
};

static void teardown(struct scanout *s)
{
	if (s->lit) {
		struct request r = { 0 };
		add(&r, s->plane, s->p_fb, 0);
		add(&r, s->plane, s->p_crtc, 0);
		add(&r, s->wb, s->w_crtc, 0);
		add(&r, s->crtc, s->c_active, 0);
		add(&r, s->crtc, s->c_mode, 0);
		commit(s->card, &r);
	}
	if (s->src_fb)
		xioctl(s->card, DRM_IOCTL_MODE_RMFB, &s->src_fb);
	if (s->dst_fb)
		xioctl(s->card, DRM_IOCTL_MODE_RMFB, &s->dst_fb);
	if (s->blob) {
		struct drm_mode_destroy_blob b = { .blob_id = s->blob };
		xioctl(s->card, DRM_IOCTL_MODE_DESTROYPROPBLOB, &b);
	}
	if (s->src_handle) {
		struct drm_gem_close c = { .handle = s->src_handle };
		xioctl(s->card, DRM_IOCTL_GEM_CLOSE, &c);
	}
	if (s->dst_handle) {
		struct drm_mode_destroy_dumb d = { .handle = s->dst_handle };
		xioctl(s->card, DRM_IOCTL_MODE_DESTROY_DUMB, &d);
	}
}

/* Finds the CRTC, a primary plane on it and the writeback connector. */
static int find_pipe(struct scanout *s, char *why, size_t cap)
{
	int card = s->card, r;
	static const uint64_t caps[] = { DRM_CLIENT_CAP_UNIVERSAL_PLANES, DRM_CLIENT_CAP_ATOMIC,
					 DRM_CLIENT_CAP_WRITEBACK_CONNECTORS };
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		struct drm_set_client_cap c = { .capability = caps[i], .value = 1 };
		if ((r = xioctl(card, DRM_IOCTL_SET_CLIENT_CAP, &c)))
			return fail(why, cap, -r, "SET_CLIENT_CAP %llu", (unsigned long long)caps[i]);
	}
	uint32_t crtcs[8], conns[16];
	struct drm_mode_card_res res = { .crtc_id_ptr = (uintptr_t)crtcs, .connector_id_ptr = (uintptr_t)conns,
					 .count_crtcs = 8, .count_connectors = 16 };
	if ((r = xioctl(card, DRM_IOCTL_MODE_GETRESOURCES, &res)))
		return fail(why, cap, -r, "GETRESOURCES");
	if (res.count_crtcs == 0)
		return fail(why, cap, ENODEV, "vkms has no CRTC");
	s->crtc = crtcs[0];
	for (uint32_t i = 0; i < res.count_connectors && i < 16; i++) {
		struct drm_mode_get_connector c = { .connector_id = conns[i] };
		if (xioctl(card, DRM_IOCTL_MODE_GETCONNECTOR, &c) != 0)
			continue;
		if (c.connector_type == DRM_MODE_CONNECTOR_WRITEBACK)
			s->wb = conns[i];
		else if (s->nothers < 8)
			s->others[s->nothers++] = conns[i];
	}
	if (!s->wb)
		return fail(why, cap, ENODEV, "vkms has no writeback connector");
	uint32_t planes[16];
	struct drm_mode_get_plane_res pr = { .plane_id_ptr = (uintptr_t)planes, .count_planes = 16 };
	if ((r = xioctl(card, DRM_IOCTL_MODE_GETPLANERESOURCES, &pr)))
		return fail(why, cap, -r, "GETPLANERESOURCES");
	for (uint32_t i = 0; i < pr.count_planes && i < 16 && !s->plane; i++) {
		struct drm_mode_get_plane p = { .plane_id = planes[i] };
		uint64_t type = 0;
		if (xioctl(card, DRM_IOCTL_MODE_GETPLANE, &p) == 0 && (p.possible_crtcs & 1) &&
		    prop_id(card, planes[i], DRM_MODE_OBJECT_PLANE, "type", &type) && type == PLANE_TYPE_PRIMARY)
			s->plane = planes[i];
	}
	if (!s->plane)
		return fail(why, cap, ENODEV, "vkms has no primary plane on its first CRTC");
	s->p_fb = prop_id(card, s->plane, DRM_MODE_OBJECT_PLANE, "FB_ID", NULL);
	s->p_crtc = prop_id(card, s->plane, DRM_MODE_OBJECT_PLANE, "CRTC_ID", NULL);
	s->c_active = prop_id(card, s->crtc, DRM_MODE_OBJECT_CRTC, "ACTIVE", NULL);
	s->c_mode = prop_id(card, s->crtc, DRM_MODE_OBJECT_CRTC, "MODE_ID", NULL);
	s->w_crtc = prop_id(card, s->wb, DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID", NULL);
	s->w_fb = prop_id(card, s->wb, DRM_MODE_OBJECT_CONNECTOR, "WRITEBACK_FB_ID", NULL);
	if (!s->p_fb || !s->p_crtc || !s->c_active || !s->c_mode || !s->w_crtc || !s->w_fb)
		return fail(why, cap, ENODEV, "vkms lacks an atomic property (FB_ID, CRTC_ID, ACTIVE, MODE_ID, WRITEBACK_FB_ID)");
	return 0;
}

/* An XRGB8888 framebuffer over GEM handle h: 0 with its id, or -errno. */
static int add_fb(int card, uint32_t h, uint32_t width, uint32_t height, uint32_t pitch, uint32_t *id)
{
	struct drm_mode_fb_cmd2 fb = { .width = width, .height = height, .pixel_format = DRM_FORMAT_XRGB8888 };
	fb.handles[0] = h;
	fb.pitches[0] = pitch;
	int r = xioctl(card, DRM_IOCTL_MODE_ADDFB2, &fb);
	if (r == 0)
		*id = fb.fb_id;
	return r;
}

/* A mode of exactly width x height (small blanking, 60 Hz): vkms checks the
 * writeback framebuffer against the mode's size and nothing else. */
static struct drm_mode_modeinfo make_mode(uint32_t w, uint32_t h)
{
	struct drm_mode_modeinfo m;
	memset(&m, 0, sizeof(m));
	m.hdisplay = (uint16_t)w;
	m.hsync_start = (uint16_t)(w + 16);
	m.hsync_end = (uint16_t)(w + 32);
	m.htotal = (uint16_t)(w + 48);
	m.vdisplay = (uint16_t)h;
	m.vsync_start = (uint16_t)(h + 3);
	m.vsync_end = (uint16_t)(h + 6);
	m.vtotal = (uint16_t)(h + 10);
	m.vrefresh = 60;
	m.clock = (uint32_t)((uint64_t)m.htotal * m.vtotal * 60 / 1000);
	m.type = DRM_MODE_TYPE_USERDEF;
	snprintf(m.name, sizeof(m.name), "%ux%u", w, h);
	return m;
}

int smaf_vkms_readback(int card, int dmabuf, uint32_t width, uint32_t height, uint32_t pitch, uint32_t *out,
		       char *why, size_t cap)
{
	if (width == 0 || height == 0 || width > 4096 || height > 4096 || pitch < width * 4)
		return fail(why, cap, EINVAL, "a %ux%u frame with pitch %u", width, height, pitch);
	struct scanout s;
	memset(&s, 0, sizeof(s));
	s.card = card;
	int r = find_pipe(&s, why, cap);
	if (r)
		return r;

	struct drm_prime_handle ph = { .fd = dmabuf };
	if ((r = xioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &ph))) {
		r = fail(why, cap, -r, "PRIME_FD_TO_HANDLE (vkms importing the buffer)");
		goto out;
	}
	s.src_handle = ph.handle;
	if ((r = add_fb(card, s.src_handle, width, height, pitch, &s.src_fb))) {
		r = fail(why, cap, -r, "ADDFB2 of the imported buffer");
		goto out;
	}

	struct drm_mode_create_dumb dumb = { .width = width, .height = height, .bpp = 32 };
	if ((r = xioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, &dumb))) {
		r = fail(why, cap, -r, "CREATE_DUMB for the writeback frame");
		goto out;
	}
	s.dst_handle = dumb.handle;
	if ((r = add_fb(card, dumb.handle, width, height, dumb.pitch, &s.dst_fb))) {
		r = fail(why, cap, -r, "ADDFB2 of the writeback frame");
		goto out;
	}

	struct drm_mode_modeinfo mode = make_mode(width, height);
	struct drm_mode_create_blob blob = { .data = (uintptr_t)&mode, .length = sizeof(mode) };
	if ((r = xioctl(card, DRM_IOCTL_MODE_CREATEPROPBLOB, &blob))) {
		r = fail(why, cap, -r, "CREATEPROPBLOB (the mode)");
		goto out;
	}
	s.blob = blob.blob_id;

	int32_t fence = -1;
	struct request req = { 0 };
	add(&req, s.crtc, s.c_active, 1);
	add(&req, s.crtc, s.c_mode, s.blob);
	add(&req, s.plane, s.p_fb, s.src_fb);
	add(&req, s.plane, s.p_crtc, s.crtc);
	add(&req, s.plane, prop_id(card, s.plane, DRM_MODE_OBJECT_PLANE, "SRC_X", NULL), 0);
	add(&req, s.plane, prop_id(card, s.plane, DRM_MODE_OBJECT_PLANE, "SRC_Y", NULL), 0);
	add(&req, s.plane, prop_id(card, s.plane, DRM_MODE_OBJECT_PLANE, "SRC_W", NULL), (uint64_t)width << 16);
	add(&req, s.plane, prop_id(card, s.plane, DRM_MODE_OBJECT_PLANE, "SRC_H", NULL), (uint64_t)height << 16);
	add(&req, s.plane, prop_id(card, s.plane, DRM_MODE_OBJECT_PLANE, "CRTC_X", NULL), 0);
	add(&req, s.plane, prop_id(card, s.plane, DRM_MODE_OBJECT_PLANE, "CRTC_Y", NULL), 0);
	add(&req, s.plane, prop_id(card, s.plane, DRM_MODE_OBJECT_PLANE, "CRTC_W", NULL), width);
	add(&req, s.plane, prop_id(card, s.plane, DRM_MODE_OBJECT_PLANE, "CRTC_H", NULL), height);
	add(&req, s.wb, s.w_crtc, s.crtc);
	add(&req, s.wb, s.w_fb, s.dst_fb);
	add(&req, s.wb, prop_id(card, s.wb, DRM_MODE_OBJECT_CONNECTOR, "WRITEBACK_OUT_FENCE_PTR", NULL), (uintptr_t)&fence);
	/* vkms refuses a second connector on the CRTC (no possible_clones), and
	 * its fbdev emulation keeps Virtual-1 there: take it off. */
	for (uint32_t i = 0; i < s.nothers; i++)
		add(&req, s.others[i], prop_id(card, s.others[i], DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID", NULL), 0);
	if (req.bad) {
		r = fail(why, cap, ENODEV, "vkms lacks a plane or writeback property (SRC_*, CRTC_*, WRITEBACK_OUT_FENCE_PTR)");
		goto out;
	}
	if ((r = commit(card, &req))) {
		r = fail(why, cap, -r, "the writeback-only atomic commit%s",
			 r == -EACCES ? " (another process is DRM master of vkms)" : "");
		goto out;
	}
	s.lit = 1;
	if (fence < 0) {
		r = fail(why, cap, EIO, "the commit gave no writeback fence");
		goto out;
	}
	struct pollfd p = { .fd = fence, .events = POLLIN };
	int n;
	while ((n = poll(&p, 1, 10000)) < 0 && errno == EINTR)
		;
	close(fence);
	if (n <= 0) {
		r = fail(why, cap, n == 0 ? ETIMEDOUT : errno, "waiting for the writeback fence");
		goto out;
	}

	struct drm_mode_map_dumb map = { .handle = s.dst_handle };
	if ((r = xioctl(card, DRM_IOCTL_MODE_MAP_DUMB, &map))) {
		r = fail(why, cap, -r, "MAP_DUMB of the writeback frame");
		goto out;
	}
	const unsigned char *frame = mmap(NULL, dumb.size, PROT_READ, MAP_SHARED, card, (off_t)map.offset);
	if (frame == MAP_FAILED) {
		r = fail(why, cap, errno, "mmap of the writeback frame");
		goto out;
	}
	for (uint32_t y = 0; y < height; y++)
		memcpy(out + (size_t)y * width, frame + (size_t)y * dumb.pitch, (size_t)width * 4);
	munmap((void *)frame, dumb.size);
	r = 0;
out:
	teardown(&s);
	return r;
}

long smaf_vkms_kmap_check(int card, int dmabuf, uint32_t width, uint32_t height, char *why, size_t cap)
{
	size_t pixels = (size_t)width * height, bytes = pixels * 4;
	uint32_t *src = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, dmabuf, 0);
	if (src == MAP_FAILED)
		return fail(why, cap, errno, "mmap of the buffer");
	/* The CPU's writes are bracketed as dma-buf wants (a no-op on x86). */
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE };
	xioctl(dmabuf, DMA_BUF_IOCTL_SYNC, &sync);
	for (size_t i = 0; i < pixels; i++)
		src[i] = smaf_vkms_pattern((uint32_t)i);
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE;
	xioctl(dmabuf, DMA_BUF_IOCTL_SYNC, &sync);
	munmap(src, bytes);
	uint32_t *got = malloc(bytes);
	if (!got)
		return fail(why, cap, ENOMEM, "a frame of %zu bytes", bytes);
	int r = smaf_vkms_readback(card, dmabuf, width, height, width * 4, got, why, cap);
	long wrong = r;
	if (r == 0) {
		wrong = 0;
		for (size_t i = 0; i < pixels; i++)
			wrong += (got[i] & 0x00ffffffu) != smaf_vkms_pattern((uint32_t)i);
	}
	free(got);
	return wrong;
}

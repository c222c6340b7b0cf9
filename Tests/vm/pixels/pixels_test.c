/* SPDX-License-Identifier: MIT */
/*
 * pixels_test: does a buffer hold the right bytes in every device that
 * uses it? Run by Tests/vm/pixels/pixels-tests.sh in a VM with vivid (n_devs=2
 * allocators=0,1), vgem and vkms loaded; prints "ok"/"FAIL" lines and
 * "pixels-test ...: N passed, M failed".
 *
 * Four importers judge one buffer, each comparing every 4 KiB page:
 *   vkms   the CPU writes a 640x480 XRGB8888 frame whose every pixel (and so
 *          every page) differs; vkms imports it, composes it through the
 *          exporter's kernel mapping (vmap) and its writeback connector gives
 *          the result back; every pixel is compared.
 *   vivid  instance 0 (vb2-vmalloc: it draws through the kernel mapping)
 *          captures a 640x360 YUYV frame into the buffer, whose pages were
 *          first stamped with their own index; every page must equal the
 *          same frame captured into vivid's own memory (the reference).
 *   vivid  output: instance 0's output node (vb2-vmalloc) streams the
 *          buffer, which the CPU filled with a pattern that differs in every
 *          page, and its HDMI output is looped back into its HDMI capture
 *          input (6.1: "Loop Video"; 6.12: "HDMI 000-0 Is Connected To"), at
 *          640x480 YUYV, into vivid's own memory; every page of the looped
 *          frame must equal what was written.
 *   vgem   imports the buffer (it never touches the bytes itself); what the
 *          CPU wrote through the buffer's own mapping must be read back, every
 *          page, through the dma-buf vgem exports again from its import.
 *
 *   pixels-test --direct ROUTE [--wrong]
 *       a buffer made straight from the kernel (Tests/vm/dmabuf/dmabuf_routes.h:
 *       udmabuf, udmabuf-hugetlb, heap-system, vgem). With --wrong the
 *       kernel is known to map this route wrongly: vkms and vivid (capture
 *       and output) must then see wrong bytes (the judges can fail), vgem's re-export still reads
 *       the right ones (a user mapping of the same pages).
 *   pixels-test --allocator NAME (--correct | --wrong)
 *       the same for a buffer from smafd's allocator NAME, whose kernel
 *       mappings smafd declares correct or wrong (smafctl info): the bytes
 *       must agree with smafd's word.
 *   pixels-test --for-devices
 *       a buffer made by smaf_create_buffer_for() for vivid instance 0's
 *       capture node and vkms's card, both devices that use buffers
 *       through kernel mappings: whatever smafd picked, every judge must
 *       see the right bytes.
 *
 * The device is $SMAF_DEVICE or /dev/smaf.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libsmaf.h"
#include "smaf_vkms.h"
#include "../vmtest.h"
#include "../importers.h"
#include "../dmabuf/dmabuf_routes.h"

#define W 640
#define H 480
#define FRAME_BYTES ((size_t)W * H * 4) /* 1,228,800: the buffer size */
#define CAPTURE_BYTES 460800u             /* vivid's 640x360 YUYV sizeimage */
#define TIMEOUT_MS 20000

/* vkms: how many of the W x H pixels come back wrong; -errno if the
 * readback could not run. */
static long judge_vkms(const char *label, int fd)
{
	int card = imp_drm_open("vkms");
	if (!vt_check(card >= 0, "%s: vkms's card is there %s", label, card < 0 ? vt_errname(-card) : ""))
		return card;
	char why[256] = "";
	long wrong = smaf_vkms_kmap_check(card, fd, W, H, why, sizeof(why));
	close(card);
	vt_check(wrong >= 0, "%s: vkms imported it and wrote the composed frame back %s", label, wrong < 0 ? why : "");
	return wrong;
}

/* vivid instance 0: pages of the captured frame that differ from the
 * reference; -errno if the capture could not run. */
static long judge_vivid(const char *label, int fd)
{
	int v = imp_vivid_open(0);
	if (!vt_check(v >= 0, "%s: vivid instance 0's capture node is there %s", label, v < 0 ? vt_errname(-v) : ""))
		return v;
	long size = imp_vivid_format(v);
	int r = imp_vivid_quiet(v);
	vt_check(size == CAPTURE_BYTES && r == 0, "%s: vivid takes 640x360 YUYV (sizeimage %ld) with its OSD text off %s", label,
		 size, r ? vt_errname(-r) : "");
	unsigned char *ref = malloc(CAPTURE_BYTES);
	long bad = -ENOMEM;
	if (ref && (r = imp_vivid_reference(v, ref, CAPTURE_BYTES, TIMEOUT_MS)) != 0)
		bad = r;
	vt_check(ref && r == 0, "%s: a reference frame captured into vivid's own memory %s", label, r ? vt_errname(-r) : "");
	unsigned char *p = mmap(NULL, FRAME_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ref && r == 0 && vt_check(p != MAP_FAILED, "%s: maps read-write %s", label, vt_why(p == MAP_FAILED))) {
		imp_stamp_pages(p, FRAME_BYTES);
		imp_sync(fd, DMA_BUF_SYNC_RW);
		const char *step = "";
		r = imp_vivid_capture(v, fd, FRAME_BYTES, TIMEOUT_MS, &step);
		if (vt_check(r == 0, "%s: vivid instance 0 captures into it %s %s", label, step, r ? vt_errname(-r) : "")) {
			imp_sync(fd, DMA_BUF_SYNC_READ);
			bad = (long)imp_pages_differing(p, ref, CAPTURE_BYTES);
		} else {
			bad = r;
		}
	}
	if (p != MAP_FAILED)
		munmap(p, FRAME_BYTES);
	free(ref);
	close(v);
	return bad;
}

/* ---- vivid's output, looped back into its capture ---------------------- */

/* The index of the first input (ENUMINPUT) or output (ENUMOUTPUT) whose
 * name contains "HDMI", or -1. */
static int hdmi_index(int vfd, int output)
{
	for (unsigned i = 0; i < 16; i++) {
		char name[64];
		if (output) {
			struct v4l2_output o = { .index = i };
			if (imp_xioctl(vfd, VIDIOC_ENUMOUTPUT, &o))
				break;
			snprintf(name, sizeof(name), "%s", (const char *)o.name);
		} else {
			struct v4l2_input in = { .index = i };
			if (imp_xioctl(vfd, VIDIOC_ENUMINPUT, &in))
				break;
			snprintf(name, sizeof(name), "%s", (const char *)in.name);
		}
		if (strstr(name, "HDMI"))
			return (int)i;
	}
	return -1;
}

/* The control of vfd whose name is `name` (its id, 0 if none); with
 * `item`, also the index of its menu item called that (else -1). */
static uint32_t control_named(int vfd, const char *name, const char *item, int *index)
{
	struct v4l2_queryctrl q = { .id = V4L2_CTRL_FLAG_NEXT_CTRL };
	while (imp_xioctl(vfd, VIDIOC_QUERYCTRL, &q) == 0) {
		if (!strcmp((const char *)q.name, name)) {
			if (item && index) {
				*index = -1;
				for (int i = q.minimum; i <= q.maximum; i++) {
					struct v4l2_querymenu m = { .id = q.id, .index = (uint32_t)i };
					if (imp_xioctl(vfd, VIDIOC_QUERYMENU, &m) == 0 && !strcmp((const char *)m.name, item))
						*index = i;
				}
			}
			return q.id;
		}
		q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
	}
	return 0;
}

/* Connects vivid instance 0's HDMI output to its HDMI capture input
 * (on = 1) or undoes it (on = 0: the first input again, no loop): 6.1
 * has a "Loop Video" control, 6.12 a menu per HDMI input naming the
 * output it is connected to. 0 or -errno. */
static int vivid_loop(int cap, int out, int on)
{
	int in = hdmi_index(cap, 0), o = hdmi_index(out, 1), r;
	if (in < 0 || o < 0)
		return -ENODEV;
	int item = -1;
	uint32_t loop = control_named(cap, "Loop Video", NULL, NULL);
	uint32_t link = loop ? 0 : control_named(cap, "HDMI 000-0 Is Connected To", "Output HDMI 000-0", &item);
	if (!loop && (!link || item < 0))
		return -ENOENT;
	struct v4l2_control c = { .id = loop ? loop : link, .value = on ? (loop ? 1 : item) : 0 };
	if (!on) {
		imp_xioctl(cap, VIDIOC_S_CTRL, &c);
		int first = 0;
		return imp_xioctl(cap, VIDIOC_S_INPUT, &first);
	}
	if ((r = imp_xioctl(cap, VIDIOC_S_INPUT, &in)) || (r = imp_xioctl(out, VIDIOC_S_OUTPUT, &o)))
		return r;
	/* The same timings on both sides, hence the same frame size: 640x480
	 * if the input knows it (it fits the test's buffer), else its own. */
	struct v4l2_dv_timings t;
	memset(&t, 0, sizeof(t));
	if ((r = imp_xioctl(cap, VIDIOC_G_DV_TIMINGS, &t)))
		return r;
	for (unsigned i = 0; i < 64; i++) {
		struct v4l2_enum_dv_timings e = { .index = i };
		if (imp_xioctl(cap, VIDIOC_ENUM_DV_TIMINGS, &e))
			break;
		if (e.timings.bt.width == 640 && e.timings.bt.height == 480 && !e.timings.bt.interlaced) {
			t = e.timings;
			break;
		}
	}
	if ((r = imp_xioctl(cap, VIDIOC_S_DV_TIMINGS, &t)) || (r = imp_xioctl(out, VIDIOC_S_DV_TIMINGS, &t)))
		return r;
	return imp_xioctl(cap, VIDIOC_S_CTRL, &c);
}

/* YUYV at the timings' size on a queue of the given type: the frame's
 * bytes, or -errno. */
static long yuyv_format(int vfd, uint32_t type, uint32_t *w, uint32_t *h)
{
	struct v4l2_format f = { .type = type };
	if (imp_xioctl(vfd, VIDIOC_G_FMT, &f))
		return -errno;
	f.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
	f.fmt.pix.field = V4L2_FIELD_NONE;
	if (*w) {
		f.fmt.pix.width = *w;
		f.fmt.pix.height = *h;
	}
	int r = imp_xioctl(vfd, VIDIOC_S_FMT, &f);
	if (r)
		return r;
	*w = f.fmt.pix.width;
	*h = f.fmt.pix.height;
	return (long)f.fmt.pix.sizeimage;
}

/* vivid instance 0's output reads the buffer (vb2-vmalloc: through its
 * kernel mapping) and loops it back into its capture, which writes into
 * vivid's own memory: the pages of the looped frame that differ from what
 * the CPU wrote into the buffer; -errno if the loop could not run. */
static long judge_vivid_output(const char *label, int fd)
{
	int cap = imp_vivid_open(0), out = imp_v4l2_open("vivid-000-vid-out");
	if (!vt_check(cap >= 0 && out >= 0, "%s: vivid instance 0's capture and output nodes are there", label)) {
		if (cap >= 0)
			close(cap);
		if (out >= 0)
			close(out);
		return -ENODEV;
	}
	long bad = -EINVAL;
	int r = vivid_loop(cap, out, 1);
	imp_vivid_quiet(cap);
	uint32_t w = 0, h = 0;
	long frame = r ? r : yuyv_format(cap, V4L2_BUF_TYPE_VIDEO_CAPTURE, &w, &h);
	long oframe = frame < 0 ? frame : yuyv_format(out, V4L2_BUF_TYPE_VIDEO_OUTPUT, &w, &h);
	if (!vt_check(frame > 0 && oframe == frame && (size_t)frame <= FRAME_BYTES,
		      "%s: vivid's HDMI output looped into its HDMI input, %ux%u YUYV both sides (%ld / %ld bytes) %s", label, w, h,
		      frame, oframe, frame < 0 ? vt_errname((int)-frame) : ""))
		goto out;
	unsigned char *p = mmap(NULL, (size_t)frame, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!vt_check(p != MAP_FAILED, "%s: maps read-write %s", label, vt_why(p == MAP_FAILED)))
		goto out;
	vt_fill(p, (size_t)frame, 0x0ddba11); /* different in every page */
	imp_sync(fd, DMA_BUF_SYNC_RW);

	/* The output streams the buffer (two slots, requeued as vivid returns
	 * them); the capture fills vivid's own buffers from it. */
	int otype = V4L2_BUF_TYPE_VIDEO_OUTPUT, ctype = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct v4l2_requestbuffers orb = { .count = 2, .type = otype, .memory = V4L2_MEMORY_DMABUF };
	struct v4l2_requestbuffers crb = { .count = 2, .type = ctype, .memory = V4L2_MEMORY_MMAP };
	void *maps[2] = { NULL, NULL };
	size_t lens[2] = { 0, 0 };
	const char *step = "REQBUFS output";
	if ((r = imp_xioctl(out, VIDIOC_REQBUFS, &orb)) == 0 && orb.count >= 1) {
		step = "QBUF output";
		for (unsigned i = 0; i < orb.count && !r; i++) {
			struct v4l2_buffer b = { .index = i, .type = otype, .memory = V4L2_MEMORY_DMABUF };
			b.m.fd = fd;
			b.length = (uint32_t)frame;
			b.bytesused = (uint32_t)frame;
			r = imp_xioctl(out, VIDIOC_QBUF, &b);
		}
	}
	if (!r) {
		step = "STREAMON output";
		r = imp_xioctl(out, VIDIOC_STREAMON, &otype);
	}
	if (!r) {
		step = "capture buffers";
		r = imp_xioctl(cap, VIDIOC_REQBUFS, &crb);
		for (unsigned i = 0; i < crb.count && i < 2 && !r; i++) {
			struct v4l2_buffer b = { .index = i, .type = ctype, .memory = V4L2_MEMORY_MMAP };
			if ((r = imp_xioctl(cap, VIDIOC_QUERYBUF, &b)))
				break;
			maps[i] = mmap(NULL, b.length, PROT_READ, MAP_SHARED, cap, b.m.offset);
			if (maps[i] == MAP_FAILED) {
				maps[i] = NULL;
				r = -errno;
				break;
			}
			lens[i] = b.length;
			r = imp_xioctl(cap, VIDIOC_QBUF, &b);
		}
	}
	if (!r) {
		step = "STREAMON capture";
		r = imp_xioctl(cap, VIDIOC_STREAMON, &ctype);
	}
	/* The first frames may predate the loop; judge the fourth. */
	for (int frames = 0; !r && frames < 4;) {
		struct pollfd pf[2] = { { .fd = cap, .events = POLLIN }, { .fd = out, .events = POLLOUT } };
		int n = poll(pf, 2, TIMEOUT_MS);
		if (n <= 0) {
			step = "waiting for frames";
			r = n == 0 ? -ETIMEDOUT : -errno;
			break;
		}
		if (pf[1].revents & POLLOUT) {
			struct v4l2_buffer b = { .type = otype, .memory = V4L2_MEMORY_DMABUF };
			if (imp_xioctl(out, VIDIOC_DQBUF, &b) == 0) {
				b.m.fd = fd;
				b.length = b.bytesused = (uint32_t)frame;
				imp_xioctl(out, VIDIOC_QBUF, &b);
			}
		}
		if (pf[0].revents & POLLIN) {
			struct v4l2_buffer b = { .type = ctype, .memory = V4L2_MEMORY_MMAP };
			step = "DQBUF capture";
			if ((r = imp_xioctl(cap, VIDIOC_DQBUF, &b)))
				break;
			if (++frames == 4) {
				if (b.index < 2 && maps[b.index] && lens[b.index] >= (size_t)frame)
					bad = (long)imp_pages_differing(maps[b.index], p, (size_t)frame);
				else
					r = -EINVAL;
			} else {
				r = imp_xioctl(cap, VIDIOC_QBUF, &b);
			}
		}
	}
	vt_check(r == 0, "%s: vivid's output streamed it and its capture looped it back %s %s", label, r ? step : "",
		 r ? vt_errname(-r) : "");
	if (r)
		bad = r;
	imp_xioctl(cap, VIDIOC_STREAMOFF, &ctype);
	imp_xioctl(out, VIDIOC_STREAMOFF, &otype);
	for (int i = 0; i < 2; i++)
		if (maps[i])
			munmap(maps[i], lens[i]);
	crb.count = 0;
	imp_xioctl(cap, VIDIOC_REQBUFS, &crb);
	orb.count = 0;
	imp_xioctl(out, VIDIOC_REQBUFS, &orb);
	munmap(p, (size_t)frame);
out:
	vivid_loop(cap, out, 0);
	close(cap);
	close(out);
	return bad;
}

/* vgem: it never touches a buffer's bytes itself, and it refuses to map
 * an imported object (DRM_IOCTL_MODE_MAP_DUMB: EINVAL), so what it can
 * show is that its import is the same memory: the dma-buf it exports again
 * from its handle (DRM_IOCTL_PRIME_HANDLE_TO_FD) must read, every page, what
 * the CPU wrote through the buffer's own mapping. Pages that differ;
 * -errno. */
static long judge_vgem(const char *label, int fd)
{
	int drm = imp_vgem_open();
	if (!vt_check(drm >= 0, "%s: vgem's card is there %s", label, drm < 0 ? vt_errname(-drm) : ""))
		return drm;
	long bad = -EINVAL;
	unsigned char *p = mmap(NULL, FRAME_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	long h = imp_vgem_import(drm, fd);
	if (vt_check(p != MAP_FAILED && h > 0, "%s: mapped, and imported by vgem (handle %ld) %s", label, h,
		     h < 0 ? vt_errname((int)-h) : vt_why(p == MAP_FAILED))) {
		vt_fill(p, FRAME_BYTES, 0x5eed); /* different in every page */
		imp_sync(fd, DMA_BUF_SYNC_RW);
		struct drm_prime_handle ph = { .handle = (uint32_t)h, .flags = DRM_CLOEXEC | DRM_RDWR };
		unsigned char *q = MAP_FAILED;
		if (ioctl(drm, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph) == 0) {
			q = mmap(NULL, FRAME_BYTES, PROT_READ, MAP_SHARED, ph.fd, 0);
			close(ph.fd);
		}
		if (vt_check(q != MAP_FAILED, "%s: vgem exports its import again and that maps %s", label, vt_why(q == MAP_FAILED))) {
			bad = (long)imp_pages_differing(q, p, FRAME_BYTES);
			munmap(q, FRAME_BYTES);
		}
	}
	if (h > 0)
		imp_gem_close(drm, (uint32_t)h);
	if (p != MAP_FAILED)
		munmap(p, FRAME_BYTES);
	close(drm);
	return bad;
}

/* All three judges on fd; `wrong`: the kernel mapping is known (or declared)
 * wrong, so vkms and vivid must see wrong bytes. */
static void judge(const char *label, int fd, int wrong)
{
	long px = judge_vkms(label, fd);
	long pages = judge_vivid(label, fd);
	long vg = judge_vgem(label, fd);
	long looped = judge_vivid_output(label, fd);
	size_t cap_pages = (CAPTURE_BYTES + 4095) / 4096;
	if (wrong) {
		vt_check(px > 0, "%s: kernel mapping wrong: vkms composed wrong pixels (%ld of %d wrong)", label, px, W * H);
		vt_check(pages > 0, "%s: kernel mapping wrong: vivid's frame is not where it belongs (%ld of %zu pages differ)",
			 label, pages, cap_pages);
		vt_check(looped > 0, "%s: kernel mapping wrong: vivid's output read wrong bytes (%ld pages of the looped frame differ)",
			 label, looped);
	} else {
		vt_check(px == 0, "%s: vkms composed every pixel right (%ld of %d wrong)", label, px, W * H);
		vt_check(pages == 0, "%s: vivid's frame landed in every page (%ld of %zu pages differ from the reference)", label,
			 pages, cap_pages);
		vt_check(looped == 0, "%s: vivid's output read every page right (%ld pages of the looped frame differ from what was written)",
			 label, looped);
	}
	vt_check(vg == 0, "%s: vgem's re-export of its import reads what the CPU wrote (%ld of %zu pages differ)", label, vg,
		 FRAME_BYTES / 4096);
}

static int route_of(const char *name)
{
	for (int r = 0; r < DR_COUNT; r++)
		if (!strcmp(dr_name((enum dr_route)r), name) && dr_is_dmabuf((enum dr_route)r))
			return r;
	return -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: pixels-test --direct ROUTE [--wrong] | --allocator NAME (--correct|--wrong) | --for-devices\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	char label[128];
	if (!strcmp(argv[1], "--direct") && (argc == 3 || (argc == 4 && !strcmp(argv[3], "--wrong")))) {
		int route = route_of(argv[2]);
		if (route < 0)
			return usage();
		snprintf(label, sizeof(label), "pixels-test --direct %s", argv[2]);
		vt_init(label);
		int fd = -1;
		int r = dr_create((enum dr_route)route, FRAME_BYTES, &fd);
		if (vt_check(r == 0, "%s: a %zu-byte buffer straight from the kernel %s", argv[2], FRAME_BYTES, r ? vt_errname(-r) : "")) {
			judge(argv[2], fd, argc == 4);
			close(fd);
		}
		return vt_finish();
	}
	if (!strcmp(argv[1], "--allocator") && argc == 4 && (!strcmp(argv[3], "--correct") || !strcmp(argv[3], "--wrong"))) {
		snprintf(label, sizeof(label), "pixels-test --allocator %s %s", argv[2], argv[3]);
		vt_init(label);
		int fd = -1;
		int ok = smaf_open() == 0 && smaf_create_buffer(FRAME_BYTES, SMAF_RDWR | SMAF_CLOEXEC, argv[2], &fd) == 0;
		if (vt_check(ok, "%s: a %zu-byte buffer from smafd %s", argv[2], FRAME_BYTES, vt_why(!ok))) {
			judge(argv[2], fd, !strcmp(argv[3], "--wrong"));
			close(fd);
		}
		return vt_finish();
	}
	if (!strcmp(argv[1], "--for-devices") && argc == 2) {
		vt_init("pixels-test --for-devices");
		int v = imp_vivid_open(0), card = imp_drm_open("vkms");
		vt_check(v >= 0 && card >= 0, "vivid instance 0's capture node and vkms's card are there");
		int fd = -1;
		if (v >= 0 && card >= 0) {
			int devs[2] = { v, card };
			int ok = smaf_open() == 0 && smaf_create_buffer_for(FRAME_BYTES, SMAF_RDWR | SMAF_CLOEXEC, devs, 2, &fd) == 0;
			char exp[64] = "", name[64] = "";
			imp_fdinfo(fd, exp, sizeof(exp), name, sizeof(name));
			vt_note("smafd chose: %s (exporter %s)", name, exp);
			/* The judges open the devices themselves; vkms's first opener
			 * is its DRM master, which the writeback commit needs. */
			close(v);
			close(card);
			v = card = -1;
			if (vt_check(ok, "smaf_create_buffer_for(vivid instance 0, vkms) %s", vt_why(!ok))) {
				judge("for vivid instance 0 and vkms", fd, 0);
				close(fd);
			}
		}
		if (v >= 0)
			close(v);
		if (card >= 0)
			close(card);
		return vt_finish();
	}
	return usage();
}

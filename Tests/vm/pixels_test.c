/*
 * pixels_test: does a buffer hold the right bytes in every device that
 * uses it? Run by Tests/vm/pixels-tests.sh in a VM with vivid (n_devs=2
 * allocators=0,1), vgem and vkms loaded; prints "ok"/"FAIL" lines and
 * "pixels-test ...: N passed, M failed".
 *
 * Three importers judge one buffer, each comparing every 4 KiB page:
 *   vkms   the CPU writes a 640x480 XRGB8888 frame whose every pixel (and so
 *          every page) differs; vkms imports it, composes it through the
 *          exporter's kernel mapping (vmap) and its writeback connector gives
 *          the result back; every pixel is compared.
 *   vivid  instance 0 (vb2-vmalloc: it draws through the kernel mapping)
 *          captures a 640x360 YUYV frame into the buffer, whose pages were
 *          first stamped with their own index; every page must equal the
 *          same frame captured into vivid's own memory (the reference).
 *   vgem   imports the buffer (it never touches the bytes itself); what the
 *          CPU wrote through the buffer's own mapping must be read back, every
 *          page, through the dma-buf vgem exports again from its import.
 *
 *   pixels-test --direct ROUTE [--wrong]
 *       a buffer made straight from the kernel (Tests/vm/dmabuf_routes.h:
 *       udmabuf, udmabuf-hugetlb, heap-system, vgem). With --wrong the
 *       kernel is known to map this route wrongly: vkms and vivid must then
 *       see wrong bytes (the judges can fail), vgem's re-export still reads
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libsmaf.h"
#include "smaf_vkms.h"
#include "vmtest.h"
#include "importers.h"
#include "dmabuf_routes.h"

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
	size_t cap_pages = (CAPTURE_BYTES + 4095) / 4096;
	if (wrong) {
		vt_check(px > 0, "%s: kernel mapping wrong: vkms composed wrong pixels (%ld of %d wrong)", label, px, W * H);
		vt_check(pages > 0, "%s: kernel mapping wrong: vivid's frame is not where it belongs (%ld of %zu pages differ)",
			 label, pages, cap_pages);
	} else {
		vt_check(px == 0, "%s: vkms composed every pixel right (%ld of %d wrong)", label, px, W * H);
		vt_check(pages == 0, "%s: vivid's frame landed in every page (%ld of %zu pages differ from the reference)", label,
			 pages, cap_pages);
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

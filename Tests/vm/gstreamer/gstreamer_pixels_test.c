/* SPDX-License-Identifier: MIT */
/*
 * gstreamer_pixels_test.c - the plugin's allocator, as an application uses
 * it (gst/gstsmafallocator.h, no link to the plugin), judged by pixels.
 * Run in the VM by Tests/vm/gstreamer/gstreamer-tests.sh with GST_REGISTRY pointing at
 * the build's registry and smafd serving $SMAF_DEVICE or /dev/smaf.
 *
 *   gstreamer-pixels-test --camera-display CAMERA CARD
 *       a GstSmafAllocator for both devices (vivid capture node, vkms card)
 *       makes one 640x480 BGRx frame; vivid captures into it (compared with
 *       a capture into vivid's own memory), vkms scans it out and its
 *       writeback connector hands back what the display engine composed
 *       (compared with the buffer): every pixel must match in both.
 *   gstreamer-pixels-test --refused CAMERA CARD
 *       no allocator of smafd fits the devices: the allocator says so in
 *       its "error" (naming CAMERA and the constraint) and makes no buffer.
 *   gstreamer-pixels-test --secure
 *       secure=TRUE: each buffer carries the SMAF secure flag; without it
 *       none does.
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
#include "gstsmafallocator.h"
#include "../vmtest.h"
#include "../importers.h"

#define W 640
#define H 480
#define FRAME ((size_t)W * H * 4)
#define TIMEOUT_MS 20000

/* VIDIOC_S_FMT W x H XBGR32 (GStreamer's BGRx, DRM's XRGB8888) on a
 * capture node: 0 or -errno; the driver must keep the size and stride. */
static int bgrx_format(int v)
{
	struct v4l2_format f;
	memset(&f, 0, sizeof(f));
	f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	f.fmt.pix.width = W;
	f.fmt.pix.height = H;
	f.fmt.pix.pixelformat = V4L2_PIX_FMT_XBGR32;
	f.fmt.pix.field = V4L2_FIELD_NONE;
	int r = imp_xioctl(v, VIDIOC_S_FMT, &f);
	if (r)
		return r;
	if (f.fmt.pix.width != W || f.fmt.pix.height != H || f.fmt.pix.bytesperline != W * 4 ||
	    f.fmt.pix.pixelformat != V4L2_PIX_FMT_XBGR32)
		return -EINVAL;
	return 0;
}

/* Pixels whose colour (low 24 bits: X is not carried) differs. */
static long pixels_differing(const uint32_t *a, const uint32_t *b, size_t n)
{
	long bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += (a[i] & 0xffffffu) != (b[i] & 0xffffffu);
	return bad;
}

static GstAllocator *make_allocator(const char *devices, const char *name, gboolean secure, gchar **error)
{
	GstAllocator *a = gst_smaf_allocator_new(devices, name, secure);
	*error = a ? gst_smaf_allocator_get_error(a) : g_strdup("the plugin smaf is not in the registry");
	return a;
}

static int camera_display(const char *camera, const char *card_path)
{
	vt_init("gstreamer-pixels-test --camera-display");
	gchar *devices = g_strdup_printf("%s,%s", camera, card_path), *error = NULL;
	GstAllocator *alloc = make_allocator(devices, NULL, FALSE, &error);
	vt_check(alloc && !error, "GstSmafAllocator for %s is ready %s", devices, error ? error : "");
	GstMemory *mem = alloc && !error ? gst_allocator_alloc(alloc, FRAME, NULL) : NULL;
	int fd = mem && gst_is_dmabuf_memory(mem) ? gst_dmabuf_memory_get_fd(mem) : -1;
	if (!vt_check(fd >= 0, "it makes a %zu-byte dma-buf memory for both devices", FRAME))
		goto out;
	char exp[64] = "", name[64] = "";
	imp_fdinfo(fd, exp, sizeof(exp), name, sizeof(name));
	vt_note("smafd chose: %s (exporter %s)", name, exp);

	uint32_t *ref = calloc(W * H, 4), *shown = calloc(W * H, 4);
	uint32_t *p = mmap(NULL, FRAME, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int v = open(camera, O_RDWR | O_CLOEXEC);
	int r = v < 0 ? -errno : bgrx_format(v);
	if (!vt_check(ref && shown && p != MAP_FAILED && r == 0, "%s takes %dx%d BGRx, and the buffer maps %s", camera, W, H,
		      r ? vt_errname(-r) : vt_why(p == MAP_FAILED)))
		goto done;
	imp_vivid_quiet(v);
	r = imp_vivid_reference(v, (unsigned char *)ref, FRAME, TIMEOUT_MS);
	vt_check(r == 0, "a reference frame captured into vivid's own memory %s", r ? vt_errname(-r) : "");
	memset(p, 0, FRAME);
	imp_sync(fd, DMA_BUF_SYNC_RW);
	const char *step = "";
	r = imp_vivid_capture(v, fd, FRAME, TIMEOUT_MS, &step);
	close(v);
	v = -1;
	if (!vt_check(r == 0, "%s captures into the SMAF buffer %s %s", camera, step, r ? vt_errname(-r) : ""))
		goto done;
	imp_sync(fd, DMA_BUF_SYNC_READ);
	long bad = pixels_differing(p, ref, W * H);
	vt_check(bad == 0, "the captured frame equals vivid's reference: %ld of %d pixels differ", bad, W * H);
	long lit = 0;
	for (size_t i = 0; i < (size_t)W * H; i++)
		lit += (p[i] & 0xffffffu) != 0;
	vt_check(lit > W * H / 4, "the frame is not blank: %ld pixels have a colour", lit);

	/* The allocator holds the devices as O_PATH fds, so this is vkms's
	 * first real opener: its DRM master, as the writeback commit needs. */
	int card = open(card_path, O_RDWR | O_CLOEXEC);
	char why[256] = "";
	r = card < 0 ? -errno : smaf_vkms_readback(card, fd, W, H, W * 4, shown, why, sizeof(why));
	if (card >= 0)
		close(card);
	if (vt_check(r == 0, "vkms scans the buffer out and writes back the composed frame %s %s", why, r ? vt_errname(-r) : "")) {
		bad = pixels_differing(shown, p, W * H);
		vt_check(bad == 0, "what vkms composed equals the buffer: %ld of %d pixels differ", bad, W * H);
		bad = pixels_differing(shown, ref, W * H);
		vt_check(bad == 0, "and vivid's reference frame: %ld of %d pixels differ", bad, W * H);
	}
done:
	if (v >= 0)
		close(v);
	if (p != MAP_FAILED)
		munmap(p, FRAME);
	free(ref);
	free(shown);
out:
	if (mem)
		gst_memory_unref(mem);
	if (alloc)
		gst_object_unref(alloc);
	g_free(error);
	g_free(devices);
	return vt_finish();
}

static int refused(const char *camera, const char *card_path)
{
	vt_init("gstreamer-pixels-test --refused");
	gchar *devices = g_strdup_printf("%s,%s", camera, card_path), *error = NULL;
	GstAllocator *alloc = make_allocator(devices, NULL, FALSE, &error);
	vt_note("error: %s", error ? error : "(none)");
	vt_check(alloc && error && strstr(error, camera) && strstr(error, "physically contiguous memory"),
		 "the allocator says no allocator fits, naming %s and the contiguity it needs", camera);
	GstMemory *mem = alloc ? gst_allocator_alloc(alloc, FRAME, NULL) : NULL;
	vt_check(alloc && !mem, "and makes no buffer");
	if (mem)
		gst_memory_unref(mem);
	if (alloc)
		gst_object_unref(alloc);
	g_free(error);
	g_free(devices);
	return vt_finish();
}

static int secure(void)
{
	vt_init("gstreamer-pixels-test --secure");
	vt_check(smaf_open() == 0, "smaf_open %s", vt_why(0));
	for (int want = 1; want >= 0; want--) {
		gchar *error = NULL;
		GstAllocator *alloc = make_allocator(NULL, NULL, want, &error);
		GstMemory *mem = alloc && !error ? gst_allocator_alloc(alloc, 4096, NULL) : NULL;
		int fd = mem ? gst_dmabuf_memory_get_fd(mem) : -1;
		vt_check(fd >= 0 && smaf_get_secure(fd) == want, "secure=%s: the buffer's secure flag is %d %s",
			 want ? "TRUE" : "FALSE", fd >= 0 ? smaf_get_secure(fd) : -1, error ? error : "");
		if (mem)
			gst_memory_unref(mem);
		if (alloc)
			gst_object_unref(alloc);
		g_free(error);
	}
	smaf_close();
	return vt_finish();
}

int main(int argc, char **argv)
{
	gst_init(NULL, NULL);
	if (argc == 4 && !strcmp(argv[1], "--camera-display"))
		return camera_display(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "--refused"))
		return refused(argv[2], argv[3]);
	if (argc == 2 && !strcmp(argv[1], "--secure"))
		return secure();
	fprintf(stderr, "usage: gstreamer-pixels-test --camera-display CAMERA CARD | --refused CAMERA CARD | --secure\n");
	return 2;
}

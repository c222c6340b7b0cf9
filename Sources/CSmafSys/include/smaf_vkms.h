/* SPDX-License-Identifier: MIT */
/*
 * smaf_vkms.h - vkms, the virtual KMS driver, as a judge of what the kernel
 * sees through its own mapping of a dma-buf.
 *
 * vkms composes every plane in software: it imports a dma-buf framebuffer
 * and reads it through the exporter's vmap (dma_buf_vmap), exactly the path
 * software importers (vivid, vkms, most virtual devices) take. Its writeback
 * connector hands the composed frame back to userspace, so comparing that
 * frame with what was written through the dma-buf's own mmap tells whether
 * the exporter's kernel mapping holds the buffer's bytes.
 *
 * Used by smafd's start-up self-test (AllocatorDiscovery) and by the VM-tier
 * byte tests (Tests/vm/pixels/pixels_test.c). No libdrm: plain DRM uapi ioctls.
 */
#ifndef SMAF_VKMS_H
#define SMAF_VKMS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Scans out the XRGB8888 framebuffer held by dma-buf fd `dmabuf` (width x
 * height pixels, `pitch` bytes per row) on vkms (card: an O_RDWR fd on its
 * primary node, /dev/dri/cardN)
 * with a writeback-only atomic commit (vkms refuses its Virtual and
 * Writeback connectors on one CRTC), waits for the writeback fence and
 * copies the written-back frame (width x height XRGB8888, tightly packed)
 * into out. Everything it set up is torn down before it returns, and the
 * CRTC is switched off again.
 *
 * 0 on success; otherwise -errno, with the failing step in why (for a log
 * line; may be NULL). -EACCES means another process is DRM master of the
 * card (a compositor), so no commit is possible.
 */
int smaf_vkms_readback(int card, int dmabuf, uint32_t width, uint32_t height, uint32_t pitch, uint32_t *out,
		       char *why, size_t why_cap);

/* The byte pattern the self-test writes: pixel i of a frame gets a value
 * that differs in every 4 KiB page and in every pixel (low 24 bits only:
 * the X byte of XRGB8888 is not carried through composition). */
static inline uint32_t smaf_vkms_pattern(uint32_t i)
{
	return (i * 2654435761u ^ (i >> 10) * 40503u) & 0x00ffffffu;
}

/*
 * smafd's self-test for one exporter: writes smaf_vkms_pattern() through
 * the mapping of dma-buf `dmabuf` (at least width*height*4 bytes), has vkms
 * read it back and compares the low 24 bits of every pixel. The number of
 * wrong pixels (0: the kernel mapping holds the buffer's bytes), or -errno
 * if the check could not run (why says which step).
 */
long smaf_vkms_kmap_check(int card, int dmabuf, uint32_t width, uint32_t height, char *why, size_t why_cap);

#endif

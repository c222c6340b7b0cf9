/* SPDX-License-Identifier: MIT */
/*
 * buffer_checks.h: what the CPU and the importers make of one buffer fd,
 * shared by dmabuf_direct.c (buffers made straight from the kernel) and
 * dmabuf_test.c (buffers made by smafd). Include after vmtest.h and
 * importers.h.
 */
#ifndef SMAF_BUFFER_CHECKS_H
#define SMAF_BUFFER_CHECKS_H

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/*
 * The buffer fd of `size` bytes (at least `frame`, vivid's sizeimage):
 * it maps read-write and holds what is written; DMA_BUF_IOCTL_SYNC works on a
 * dma-buf and is ENOTTY otherwise; vgem (drm, if >= 0) imports a dma-buf and
 * refuses anything else with EINVAL; vivid instance 0 (vivid0, if >= 0)
 * captures a frame into a dma-buf that the CPU then reads through its
 * mapping, every page equal to the frame vivid draws into its own memory
 * (and not equal when `vmap_bug`: the 6.12 hugetlb udmabuf vmap bug of
 * docs/allocators.md, "Kernel mappings"), and refuses anything else at QBUF.
 */
static inline void bc_check_buffer(const char *label, int fd, size_t size, size_t frame, int dmabuf, int vmap_bug,
				   int drm, int vivid0)
{
	unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int mapped = vt_check(p != MAP_FAILED, "%s: maps read-write shared %s", label, vt_why(p == MAP_FAILED));
	if (mapped) {
		vt_fill(p, size, 11);
		long bad = vt_verify(p, size, 11);
		vt_check(bad < 0, "%s: the mapping holds what was written (first mismatch at %ld)", label, bad);
	}

	int r = imp_sync(fd, DMA_BUF_SYNC_RW);
	if (dmabuf)
		vt_check(r == 0, "%s: DMA_BUF_IOCTL_SYNC start/end %s", label, r ? vt_errname(-r) : "");
	else
		vt_check(r == -ENOTTY, "%s: DMA_BUF_IOCTL_SYNC is refused with ENOTTY (%s)", label, vt_errname(-r));

	if (drm >= 0) {
		long h = imp_vgem_import(drm, fd);
		if (dmabuf)
			vt_check(h > 0, "%s: vgem imports it (DRM_IOCTL_PRIME_FD_TO_HANDLE, handle %ld) %s", label, h,
				 h < 0 ? vt_errname((int)-h) : "");
		else
			vt_check(h == -EINVAL, "%s: vgem refuses it with EINVAL (%s)", label, h < 0 ? vt_errname((int)-h) : "imported");
		if (h > 0) {
			r = imp_gem_close(drm, (uint32_t)h);
			vt_check(r == 0, "%s: the GEM handle closes %s", label, r ? vt_errname(-r) : "");
		}
	}

	if (vivid0 >= 0) {
		const char *step;
		/* The frame vivid draws into its own memory, to compare every page
		 * with (its OSD text off, so that two frames are equal). */
		unsigned char *ref = dmabuf && mapped ? malloc(frame) : NULL;
		int rr = ref ? imp_vivid_quiet(vivid0) : -ENOMEM;
		if (rr == 0)
			rr = imp_vivid_reference(vivid0, ref, frame, 20000);
		if (dmabuf && mapped)
			vt_check(rr == 0, "%s: vivid instance 0 captures a reference frame into its own memory %s", label,
				 rr ? vt_errname(-rr) : "");
		if (mapped)
			imp_stamp_pages(p, size);
		r = imp_vivid_capture(vivid0, fd, size, 20000, &step);
		if (dmabuf) {
			vt_check(r == 0, "%s: vivid instance 0 (vmalloc) captures a frame into it (V4L2_MEMORY_DMABUF) %s %s", label,
				 step, r ? vt_errname(-r) : "");
			if (r == 0 && mapped && rr == 0) {
				imp_sync(fd, DMA_BUF_SYNC_READ);
				size_t pages = (frame + 4095) / 4096, differ = imp_pages_differing(p, ref, frame);
				if (vmap_bug)
					vt_check(differ > 0,
						 "%s: the frame is not where it belongs (the 6.12 hugetlb vmap bug, which smafd "
						 "declares: %zu of %zu pages differ from the reference)",
						 label, differ, pages);
				else
					vt_check(differ == 0, "%s: the CPU reads the frame through its mapping, every page as vivid drew it "
						 "(%zu of %zu pages differ from the reference)", label, differ, pages);
			}
			free(ref);
		} else {
			vt_check(r != 0 && !strcmp(step, "QBUF"), "%s: vivid instance 0 refuses it at QBUF (%s %s)", label, step,
				 r ? vt_errname(-r) : "captured");
		}
	}
	if (mapped)
		munmap(p, size);
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The kernel's dma-buf exporters that userspace can drive, one call each,
 * for the allocator plug-ins (Sources/SmafCore/Allocators/). Every function
 * returns a new file descriptor (O_CLOEXEC) or a result >= 0, and -1 with
 * errno set on failure; nothing is left half-made on failure.
 */
#ifndef SMAF_EXPORTERS_H
#define SMAF_EXPORTERS_H

#include <stddef.h>
#include <stdint.h>

/* memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_HUGE_<log2>),
 * huge_log2 = log2 of the huge page size (21 for 2 MiB). */
int smaf_sys_memfd_hugetlb(const char *name, unsigned int huge_log2);

/* memfd_secret(O_CLOEXEC): memory outside the kernel's direct map. */
int smaf_sys_memfd_secret(void);

/* DMA_HEAP_IOCTL_ALLOC on an open /dev/dma_heap/<name>: a dma-buf of `len`
 * bytes, read-write or read-only. */
int smaf_sys_heap_alloc(int heap_fd, uint64_t len, int read_write);

/* UDMABUF_CREATE on an open /dev/udmabuf over `size` bytes of `memfd` from
 * offset 0 (the memfd must be sealed against shrinking, not against writes). */
int smaf_sys_udmabuf_create(int udmabuf_fd, int memfd, uint64_t size);

/* DRM: the driver name of an open DRM node (DRM_IOCTL_VERSION) into buf. */
int smaf_sys_drm_driver_name(int drm_fd, char *buf, size_t len);
/* DRM_IOCTL_DROP_MASTER: give up the master role that opening a primary
 * node hands to the first opener, so a display server can still take it. */
int smaf_sys_drm_drop_master(int drm_fd);
/* A dumb buffer of exactly `len` bytes (a multiple of page_size) exported
 * as a dma-buf (DRM_IOCTL_MODE_CREATE_DUMB, DRM_IOCTL_PRIME_HANDLE_TO_FD);
 * the GEM handle is closed again, the dma-buf keeps the object alive. */
int smaf_sys_drm_dumb_dmabuf(int drm_fd, uint64_t len, uint64_t page_size, int read_write);

/* DMA_BUF_SET_NAME_B: the name shown in fdinfo and /proc/PID/fd links. */
int smaf_sys_dmabuf_set_name(int dmabuf_fd, const char *name);

/* The buffer's exporter name as fdinfo shows it ("exp_name:"), or -1 with
 * errno ENOTTY if the file is no dma-buf. */
int smaf_sys_dmabuf_exp_name(int fd, char *buf, size_t len);

#endif

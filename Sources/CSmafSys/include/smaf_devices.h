/* SPDX-License-Identifier: MIT */
/*
 * What Linux knows about a character device that will use a buffer: its
 * udev properties (rules and hwdb, through libudev) and its sysfs path.
 */
#ifndef SMAF_DEVICES_H
#define SMAF_DEVICES_H

#include <stdint.h>
#include <sys/types.h>

struct smaf_udev_facts {
	int found;           /* sysfs knows the device */
	int initialized;     /* udev has processed it (its database has an entry) */
	int has_contiguous;  /* SMAF_DMA_CONTIGUOUS is set ... */
	int contiguous;      /* ... to 1, yes or true */
	int has_mask_bits;
	unsigned mask_bits;  /* SMAF_DMA_MASK_BITS */
	int has_align;
	uint64_t align;      /* SMAF_DMA_ALIGN (bytes) */
	int has_kernel_mapping;
	int kernel_mapping;  /* SMAF_KERNEL_MAPPING: 1 the device reads or writes buffers through kernel mappings, 0 it does not */
	int bad_value;       /* one of them is set but does not parse */
	char syspath[512];
};

/* Reads the udev facts of character device major:minor afresh (no cache).
 * 0, or -1 with errno (ENOMEM). A device sysfs does not know gives 0 with
 * found = 0. */
int smaf_sys_udev_facts(unsigned major, unsigned minor, struct smaf_udev_facts *out);

/* O_PATH, which Swift's Glibc module does not export: an fd that names a
 * file without opening it (for a device: no driver open). */
extern const int SMAF_O_PATH;

/* stat(path): 1 and the device numbers if it is a character device, 0 if
 * it is some other file, -1 with errno if it cannot be stat'ed. */
int smaf_sys_char_device(const char *path, unsigned *major, unsigned *minor);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "smaf_devices.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <libudev.h>

const int SMAF_O_PATH = O_PATH;

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

/* 1 for 1/yes/true, 0 for 0/no/false; anything else sets *bad and is 0. */
static int parse_bool(const char *v, int *bad)
{
	if (!strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "true"))
		return 1;
	if (strcmp(v, "0") && strcasecmp(v, "no") && strcasecmp(v, "false"))
		*bad = 1;
	return 0;
}

int smaf_sys_udev_facts(unsigned major, unsigned minor, struct smaf_udev_facts *out)
{
	memset(out, 0, sizeof(*out));
	struct udev *udev = udev_new();
	if (!udev) {
		errno = ENOMEM;
		return -1;
	}
	struct udev_device *dev = udev_device_new_from_devnum(udev, 'c', makedev(major, minor));
	if (dev) {
		out->found = 1;
		out->initialized = udev_device_get_is_initialized(dev) > 0;
		const char *p = udev_device_get_syspath(dev);
		if (p)
			strncpy(out->syspath, p, sizeof(out->syspath) - 1);
		const char *v = udev_device_get_property_value(dev, "SMAF_DMA_CONTIGUOUS");
		if (v) {
			out->has_contiguous = 1;
			out->contiguous = parse_bool(v, &out->bad_value);
		}
		if ((v = udev_device_get_property_value(dev, "SMAF_KERNEL_MAPPING"))) {
			out->has_kernel_mapping = 1;
			out->kernel_mapping = parse_bool(v, &out->bad_value);
		}
		uint64_t n;
		if ((v = udev_device_get_property_value(dev, "SMAF_DMA_MASK_BITS"))) {
			if (parse_u64(v, &n) == 0 && n >= 12 && n <= 64) {
				out->has_mask_bits = 1;
				out->mask_bits = (unsigned)n;
			} else {
				out->bad_value = 1;
			}
		}
		if ((v = udev_device_get_property_value(dev, "SMAF_DMA_ALIGN"))) {
			if (parse_u64(v, &n) == 0 && n > 0 && (n & (n - 1)) == 0) {
				out->has_align = 1;
				out->align = n;
			} else {
				out->bad_value = 1;
			}
		}
		udev_device_unref(dev);
	}
	udev_unref(udev);
	return 0;
}

int smaf_sys_char_device(const char *path, unsigned *major_out, unsigned *minor_out)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	if (!S_ISCHR(st.st_mode))
		return 0;
	*major_out = major(st.st_rdev);
	*minor_out = minor(st.st_rdev);
	return 1;
}

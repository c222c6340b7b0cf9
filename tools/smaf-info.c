/* SPDX-License-Identifier: MIT */
/*
 * smaf-info: list the allocators a SMAF device offers, using nothing but
 * open(2), ioctl(SMAF_IOC_GET_INFO) and our smaf.h - what any C program
 * written for the v10 driver does.
 *
 *   smaf-info [DEVICE]        (default /dev/smaf)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "smaf.h"

int main(int argc, char **argv)
{
	const char *device = argc > 1 ? argv[1] : "/dev/smaf";
	int fd = open(device, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "smaf-info: cannot open %s: %s%s\n", device, strerror(errno),
			errno == ENOENT ? " (is smafd running?)" : "");
		return 1;
	}
	struct smaf_info info;
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, SMAF_IOC_GET_INFO, &info) != 0) {
		fprintf(stderr, "smaf-info: SMAF_IOC_GET_INFO failed: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	printf("%s: %u allocator%s (index 0 is used when no name is given)\n", device, info.count,
	       info.count == 1 ? "" : "s");
	for (unsigned i = 0; i < info.count; i++) {
		struct smaf_info e;
		memset(&e, 0, sizeof(e));
		e.index = i;
		if (ioctl(fd, SMAF_IOC_GET_INFO, &e) != 0) {
			fprintf(stderr, "smaf-info: index %u: %s\n", i, strerror(errno));
			close(fd);
			return 1;
		}
		printf("  %u  %s\n", i, (const char *)e.name);
	}
	close(fd);
	return 0;
}

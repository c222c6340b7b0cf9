/* SPDX-License-Identifier: MIT */
/*
 * privilege-probe SIZE COUNT [ALLOCATOR]: creates up to COUNT buffers of SIZE
 * bytes with libsmaf (unnamed, or from ALLOCATOR) and keeps them all, then prints "created=K errno=NAME" (NAME is
 * "none" if all succeeded), checks the ones it got still map, and closes
 * everything. For smafd's --max-* limits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libsmaf.h"
#include "smaf.h"

static const char *name(int e)
{
	switch (e) {
	case 0: return "none";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case EMFILE: return "EMFILE";
	case ENOSPC: return "ENOSPC";
	case ENOTCONN: return "ENOTCONN";
	default: return strerror(e);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: %s SIZE COUNT [ALLOCATOR]\n", argv[0]);
		return 2;
	}
	unsigned size = (unsigned)strtoul(argv[1], NULL, 0);
	int count = atoi(argv[2]);
	char *allocator = argc == 4 ? argv[3] : NULL;
	if (smaf_open() != 0) {
		perror("smaf_open");
		return 1;
	}
	int *fds = calloc((size_t)count, sizeof(int)), made = 0, err = 0;
	for (; made < count; made++) {
		if (smaf_create_buffer(size, SMAF_RDWR | SMAF_CLOEXEC, allocator, &fds[made]) != 0) {
			err = errno;
			break;
		}
	}
	int usable = 1;
	for (int i = 0; i < made; i++) {
		char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		if (p == MAP_FAILED) {
			usable = 0;
			continue;
		}
		p[0] = 1;
		munmap(p, 4096);
		close(fds[i]);
	}
	printf("created=%d errno=%s usable=%s\n", made, name(err), usable ? "yes" : "no");
	smaf_close();
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * quota-hog SIZE COUNT ALLOCATOR [hold]: creates up to COUNT buffers of
 * SIZE bytes from ALLOCATOR with libsmaf, writing every page of each (so
 * lazy allocators commit them too) and keeping the first one mapped, until
 * a CREATE fails. Prints "created=K bytes=B errno=NAME pid=P" (NAME "none"
 * if all succeeded). With "hold" it then waits for SIGTERM (or SIGINT) with
 * every buffer still open, so a test can look at smafd's figures, and
 * closes them all before exiting 0. For Tests/vm/quota/quota-tests.sh.
 */
#include <errno.h>
#include <libsmaf.h>
#include <signal.h>
#include <smaf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static const char *errno_name(int e)
{
	switch (e) {
	case 0: return "none";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case EMFILE: return "EMFILE";
	case ENOTCONN: return "ENOTCONN";
	default: return strerror(e);
	}
}

int main(int argc, char **argv)
{
	if (argc != 4 && !(argc == 5 && strcmp(argv[4], "hold") == 0)) {
		fprintf(stderr, "usage: %s SIZE COUNT ALLOCATOR [hold]\n", argv[0]);
		return 2;
	}
	unsigned size = (unsigned)strtoul(argv[1], NULL, 0);
	int count = atoi(argv[2]), made = 0, err = 0;
	int *fds = calloc((size_t)(count > 0 ? count : 1), sizeof(int));
	char *first = MAP_FAILED;
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (!fds || smaf_open() != 0) {
		perror("smaf_open");
		return 1;
	}
	long page = sysconf(_SC_PAGESIZE);
	for (; made < count; made++) {
		if (smaf_create_buffer(size, SMAF_RDWR | SMAF_CLOEXEC, argv[3], &fds[made]) != 0) {
			err = errno;
			break;
		}
		char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[made], 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		for (unsigned off = 0; off < size; off += (unsigned)page)
			p[off] = (char)(off / (unsigned)page + 1);
		if (made == 0)
			first = p;
		else
			munmap(p, size);
	}
	printf("created=%d bytes=%llu errno=%s pid=%d\n", made, (unsigned long long)made * size, errno_name(err), (int)getpid());
	fflush(stdout);
	if (argc == 5)
		while (!stop)
			pause();
	if (first != MAP_FAILED)
		munmap(first, size);
	for (int i = 0; i < made; i++)
		close(fds[i]);
	smaf_close();
	return 0;
}

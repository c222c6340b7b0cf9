/* SPDX-License-Identifier: MIT */
/* Allocate a SMAF buffer, map it, share it with a child, make it secure. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "libsmaf.h"
#include "smaf.h"

int main(void)
{
	int fd;
	if (smaf_open() != 0 || smaf_create_buffer(16384, SMAF_RDWR | SMAF_CLOEXEC, NULL, &fd) != 0)
		return perror("smaf"), 1;
	char *p = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	strcpy(p, "hello from the parent");
	if (fork() == 0) { /* the child inherits fd and mapping: same memory */
		printf("child reads: %s\n", p);
		strcpy(p, "hello from the child");
		fflush(stdout);
		_exit(0);
	}
	wait(NULL);
	printf("parent reads: %s\n", p);
	int set = smaf_set_secure(fd, 1);
	printf("set_secure: %d, get_secure: %d\n", set, smaf_get_secure(fd));
	munmap(p, 16384);
	close(fd);
	smaf_close();
	return 0;
}

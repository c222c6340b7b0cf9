/* SPDX-License-Identifier: MIT */
/*
 * systemd_client: the client of Tests/vm/systemd-tests.sh. It is built in the
 * VM by a user of the installed packages with nothing but
 * `pkg-config --cflags --libs libsmaf`, and run in that user's login session.
 *
 *   systemd-client write   create a 1 MiB buffer, map it, write and verify it
 *   systemd-client hold    the same, then wait for a line on stdin (smafd is
 *                          restarted meanwhile): the mapped data must still be
 *                          there, and the next create, map and write must work
 *
 * Prints one line per step; on failure the step and errno's name and text
 * (so a caller outside group smaf shows "EACCES"). Exit status 0 or 1.
 */
#include <errno.h>
#include <libsmaf.h>
#include <smaf.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define LEN (1024 * 1024)

static int fail(const char *step)
{
	int e = errno;
	printf("FAIL %s: %s (%s)\n", step, e == EACCES ? "EACCES" : e == ENOENT ? "ENOENT" : "errno", strerror(e));
	return 1;
}

/* A buffer made, mapped and filled with SEED's pattern; NULL after fail(). */
static unsigned char *make_buffer(unsigned char seed)
{
	int fd;
	if (smaf_create_buffer(LEN, SMAF_RDWR | SMAF_CLOEXEC, NULL, &fd) != 0)
		return fail("smaf_create_buffer"), NULL;
	unsigned char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap"), NULL;
	close(fd);
	for (size_t i = 0; i < LEN; i++)
		p[i] = (unsigned char)(seed + i * 7);
	return p;
}

static int intact(const unsigned char *p, unsigned char seed)
{
	for (size_t i = 0; i < LEN; i++)
		if (p[i] != (unsigned char)(seed + i * 7))
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	int hold = argc > 1 && strcmp(argv[1], "hold") == 0;
	if (smaf_open() != 0)
		return fail("smaf_open");
	unsigned char *a = make_buffer(1);
	if (!a)
		return 1;
	if (!intact(a, 1))
		return printf("FAIL the buffer does not read back what was written\n"), 1;
	printf("created, mapped and wrote a %d-byte buffer\n", LEN);
	if (!hold)
		return 0;

	printf("holding\n");
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		return printf("FAIL no line on stdin\n"), 1;
	if (!intact(a, 1))
		return printf("FAIL the mapped buffer changed across the restart\n"), 1;
	printf("after the restart: the mapped buffer still holds its data\n");
	unsigned char *b = make_buffer(2);
	if (!b || !intact(b, 2))
		return 1;
	printf("after the restart: a new buffer created, mapped and written\n");
	return 0;
}

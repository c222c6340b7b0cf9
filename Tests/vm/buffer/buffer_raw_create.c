/* SPDX-License-Identifier: MIT */
/*
 * buffer_raw_create: SMAF_IOC_CREATE with a raw ioctl(), as a program written for
 * the kernel driver does it - no libsmaf. Prints "ok"/"FAIL" lines and
 * "buffer-raw-create MODE: N passed, M failed"; exit status 1 on any failure.
 *
 *   buffer_raw_create expect-fd [DEVICE]        run under LD_PRELOAD=libsmaf-preload.so:
 *                                        CREATE gives a real, mappable fd, and
 *                                        other requests pass through the shim
 *   buffer_raw_create expect-enotconn [DEVICE]  run without it: CREATE fails with
 *                                        ENOTCONN and the fd field is untouched
 *
 * DEVICE defaults to /dev/smaf.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../vmtest.h"

#define LENGTH 8192
#define UNTOUCHED (-7)

static struct smaf_create_data request(unsigned flags)
{
	struct smaf_create_data c;
	memset(&c, 0, sizeof(c));
	c.length = LENGTH;
	c.flags = flags;
	c.fd = UNTOUCHED;
	return c;
}

static void expect_fd(int dev)
{
	/* errno must be left alone by a successful ioctl, shim or not. */
	struct smaf_create_data c = request(SMAF_RDWR | SMAF_CLOEXEC);
	errno = 4242;
	int r = ioctl(dev, SMAF_IOC_CREATE, &c);
	int e = errno;
	vt_check(r == 0 && c.fd >= 0, "CREATE %d bytes SMAF_RDWR|SMAF_CLOEXEC returns an fd (r=%d fd=%d%s%s)", LENGTH, r, c.fd,
	      r ? ", " : "", r ? strerror(e) : "");
	vt_check(r != 0 || e == 4242, "a successful CREATE leaves errno alone (errno %d)", e);
	if (r == 0 && c.fd >= 0) {
		int fdfl = fcntl(c.fd, F_GETFD);
		vt_check(fdfl >= 0 && (fdfl & FD_CLOEXEC), "the fd is open and has FD_CLOEXEC");
		struct stat st;
		vt_check(fstat(c.fd, &st) == 0 && st.st_size == LENGTH, "the buffer is %d bytes", LENGTH);
		unsigned char *p = mmap(NULL, LENGTH, PROT_READ | PROT_WRITE, MAP_SHARED, c.fd, 0);
		vt_check(p != MAP_FAILED, "the fd maps read-write shared %s", p == MAP_FAILED ? strerror(errno) : "");
		if (p != MAP_FAILED) {
			int zero = 1, kept = 1;
			for (int i = 0; i < LENGTH; i++)
				zero &= p[i] == 0;
			for (int i = 0; i < LENGTH; i++)
				p[i] = (unsigned char)(i * 13 + 1);
			for (int i = 0; i < LENGTH; i++)
				kept &= p[i] == (unsigned char)(i * 13 + 1);
			vt_check(zero && kept, "the mapping reads as zeros, then holds what was written");
			munmap(p, LENGTH);
		}
		close(c.fd);
	}

	c = request(SMAF_RDWR);
	r = ioctl(dev, SMAF_IOC_CREATE, &c);
	int fdfl = r == 0 ? fcntl(c.fd, F_GETFD) : -1;
	vt_check(r == 0 && fdfl >= 0 && !(fdfl & FD_CLOEXEC), "CREATE without SMAF_CLOEXEC gives an fd without FD_CLOEXEC");
	if (r == 0 && c.fd >= 0)
		close(c.fd);

	/* Refusals come back as from the device, the struct untouched. */
	c = request(SMAF_RDWR);
	memcpy(c.name, "deadbeef", 9);
	struct smaf_create_data before = c;
	r = ioctl(dev, SMAF_IOC_CREATE, &c);
	e = errno;
	vt_check(r == -1 && e == EINVAL && !memcmp(&before, &c, sizeof(c)),
	      "CREATE with an unknown allocator fails with EINVAL, struct untouched (%s)", r ? strerror(e) : "succeeded");
	errno = 0;
	r = ioctl(dev, SMAF_IOC_CREATE, (void *)8);
	e = errno;
	vt_check(r == -1 && e == EFAULT, "CREATE with a bad pointer fails with EFAULT (%s)", r ? strerror(e) : "succeeded");

	/* Everything else passes through the shim untouched. */
	struct smaf_info info;
	memset(&info, 0, sizeof(info));
	info.reserved1 = 0x11223344;
	info.reserved2 = 0x55667788;
	memset(info.reserved3, 0x5A, sizeof(info.reserved3));
	r = ioctl(dev, SMAF_IOC_GET_INFO, &info);
	int echoed = info.reserved1 == 0x11223344 && info.reserved2 == 0x55667788 && info.version == 0 && info.index == 0;
	for (size_t i = 0; i < sizeof(info.reserved3); i++)
		echoed &= info.reserved3[i] == 0x5A;
	vt_check(r == 0 && info.count >= 1 && info.name[0] && echoed,
	      "GET_INFO passes through: count %u, index 0 is '%s', reserved fields echoed", info.count, (char *)info.name);
	memset(&info, 0, sizeof(info));
	info.index = 0xFFFFFFFFu;
	errno = 0;
	r = ioctl(dev, SMAF_IOC_GET_INFO, &info);
	e = errno;
	vt_check(r == -1 && e == EINVAL, "GET_INFO out of range still fails with EINVAL (%s)", r ? strerror(e) : "succeeded");
	errno = 0;
	r = ioctl(dev, _IO('S', 9));
	e = errno;
	vt_check(r == -1 && e == EINVAL, "an unknown request still fails with EINVAL (%s)", r ? strerror(e) : "succeeded");

	int p[2];
	if (pipe(p) == 0) {
		int n = -1;
		int w = (int)write(p[1], "abc", 3);
		r = ioctl(p[0], FIONREAD, &n);
		vt_check(w == 3 && r == 0 && n == 3, "ioctl(FIONREAD) on a pipe works as usual (%d bytes)", n);
		/* The CREATE number sent to something that is not a SMAF node goes
		 * to the kernel as it is. */
		c = request(SMAF_RDWR);
		errno = 0;
		r = ioctl(p[0], SMAF_IOC_CREATE, &c);
		e = errno;
		vt_check(r == -1 && e == ENOTTY && c.fd == UNTOUCHED, "CREATE on a pipe fails with ENOTTY, fd field untouched (%s)",
		      r ? strerror(e) : "succeeded");
		close(p[0]);
		close(p[1]);
		c = request(SMAF_RDWR);
		errno = 0;
		r = ioctl(p[0], SMAF_IOC_CREATE, &c);
		e = errno;
		vt_check(r == -1 && e == EBADF && c.fd == UNTOUCHED, "CREATE on a closed fd fails with EBADF (%s)",
		      r ? strerror(e) : "succeeded");
	}
}

static void expect_enotconn(int dev)
{
	struct smaf_create_data c = request(SMAF_RDWR | SMAF_CLOEXEC);
	errno = 0;
	int r = ioctl(dev, SMAF_IOC_CREATE, &c);
	int e = errno;
	vt_check(r == -1 && e == ENOTCONN, "CREATE without a handoff channel fails with ENOTCONN (r=%d%s%s)", r,
	      r ? ", " : "", r ? strerror(e) : "");
	vt_check(c.fd == UNTOUCHED, "the fd field is untouched (%d)", c.fd);
	if (r == 0 && c.fd >= 0)
		close(c.fd);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3 || (strcmp(argv[1], "expect-fd") && strcmp(argv[1], "expect-enotconn"))) {
		fprintf(stderr, "usage: %s expect-fd|expect-enotconn [DEVICE]\n", argv[0]);
		return 2;
	}
	char name[64];
	snprintf(name, sizeof(name), "buffer-raw-create %s", argv[1]);
	vt_init(name);
	const char *device = argc > 2 ? argv[2] : "/dev/smaf";
	int dev = open(device, O_RDWR | O_CLOEXEC);
	vt_check(dev >= 0, "open %s %s", device, dev < 0 ? strerror(errno) : "");
	if (dev >= 0) {
		if (!strcmp(argv[1], "expect-fd"))
			expect_fd(dev);
		else
			expect_enotconn(dev);
		close(dev);
	}
	return vt_finish();
}

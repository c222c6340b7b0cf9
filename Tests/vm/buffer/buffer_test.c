/* SPDX-License-Identifier: MIT */
/*
 * buffer_test: what a SMAF buffer fd handed out through libsmaf must do on a
 * real kernel: sharing, flags, lifetime, zeroing, concurrency and the secure
 * policies. Each subcommand prints "ok"/"FAIL" lines and
 * "buffer-test SUB: N passed, M failed", and exits 1 on any failure.
 *
 *   buffer_test share          fork, SCM_RIGHTS, children with their own channel
 *   buffer_test flags          SMAF_RDWR / SMAF_CLOEXEC on the received fd
 *   buffer_test survive        buffers outlive smaf_close(); API when closed
 *   buffer_test zero           new buffers read as zeros; page rounding
 *   buffer_test threads        4 threads x 200 create/mmap/write/verify/close
 *   buffer_test stress N       N creates + closes, timed
 *   buffer_test status [DEV]   one line: SMAF_IOC_EXT_STATUS
 *   buffer_test secure-deny    --secure-module deny-cpu
 *   buffer_test secure-grant   --secure-module testsecure
 *   buffer_test secure-none    --secure-module none
 *
 * The device is /dev/smaf, or $SMAF_DEVICE.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libsmaf.h"
#include "../vmtest.h"

#define LENGTH (16 * 1024)

static const char *sub = "";
static long page_size;

static size_t round_up(size_t n)
{
	return (n + (size_t)page_size - 1) / (size_t)page_size * (size_t)page_size;
}

/* A byte pattern that differs per seed and per position. */
static unsigned char pattern(unsigned seed, size_t i)
{
	return (unsigned char)(seed * 131u + i * 7u + (i >> 8) + 1u);
}

static void fill(void *p, size_t n, unsigned seed)
{
	unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = pattern(seed, i);
}

/* Index of the first byte that does not match, or -1. */
static long verify(const void *p, size_t n, unsigned seed)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != pattern(seed, i))
			return (long)i;
	return -1;
}

static long first_nonzero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return (long)i;
	return -1;
}

static void *map(int fd, size_t n, int prot)
{
	return mmap(NULL, n, prot, MAP_SHARED, fd, 0);
}

/* A new buffer's fd, or -1 after a FAIL line saying why. */
static int create(unsigned length, unsigned flags, const char *what)
{
	int fd = -1;
	if (smaf_create_buffer(length, flags, NULL, &fd) != 0) {
		vt_check(0, "%s: smaf_create_buffer(%u, 0x%x): %s", what, length, flags, strerror(errno));
		return -1;
	}
	return fd;
}

static int open_library(void)
{
	if (smaf_open() != 0) {
		vt_check(0, "smaf_open (%s): %s", vt_device_path(), strerror(errno));
		return -1;
	}
	return 0;
}

static int send_fd(int sock, int fd)
{
	return vt_send_fd(sock, fd, "x", 1, 0);
}

static int recv_fd(int sock)
{
	char byte;
	int fd;
	return vt_recv_fd(sock, &byte, 1, &fd, 0) == 1 ? fd : -1;
}

/* ---- share ---------------------------------------------------------------- */

/* In a child: create, map, check zeros, write, verify, close - a few times. */
static int child_creates(void)
{
	for (unsigned i = 0; i < 3; i++) {
		int fd = -1;
		if (smaf_create_buffer(LENGTH, SMAF_RDWR | SMAF_CLOEXEC, NULL, &fd) != 0)
			return 31;
		unsigned char *q = map(fd, LENGTH, PROT_READ | PROT_WRITE);
		if (q == MAP_FAILED)
			return 32;
		if (first_nonzero(q, LENGTH) >= 0)
			return 33;
		fill(q, LENGTH, 40 + i);
		if (verify(q, LENGTH, 40 + i) >= 0)
			return 34;
		munmap(q, LENGTH);
		close(fd);
	}
	return 0;
}

static int t_share(void)
{
	if (open_library() != 0)
		return vt_finish();
	int fd = create(LENGTH, SMAF_RDWR, "share");
	if (fd < 0)
		return vt_finish();
	unsigned char *p = map(fd, LENGTH, PROT_READ | PROT_WRITE);
	vt_check(p != MAP_FAILED, "share: mmap read-write shared %s", p == MAP_FAILED ? strerror(errno) : "");
	if (p == MAP_FAILED)
		return vt_finish();
	fill(p, LENGTH, 1);

	/* 1. fork: the child maps the inherited fd. */
	pid_t pid = fork();
	if (pid == 0) {
		unsigned char *q = map(fd, LENGTH, PROT_READ | PROT_WRITE);
		if (q == MAP_FAILED)
			_exit(10);
		if (verify(q, LENGTH, 1) >= 0)
			_exit(11);
		fill(q, LENGTH, 2);
		_exit(0);
	}
	int st = vt_wait_child(pid);
	vt_check(st == 0, "share: a forked child maps the inherited fd and sees the parent's data (child status %d)", st);
	long bad = verify(p, LENGTH, 2);
	vt_check(bad < 0, "share: the parent sees the child's write through its own mapping (first difference at %ld)", bad);

	/* 2. SCM_RIGHTS to a child that does not keep the inherited fd. */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		vt_check(0, "share: socketpair: %s", strerror(errno));
		return vt_finish();
	}
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		close(fd);
		int got = recv_fd(sv[1]);
		if (got < 0)
			_exit(20);
		unsigned char *q = map(got, LENGTH, PROT_READ | PROT_WRITE);
		if (q == MAP_FAILED)
			_exit(21);
		if (verify(q, LENGTH, 2) >= 0)
			_exit(22);
		fill(q, LENGTH, 3);
		_exit(0);
	}
	close(sv[1]);
	int sent = send_fd(sv[0], fd);
	vt_check(sent == 0, "share: the buffer fd is sent over a socketpair with SCM_RIGHTS %s", sent ? strerror(errno) : "");
	st = vt_wait_child(pid);
	vt_check(st == 0, "share: the receiving child maps it, sees the data and writes (child status %d)", st);
	bad = verify(p, LENGTH, 3);
	vt_check(bad < 0, "share: the parent sees that child's write (first difference at %ld)", bad);
	close(sv[0]);

	/* 3. A child that creates buffers itself, over its own channel. */
	pid = fork();
	if (pid == 0) {
		if (smaf_open() != 0)
			_exit(30);
		int r = child_creates();
		smaf_close();
		smaf_close(); /* its own open and the one inherited from the parent */
		_exit(r);
	}
	st = vt_wait_child(pid);
	vt_check(st == 0, "share: a forked child calls smaf_open and creates, maps and writes 3 buffers (child status %d)", st);

	/* 4. The same in a child made by the raw clone system call, which runs
	 *    no fork handlers: the library must notice the pid by itself. */
	pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		_exit(child_creates());
	st = pid < 0 ? -1 : vt_wait_child(pid);
	vt_check(st == 0, "share: a child made by a raw clone() (no fork handlers) creates 3 buffers (child status %d)", st);

	/* 5. The parent's own channel was left alone by all of that. */
	int fd2 = create(LENGTH, SMAF_RDWR, "share");
	unsigned char *q = fd2 >= 0 ? map(fd2, LENGTH, PROT_READ | PROT_WRITE) : MAP_FAILED;
	vt_check(q != MAP_FAILED && first_nonzero(q, LENGTH) < 0, "share: the parent still creates and maps buffers afterwards");
	if (q != MAP_FAILED)
		munmap(q, LENGTH);
	if (fd2 >= 0)
		close(fd2);
	munmap(p, LENGTH);
	close(fd);
	smaf_close();
	return vt_finish();
}

/* ---- flags ---------------------------------------------------------------- */

/* Exit status of /bin/sh checking that fd is open after exec. */
static int fd_survives_exec(int fd)
{
	char script[64];
	snprintf(script, sizeof(script), "test -e /proc/self/fd/%d", fd);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	return pid < 0 ? -1 : vt_wait_child(pid);
}

static int t_flags(void)
{
	if (open_library() != 0)
		return vt_finish();

	int ro = create(LENGTH, 0, "flags");
	if (ro >= 0) {
		errno = 0;
		void *p = map(ro, LENGTH, PROT_READ | PROT_WRITE);
		int e = errno;
		vt_check(p == MAP_FAILED && e == EACCES, "flags: without SMAF_RDWR, mmap PROT_WRITE MAP_SHARED fails with EACCES (%s)",
		      p == MAP_FAILED ? strerror(e) : "it was mapped");
		if (p != MAP_FAILED)
			munmap(p, LENGTH);
		p = map(ro, LENGTH, PROT_READ);
		vt_check(p != MAP_FAILED && first_nonzero(p, LENGTH) < 0,
		      "flags: without SMAF_RDWR, mmap PROT_READ works and reads zeros %s", p == MAP_FAILED ? strerror(errno) : "");
		if (p != MAP_FAILED)
			munmap(p, LENGTH);
		int fl = fcntl(ro, F_GETFL);
		vt_check(fl >= 0 && (fl & O_ACCMODE) == O_RDONLY, "flags: without SMAF_RDWR the fd is O_RDONLY (F_GETFL 0%o)", fl);
		int fdfl = fcntl(ro, F_GETFD);
		vt_check(fdfl >= 0 && !(fdfl & FD_CLOEXEC), "flags: without SMAF_CLOEXEC, FD_CLOEXEC is clear");
	}

	int rw = create(LENGTH, SMAF_RDWR, "flags");
	if (rw >= 0) {
		int fl = fcntl(rw, F_GETFL);
		vt_check(fl >= 0 && (fl & O_ACCMODE) == O_RDWR, "flags: with SMAF_RDWR the fd is O_RDWR (F_GETFL 0%o)", fl);
		void *p = map(rw, LENGTH, PROT_READ | PROT_WRITE);
		vt_check(p != MAP_FAILED, "flags: with SMAF_RDWR, mmap PROT_WRITE MAP_SHARED works %s",
		      p == MAP_FAILED ? strerror(errno) : "");
		if (p != MAP_FAILED)
			munmap(p, LENGTH);
		int fdfl = fcntl(rw, F_GETFD);
		vt_check(fdfl >= 0 && !(fdfl & FD_CLOEXEC), "flags: SMAF_RDWR alone leaves FD_CLOEXEC clear");
	}

	int ce = create(LENGTH, SMAF_RDWR | SMAF_CLOEXEC, "flags");
	if (ce >= 0) {
		int fdfl = fcntl(ce, F_GETFD);
		vt_check(fdfl >= 0 && (fdfl & FD_CLOEXEC), "flags: with SMAF_CLOEXEC, FD_CLOEXEC is set");
	}

	if (rw >= 0 && ce >= 0) {
		int st = fd_survives_exec(rw);
		vt_check(st == 0, "flags: a buffer without SMAF_CLOEXEC is still open after exec (sh status %d)", st);
		st = fd_survives_exec(ce);
		vt_check(st == 1, "flags: a buffer with SMAF_CLOEXEC is closed by exec (sh status %d)", st);
	}
	if (ro >= 0)
		close(ro);
	if (rw >= 0)
		close(rw);
	if (ce >= 0)
		close(ce);
	smaf_close();
	return vt_finish();
}

/* ---- survive -------------------------------------------------------------- */

/* How many of our fds refer to the SMAF device node, or -1. */
static int device_fds(void)
{
	struct stat dev;
	if (stat(vt_device_path(), &dev) != 0)
		return -1;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		struct stat st;
		if (e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISCHR(st.st_mode) &&
		    st.st_rdev == dev.st_rdev)
			n++;
	}
	closedir(d);
	return n;
}

static int t_survive(void)
{
	/* Counted relative to what was open before (an inherited fd may
	 * refer to the node too). */
	const int before = device_fds();
	if (open_library() != 0)
		return vt_finish();
	int fd = create(LENGTH, SMAF_RDWR | SMAF_CLOEXEC, "survive");
	if (fd < 0)
		return vt_finish();
	unsigned char *p = map(fd, LENGTH, PROT_READ | PROT_WRITE);
	if (p == MAP_FAILED) {
		vt_check(0, "survive: mmap: %s", strerror(errno));
		return vt_finish();
	}
	fill(p, LENGTH, 1);

	vt_check(smaf_open() == 0, "survive: a second smaf_open counts one more user");
	smaf_close();
	int other = -1;
	int r = smaf_create_buffer(LENGTH, SMAF_RDWR, NULL, &other);
	vt_check(r == 0 && device_fds() == before + 1, "survive: after one of two smaf_close calls the device is still open and usable");
	if (other >= 0)
		close(other);
	smaf_close();
	int n = device_fds() - before;
	vt_check(n == 0, "survive: the last smaf_close closes the device (%d more fds of this process refer to it than before)", n);

	long bad = verify(p, LENGTH, 1);
	vt_check(bad < 0, "survive: the mapping is still readable after smaf_close (first difference at %ld)", bad);
	fill(p, LENGTH, 2);
	bad = verify(p, LENGTH, 2);
	vt_check(bad < 0, "survive: ... and writable");
	unsigned char *q = map(fd, LENGTH, PROT_READ | PROT_WRITE);
	vt_check(q != MAP_FAILED && verify(q, LENGTH, 2) < 0, "survive: the fd can still be mapped, and shows the same memory %s",
	      q == MAP_FAILED ? strerror(errno) : "");
	if (q != MAP_FAILED)
		munmap(q, LENGTH);

	/* The original's conventions while the device is closed. */
	int untouched = 12345;
	r = smaf_create_buffer(LENGTH, SMAF_RDWR, NULL, &untouched);
	vt_check(r == -1 && untouched == 12345, "survive: closed: smaf_create_buffer returns -1 and leaves *fd alone");
	vt_check(smaf_set_secure(fd, 1) == -1, "survive: closed: smaf_set_secure returns -1");
	vt_check(smaf_get_secure(fd) == 0, "survive: closed: smaf_get_secure returns 0");
	vt_check(smaf_allocator_count() == -1, "survive: closed: smaf_allocator_count returns -1");
	char *name = smaf_get_allocator_name(0);
	vt_check(name == NULL, "survive: closed: smaf_get_allocator_name returns NULL");
	free(name);
	smaf_close(); /* one too many: must be harmless */
	vt_check(device_fds() == before, "survive: an extra smaf_close is harmless");

	vt_check(smaf_open() == 0, "survive: smaf_open again");
	other = create(LENGTH, SMAF_RDWR, "survive");
	vt_check(other >= 0, "survive: creating works again after reopening");
	if (other >= 0)
		close(other);
	smaf_close();
	munmap(p, LENGTH);
	close(fd);
	return vt_finish();
}

/* ---- zero ----------------------------------------------------------------- */

static int t_zero(void)
{
	if (open_library() != 0)
		return vt_finish();
	int clean = 1, made = 0;
	for (unsigned i = 0; i < 8; i++) {
		int fd = create(LENGTH, SMAF_RDWR | SMAF_CLOEXEC, "zero");
		if (fd < 0)
			break;
		unsigned char *p = map(fd, LENGTH, PROT_READ | PROT_WRITE);
		if (p != MAP_FAILED) {
			made++;
			if (first_nonzero(p, LENGTH) >= 0)
				clean = 0;
			memset(p, 0xA5, LENGTH);
			munmap(p, LENGTH);
		}
		close(fd);
	}
	vt_check(made == 8 && clean, "zero: 8 new buffers read as zeros, each created after the last was filled and freed");

	const unsigned lengths[] = { 1, LENGTH + 1, 3 * 4096 + 5 };
	for (size_t k = 0; k < sizeof(lengths) / sizeof(lengths[0]); k++) {
		unsigned len = lengths[k];
		int fd = create(len, SMAF_RDWR, "zero");
		if (fd < 0)
			continue;
		struct stat st;
		int r = fstat(fd, &st);
		vt_check(r == 0 && (size_t)st.st_size == round_up(len), "zero: a %u-byte buffer is %zu bytes (fstat says %lld)", len,
		      round_up(len), r == 0 ? (long long)st.st_size : -1LL);
		unsigned char *p = map(fd, len, PROT_READ | PROT_WRITE);
		vt_check(p != MAP_FAILED && first_nonzero(p, round_up(len)) < 0,
		      "zero: mmap of %u bytes works and all %zu bytes of its pages read as zeros", len, round_up(len));
		if (p != MAP_FAILED)
			munmap(p, len);
		close(fd);
	}
	smaf_close();
	return vt_finish();
}

/* ---- threads -------------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 200
#define MAX_TRACKED_FD 65536

static pthread_mutex_t owner_lock = PTHREAD_MUTEX_INITIALIZER;
static int fd_owner[MAX_TRACKED_FD]; /* 1 + thread index of the fd's holder */

struct worker {
	int index;
	int done;
	int errors;
	char first_error[160];
};

static void worker_error(struct worker *w, const char *fmt, ...)
{
	if (w->errors++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(w->first_error, sizeof(w->first_error), fmt, ap);
		va_end(ap);
	}
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		size_t len = 4096u * (1u + (unsigned)i % 4u);
		int fd = -1;
		if (smaf_create_buffer((unsigned)len, SMAF_RDWR | SMAF_CLOEXEC, NULL, &fd) != 0 || fd < 0) {
			worker_error(w, "create %d: %s", i, strerror(errno));
			continue;
		}
		pthread_mutex_lock(&owner_lock);
		int clash = fd < MAX_TRACKED_FD && fd_owner[fd];
		int holder = fd < MAX_TRACKED_FD ? fd_owner[fd] : 0;
		if (fd < MAX_TRACKED_FD && !clash)
			fd_owner[fd] = w->index + 1;
		pthread_mutex_unlock(&owner_lock);
		if (clash) {
			worker_error(w, "create %d returned fd %d, which thread %d still holds", i, fd, holder - 1);
			continue; /* not ours to close */
		}
		unsigned char *p = map(fd, len, PROT_READ | PROT_WRITE);
		if (p == MAP_FAILED) {
			worker_error(w, "mmap %d: %s", i, strerror(errno));
		} else {
			unsigned seed = (unsigned)(w->index * 1000 + i);
			if (first_nonzero(p, len) >= 0)
				worker_error(w, "buffer %d is not zero-filled", i);
			fill(p, len, seed);
			sched_yield();
			if (verify(p, len, seed) >= 0)
				worker_error(w, "buffer %d changed under us", i);
			munmap(p, len);
		}
		pthread_mutex_lock(&owner_lock);
		if (fd < MAX_TRACKED_FD)
			fd_owner[fd] = 0;
		pthread_mutex_unlock(&owner_lock);
		close(fd);
		w->done++;
	}
	return NULL;
}

static int t_threads(void)
{
	if (open_library() != 0)
		return vt_finish();
	struct worker w[THREADS];
	pthread_t t[THREADS];
	memset(w, 0, sizeof(w));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int started = 0;
	for (int i = 0; i < THREADS; i++) {
		w[i].index = i;
		if (pthread_create(&t[i], NULL, worker_run, &w[i]) != 0) {
			vt_check(0, "threads: pthread_create %d", i);
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int total = 0;
	for (int i = 0; i < started; i++) {
		vt_check(w[i].done == PER_THREAD && w[i].errors == 0,
		      "threads: thread %d: %d/%d buffers created, mapped, written, verified, closed; %d errors%s%s", i,
		      w[i].done, PER_THREAD, w[i].errors, w[i].errors ? "; first: " : "", w[i].first_error);
		total += w[i].done;
	}
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# threads: %d buffers in %.3f s\n", total, s);
	smaf_close();
	return vt_finish();
}

/* ---- stress --------------------------------------------------------------- */

static int t_stress(int n)
{
	if (open_library() != 0)
		return vt_finish();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int done = 0;
	for (; done < n; done++) {
		int fd = -1;
		if (smaf_create_buffer(LENGTH, SMAF_RDWR | SMAF_CLOEXEC, NULL, &fd) != 0) {
			vt_check(0, "stress: create %d of %d: %s", done + 1, n, strerror(errno));
			break;
		}
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	vt_check(done == n, "stress: %d of %d buffers created and closed in %.3f s (%.0f us each)", done, n, s,
	      done ? s * 1e6 / done : 0.0);
	smaf_close();
	return vt_finish();
}

/* ---- hold: run into smafd's inotify watch limit ---------------------------- */

/* Creates up to n buffers and keeps them all open. With fs.inotify.max_user_watches
 * set low, the first refused create must fail cleanly with ENOSPC (the buffers
 * made before stay usable); then everything is closed again. */
static int t_hold(int n)
{
	if (open_library() != 0)
		return vt_finish();
	int *fds = calloc((size_t)n, sizeof(int));
	int held = 0, err = 0;
	for (; held < n; held++) {
		if (smaf_create_buffer(LENGTH, SMAF_RDWR | SMAF_CLOEXEC, NULL, &fds[held]) != 0) {
			err = errno;
			break;
		}
	}
	vt_check(held > 0, "hold: %d buffers created before the limit", held);
	vt_check(held < n && err == ENOSPC, "hold: the next create fails with ENOSPC (got %s)", err ? strerror(err) : "no failure");
	int usable = held > 0;
	for (int i = 0; i < held; i++) {
		void *p = map(fds[i], LENGTH, PROT_READ | PROT_WRITE);
		if (p == MAP_FAILED) {
			usable = 0;
			continue;
		}
		fill(p, LENGTH, (unsigned)i);
		usable &= verify(p, LENGTH, (unsigned)i) < 0;
		munmap(p, LENGTH);
	}
	vt_check(usable, "hold: the buffers made before the limit all map and hold data");
	for (int i = 0; i < held; i++)
		close(fds[i]);
	free(fds);
	smaf_close();
	return vt_finish();
}

/* ---- keep: buffers that all end at once ----------------------------------- */

/* Creates n buffers, writes to each, and exits holding them all: the exit
 * closes them in one burst (smafd's lifetime events arrive together). */
static int t_keep(int n)
{
	if (open_library() != 0)
		return vt_finish();
	int made = 0;
	for (; made < n; made++) {
		int fd;
		if (smaf_create_buffer(LENGTH, SMAF_RDWR | SMAF_CLOEXEC, NULL, &fd) != 0)
			break;
		void *p = map(fd, LENGTH, PROT_READ | PROT_WRITE);
		if (p != MAP_FAILED) {
			fill(p, LENGTH, (unsigned)made);
			munmap(p, LENGTH);
		}
	}
	vt_check(made == n, "keep: %d of %d buffers created and held (%s)", made, n, made == n ? "" : strerror(errno));
	return vt_finish();
}

/* ---- status --------------------------------------------------------------- */

static int t_status(const char *device)
{
	int fd = open(device, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		vt_check(0, "status: open %s: %s", device, strerror(errno));
		return vt_finish();
	}
	struct smaf_ext_status st;
	memset(&st, 0, sizeof(st));
	if (ioctl(fd, SMAF_IOC_EXT_STATUS, &st) != 0) {
		vt_check(0, "status: SMAF_IOC_EXT_STATUS on %s: %s", device, strerror(errno));
		close(fd);
		return vt_finish();
	}
	close(fd);
	printf("live_buffers=%llu live_bytes=%llu channels=%u secure_buffers=%u created_total=%llu ready_ahead=%llu\n",
	       (unsigned long long)st.live_buffers, (unsigned long long)st.live_bytes, st.channels, st.secure_buffers,
	       (unsigned long long)st.created_total, (unsigned long long)st.ready_ahead);
	return 0;
}

/* ---- secure policies ------------------------------------------------------ */

static int t_secure_deny(void)
{
	if (open_library() != 0)
		return vt_finish();
	int fd = create(LENGTH, SMAF_RDWR, "secure-deny");
	if (fd < 0)
		return vt_finish();
	unsigned char *p = map(fd, LENGTH, PROT_READ | PROT_WRITE);
	vt_check(p != MAP_FAILED, "secure-deny: a buffer that is not secure maps read-write %s", p == MAP_FAILED ? strerror(errno) : "");
	if (p == MAP_FAILED)
		return vt_finish();
	fill(p, LENGTH, 9);
	errno = 0;
	int r = smaf_set_secure(fd, 1);
	int e = errno;
	vt_check(r == -1 && e == EBUSY, "secure-deny: set_secure while a writable shared mapping exists fails with EBUSY (r=%d %s)", r,
	      r ? strerror(e) : "");
	vt_check(smaf_get_secure(fd) == 0, "secure-deny: ... and the buffer stays not secure");
	munmap(p, LENGTH);
	r = smaf_set_secure(fd, 1);
	e = errno;
	vt_check(r == 0, "secure-deny: after munmap, set_secure(fd, 1) succeeds %s", r ? strerror(e) : "");
	int g = smaf_get_secure(fd);
	vt_check(g == 1, "secure-deny: get_secure(fd) = %d", g);
	errno = 0;
	p = map(fd, LENGTH, PROT_READ | PROT_WRITE);
	e = errno;
	vt_check(p == MAP_FAILED, "secure-deny: mmap PROT_WRITE MAP_SHARED of the secure buffer fails (%s)",
	      p == MAP_FAILED ? strerror(e) : "it was mapped");
	if (p != MAP_FAILED)
		munmap(p, LENGTH);
	int d = dup(fd);
	p = d >= 0 ? map(d, LENGTH, PROT_READ | PROT_WRITE) : MAP_FAILED;
	vt_check(p == MAP_FAILED, "secure-deny: ... through a dup of the fd as well");
	if (p != MAP_FAILED)
		munmap(p, LENGTH);
	if (d >= 0)
		close(d);
	p = map(fd, LENGTH, PROT_READ);
	vt_check(p != MAP_FAILED && verify(p, LENGTH, 9) < 0, "secure-deny: mmap PROT_READ works and shows the data written before %s",
	      p == MAP_FAILED ? strerror(errno) : "");
	if (p != MAP_FAILED)
		munmap(p, LENGTH);
	close(fd);
	smaf_close();
	return vt_finish();
}

static int t_secure_grant(void)
{
	if (open_library() != 0)
		return vt_finish();
	int fd = create(LENGTH, SMAF_RDWR, "secure-grant");
	if (fd < 0)
		return vt_finish();
	int r = smaf_set_secure(fd, 1);
	vt_check(r == 0, "secure-grant: set_secure(fd, 1) %s", r ? strerror(errno) : "");
	vt_check(smaf_get_secure(fd) == 1, "secure-grant: get_secure(fd) == 1");
	unsigned char *p = map(fd, LENGTH, PROT_READ | PROT_WRITE);
	vt_check(p != MAP_FAILED, "secure-grant: the secure buffer maps read-write shared %s", p == MAP_FAILED ? strerror(errno) : "");
	if (p != MAP_FAILED) {
		fill(p, LENGTH, 5);
		vt_check(verify(p, LENGTH, 5) < 0, "secure-grant: ... and can be written and read");
		munmap(p, LENGTH);
	}
	int d = dup(fd);
	vt_check(d >= 0 && smaf_get_secure(d) == 1, "secure-grant: a dup of the fd reads as secure");

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		vt_check(0, "secure-grant: socketpair: %s", strerror(errno));
		return vt_finish();
	}
	int got = send_fd(sv[0], fd) == 0 ? recv_fd(sv[1]) : -1;
	vt_check(got >= 0 && got != fd && got != d && smaf_get_secure(got) == 1,
	      "secure-grant: a copy received over SCM_RIGHTS (fd %d) reads as secure", got);

	/* The flag belongs to the buffer, whichever fd sets it. */
	int fd2 = create(LENGTH, SMAF_RDWR, "secure-grant");
	if (fd2 >= 0) {
		vt_check(smaf_get_secure(fd2) == 0, "secure-grant: a new buffer is not secure");
		int got2 = send_fd(sv[0], fd2) == 0 ? recv_fd(sv[1]) : -1;
		r = got2 >= 0 ? smaf_set_secure(got2, 1) : -1;
		vt_check(r == 0 && smaf_get_secure(fd2) == 1,
		      "secure-grant: set_secure through a received copy shows through the original fd");
		if (got2 >= 0)
			close(got2);
		close(fd2);
	}
	close(sv[0]);
	close(sv[1]);
	if (got >= 0)
		close(got);
	if (d >= 0)
		close(d);
	close(fd);
	smaf_close();
	return vt_finish();
}

static int t_secure_none(void)
{
	if (open_library() != 0)
		return vt_finish();
	int fd = create(LENGTH, SMAF_RDWR, "secure-none");
	if (fd < 0)
		return vt_finish();
	errno = 0;
	int r = smaf_set_secure(fd, 1);
	int e = errno;
	vt_check(r == -1 && e == EINVAL, "secure-none: set_secure fails with EINVAL (r=%d %s)", r, r ? strerror(e) : "");
	vt_check(smaf_get_secure(fd) == 0, "secure-none: get_secure returns 0");
	void *p = map(fd, LENGTH, PROT_READ | PROT_WRITE);
	vt_check(p != MAP_FAILED, "secure-none: the buffer maps read-write shared");
	if (p != MAP_FAILED)
		munmap(p, LENGTH);
	close(fd);
	smaf_close();
	return vt_finish();
}

/* ---- main ----------------------------------------------------------------- */

static int usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s share|flags|survive|zero|threads|secure-deny|secure-grant|secure-none\n"
		"       %s stress N | hold N | keep N\n"
		"       %s status [DEVICE]\n",
		argv0, argv0, argv0);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(argv[0]);
	sub = argv[1];
	static char name[80];
	snprintf(name, sizeof(name), "buffer-test %s", sub);
	vt_init(name);
	page_size = sysconf(_SC_PAGESIZE);
	if (!strcmp(sub, "share"))
		return t_share();
	if (!strcmp(sub, "flags"))
		return t_flags();
	if (!strcmp(sub, "survive"))
		return t_survive();
	if (!strcmp(sub, "zero"))
		return t_zero();
	if (!strcmp(sub, "threads"))
		return t_threads();
	if (!strcmp(sub, "stress") && argc == 3) {
		char *end;
		long n = strtol(argv[2], &end, 10);
		if (*end || n <= 0 || n > 100000000)
			return usage(argv[0]);
		return t_stress((int)n);
	}
	if (!strcmp(sub, "hold") && argc == 3) {
		long n = strtol(argv[2], NULL, 10);
		if (n <= 0 || n > 100000)
			return usage(argv[0]);
		return t_hold((int)n);
	}
	if (!strcmp(sub, "keep") && argc == 3) {
		long n = strtol(argv[2], NULL, 10);
		if (n <= 0 || n > 100000)
			return usage(argv[0]);
		return t_keep((int)n);
	}
	if (!strcmp(sub, "status"))
		return t_status(argc > 2 ? argv[2] : vt_device_path());
	if (!strcmp(sub, "secure-deny"))
		return t_secure_deny();
	if (!strcmp(sub, "secure-grant"))
		return t_secure_grant();
	if (!strcmp(sub, "secure-none"))
		return t_secure_none();
	return usage(argv[0]);
}

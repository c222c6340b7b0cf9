/* SPDX-License-Identifier: MIT */
/*
 * fault_test: the clients of Tests/vm/fault/fault-tests.sh - processes that die
 * at every step of using /dev/smaf, one that keeps working meanwhile, and
 * one that lives through smafd being SIGKILLed and restarted. Prints
 * "ok"/"FAIL" lines and "fault-test SUB: N passed, M failed"; exit status
 * 1 on any failure (the kill-* victims die by SIGKILL once their checks pass).
 *
 *   fault-test steady                  until SIGTERM: create, map, write, verify,
 *                                        secure set/get, GET_INFO, close; never an error
 *   fault-test kill-connected          a raw channel (connected, welcomed), then SIGKILL
 *   fault-test kill-in-flight N        a raw channel and N raw CREATEs whose buffers are
 *                                        left queued on it, unreceived; then SIGKILL
 *   fault-test kill-mapped N           libsmaf: N buffers mapped and written, every 4th
 *                                        secure, one read-only; then SIGKILL
 *   fault-test loop                    libsmaf: create/map/write/verify/close without end
 *                                        (killed from outside at a random moment)
 *   fault-test counts [UID]            one line: live_buffers=N channels=N [uid_buffers=N]
 *   fault-test restart MODULE PRELOAD  smafd is SIGKILLed and restarted under it; waits for
 *                                        "killed" and "restarted" lines on stdin
 *   fault-test shim-client FD          run by restart under LD_PRELOAD=PRELOAD
 *
 * The device is /dev/smaf, or $SMAF_DEVICE.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "libsmaf.h"
#include "../vmtest.h"

#define LEN (64 * 1024)

static int open_library(const char *what)
{
	int r = smaf_open();
	return vt_check(r == 0, "%s: smaf_open(%s) %s", what, vt_device_path(), vt_why(r)) ? 0 : -1;
}

static void *map(int fd, int prot)
{
	return mmap(NULL, LEN, prot, MAP_SHARED, fd, 0);
}

/* ---- steady: the client that must not notice anything ---------------------------- */

static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int t_steady(void)
{
	vt_init("fault-test steady");
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	if (open_library("steady") != 0)
		return vt_finish();
	unsigned long cycles = 0, errors = 0;
	uint64_t slowest = 0, t0 = vt_now_ns();
	char first[256] = "";
#define STEADY_ERROR(...)                                                   \
	do {                                                                \
		if (errors++ == 0)                                          \
			snprintf(first, sizeof(first), __VA_ARGS__);        \
	} while (0)
	while (!stop_requested && vt_now_ns() - t0 < 600000000000ull) {
		uint64_t c0 = vt_now_ns();
		size_t len = 4096 * (1 + cycles % 4);
		int fd = -1;
		if (smaf_create_buffer((unsigned)len, SMAF_RDWR | SMAF_CLOEXEC, NULL, &fd) != 0) {
			STEADY_ERROR("create %zu bytes: %s", len, strerror(errno));
			vt_sleep_ms(5);
			continue;
		}
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			STEADY_ERROR("mmap: %s", strerror(errno));
		} else {
			if (vt_first_nonzero(p, len) >= 0)
				STEADY_ERROR("a new buffer is not zero-filled");
			vt_fill(p, len, cycles);
			if (vt_verify(p, len, cycles) >= 0)
				STEADY_ERROR("the pattern written does not read back");
			munmap(p, len);
		}
		if (cycles % 4 == 0) {
			if (smaf_set_secure(fd, 1) != 0 || smaf_get_secure(fd) != 1)
				STEADY_ERROR("set_secure(1)/get_secure: %s", strerror(errno));
			if (smaf_set_secure(fd, 0) != 0 || smaf_get_secure(fd) != 0)
				STEADY_ERROR("set_secure(0)/get_secure: %s", strerror(errno));
		}
		if (smaf_allocator_count() < 1)
			STEADY_ERROR("GET_INFO: %s", strerror(errno));
		close(fd);
		cycles++;
		uint64_t took = vt_now_ns() - c0;
		if (took > slowest)
			slowest = took;
		vt_sleep_ms(5);
	}
	double s = (double)(vt_now_ns() - t0) / 1e9;
	vt_note("steady: %lu cycles in %.1f s (%.0f/s); slowest cycle %.1f ms", cycles, s, cycles / s, slowest / 1e6);
	vt_check(errors == 0 && cycles > 0, "steady: %lu create/map/write/verify/secure/GET_INFO/close cycles, %lu errors%s%s",
		 cycles, errors, errors ? "; first: " : "", first);
	smaf_close();
	return vt_finish();
}

/* ---- the victims ----------------------------------------------------------------- */

static int die(const char *what)
{
	vt_note("%s: pid %d sends itself SIGKILL", what, getpid());
	raise(SIGKILL);
	return 1; /* not reached */
}

/* A raw channel: the device fd in *dev and the welcomed socket, or -1. */
static int raw_channel(const char *what, int *dev)
{
	*dev = open(vt_device_path(), O_RDWR | O_CLOEXEC);
	int s = *dev >= 0 ? vt_channel(*dev) : -1;
	vt_check(s >= 0, "%s: handoff channel connected by hand and welcomed %s", what, vt_why(s < 0));
	return s;
}

static int t_kill_connected(void)
{
	vt_init("fault-test kill-connected");
	int dev, s = raw_channel("kill-connected", &dev);
	if (s < 0)
		return vt_finish();
	return die("kill-connected: before any ioctl");
}

static int t_kill_in_flight(int n)
{
	vt_init("fault-test kill-in-flight");
	int dev, s = raw_channel("kill-in-flight", &dev);
	if (s < 0)
		return vt_finish();
	for (int i = 0; i < n; i++) {
		struct smaf_create_data c;
		memset(&c, 0, sizeof(c));
		c.length = LEN;
		c.flags = SMAF_RDWR | SMAF_CLOEXEC;
		int r = ioctl(dev, SMAF_IOC_CREATE, &c);
		if (!vt_check(r == 0 && c.fd <= -2, "kill-in-flight: raw CREATE %d returns a token (r=%d fd=%d) %s", i + 1, r,
			      c.fd, vt_why(r != 0)))
			return vt_finish();
	}
	/* smafd sends each buffer before its CREATE returns. */
	if (!vt_check(vt_readable(s, 1000), "kill-in-flight: the buffers sit in the channel's queue, not received"))
		return vt_finish();
	return die("kill-in-flight: with buffers in flight");
}

static int t_kill_mapped(int n)
{
	vt_init("fault-test kill-mapped");
	if (open_library("kill-mapped") != 0)
		return vt_finish();
	int mapped = 0;
	for (int i = 0; i < n; i++) {
		int fd = -1;
		unsigned flags = i == n - 1 ? 0 : SMAF_RDWR; /* the last one read-only */
		if (smaf_create_buffer(LEN, flags, NULL, &fd) != 0)
			break;
		void *p = map(fd, flags ? PROT_READ | PROT_WRITE : PROT_READ);
		if (p == MAP_FAILED)
			break;
		if (flags)
			vt_fill(p, LEN, (uint64_t)i);
		if (i % 4 == 3 && smaf_set_secure(fd, 1) != 0)
			break;
		mapped++;
	}
	if (!vt_check(mapped == n, "kill-mapped: %d of %d buffers created, mapped and written (every 4th secure, 1 read-only) %s",
		      mapped, n, vt_why(mapped != n)))
		return vt_finish();
	return die("kill-mapped: holding mapped buffers");
}

static int t_loop(void)
{
	vt_init("fault-test loop");
	if (open_library("loop") != 0)
		return vt_finish();
	int held[8];
	for (int i = 0; i < 8; i++)
		held[i] = -1;
	for (uint64_t i = 0;; i++) {
		int fd = -1;
		if (smaf_create_buffer(LEN, SMAF_RDWR | SMAF_CLOEXEC, NULL, &fd) != 0) {
			vt_check(0, "loop: create %llu: %s", (unsigned long long)i, strerror(errno));
			return vt_finish();
		}
		void *p = map(fd, PROT_READ | PROT_WRITE);
		if (p == MAP_FAILED || (vt_fill(p, LEN, i), vt_verify(p, LEN, i) >= 0)) {
			vt_check(0, "loop: buffer %llu does not map or hold data", (unsigned long long)i);
			return vt_finish();
		}
		munmap(p, LEN);
		if (i % 8 == 0)
			smaf_set_secure(fd, 1);
		if (held[i % 8] >= 0)
			close(held[i % 8]);
		held[i % 8] = fd;
	}
}

/* ---- counts ------------------------------------------------------------------------ */

static int t_counts(const char *uid)
{
	struct smaf_ext_status st;
	if (vt_status(vt_device_path(), &st) != 0) {
		printf("error=%s\n", vt_errname(errno));
		return 1;
	}
	printf("live_buffers=%llu channels=%u", (unsigned long long)st.live_buffers, st.channels);
	if (uid) {
		static char json[SMAF_QUERY_MAX];
		if (vt_status_json(vt_device_path(), json, sizeof(json)) < 0) {
			printf(" uid_buffers=?\n");
			return 1;
		}
		printf(" uid_buffers=%ld", vt_uid_buffers(json, (unsigned)strtoul(uid, NULL, 10)));
	}
	printf("\n");
	return 0;
}

/* ---- restart: smafd is SIGKILLed and restarted under running clients ---------------- */

/* Commands between the processes of `restart`: a short string, maybe an fd. */
static int tell(int sock, const char *what, int fd)
{
	return vt_send_fd(sock, fd, what, strlen(what) + 1, 0);
}

/* Waits up to 60 s for a message; returns it in buf ("" if none came), its
 * fd in *fd (closed if fd is NULL). */
static const char *hear(int sock, char *buf, size_t cap, int *fd)
{
	int got = -1;
	if (!vt_readable(sock, 60000) || vt_recv_fd(sock, buf, cap - 1, &got, 0) <= 0)
		buf[0] = '\0';
	buf[cap - 1] = '\0';
	if (fd)
		*fd = got;
	else if (got >= 0)
		close(got);
	return buf;
}

/* Waits up to 120 s for the line `want` on stdin (from fault-tests.sh). */
static int wait_line(const char *want)
{
	char line[64];
	size_t n = 0;
	uint64_t end = vt_now_ns() + 120000000000ull;
	while (vt_now_ns() < end) {
		if (!vt_readable(0, 1000))
			continue;
		char c;
		if (read(0, &c, 1) != 1)
			return -1;
		if (c != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = c;
			continue;
		}
		line[n] = '\0';
		if (!strcmp(line, want))
			return 0;
		n = 0;
	}
	return -1;
}

/* How many of our fds are open on the device node now at the device path,
 * and how many on some other node with its device number (a dead one). */
static void device_fds(int *current, int *stale)
{
	struct stat dev;
	*current = *stale = 0;
	if (stat(vt_device_path(), &dev) != 0)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		struct stat st;
		if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, 0) != 0 || !S_ISCHR(st.st_mode) ||
		    st.st_rdev != dev.st_rdev)
			continue;
		if (st.st_ino == dev.st_ino && st.st_dev == dev.st_dev)
			(*current)++;
		else
			(*stale)++;
	}
	closedir(d);
}

static int is_gone_errno(int e)
{
	return e == ENOTCONN || e == ENODEV;
}

/* P2: a forked child of the restart client, sharing its libsmaf state. */
static int restart_child(int sock)
{
	char cmd[32];
	int fd = -1, e = -1;
	void *pe = MAP_FAILED;
	for (;;) {
		int got;
		hear(sock, cmd, sizeof(cmd), &got);
		if (!strcmp(cmd, "phase1")) {
			int r = smaf_create_buffer(LEN, SMAF_RDWR, NULL, &e);
			pe = r == 0 ? map(e, PROT_READ | PROT_WRITE) : MAP_FAILED;
			if (pe != MAP_FAILED)
				vt_fill(pe, LEN, 4);
			vt_check(pe != MAP_FAILED, "restart: child: creates, maps and writes its own buffer over its own channel %s",
				 vt_why(pe == MAP_FAILED));
			tell(sock, "ok", -1);
		} else if (!strcmp(cmd, "phase2")) {
			void *pt = got >= 0 ? map(got, PROT_READ | PROT_WRITE) : MAP_FAILED;
			long bad = pt == MAP_FAILED ? 0 : vt_verify(pt, LEN, 3);
			vt_check(pt != MAP_FAILED && bad < 0,
				 "restart: smafd dead: the child maps a buffer received over SCM_RIGHTS and reads the sender's data");
			if (pt != MAP_FAILED) {
				vt_fill(pt, LEN, 6);
				munmap(pt, LEN);
			}
			if (got >= 0)
				close(got);
			int r = smaf_create_buffer(LEN, SMAF_RDWR, NULL, &fd);
			int err = errno;
			vt_check(r == -1 && fd == -1 && is_gone_errno(err),
				 "restart: smafd dead: the child's CREATE fails cleanly (r=%d fd=%d %s)", r, fd, vt_errname(err));
			tell(sock, "ok", e); /* its own buffer, to the parent */
		} else if (!strcmp(cmd, "phase3")) {
			uint64_t t0 = vt_now_ns();
			int r = smaf_create_buffer(LEN, SMAF_RDWR, NULL, &fd);
			int err = errno;
			double ms = (double)(vt_now_ns() - t0) / 1e6;
			void *p = r == 0 ? map(fd, PROT_READ | PROT_WRITE) : MAP_FAILED;
			int ok = p != MAP_FAILED && vt_first_nonzero(p, LEN) < 0 && (vt_fill(p, LEN, 8), vt_verify(p, LEN, 8) < 0);
			vt_check(ok, "restart: the same child process creates, maps and writes a new buffer on the first try (%.1f ms) %s",
				 ms, r ? vt_errname(err) : "");
			if (p != MAP_FAILED)
				munmap(p, LEN);
			int current, stale;
			device_fds(&current, &stale);
			vt_check(current == 1 && stale == 0,
				 "restart: the child holds one fd on the new device and none on the dead one (%d, %d)", current, stale);
			long bad = pe == MAP_FAILED ? 0 : vt_verify(pe, LEN, 4);
			vt_check(pe != MAP_FAILED && bad < 0, "restart: the child's old mapping still holds its data");
			if (fd >= 0)
				close(fd);
			tell(sock, "ok", -1);
		} else {
			return 0; /* "exit", or the parent is gone */
		}
	}
}

/* P3: a raw ioctl() program under LD_PRELOAD=libsmaf-preload.so. */
static int t_shim_client(int sock)
{
	vt_init("fault-test shim-client");
	char cmd[32];
	int dev = -1;
	void *p = MAP_FAILED;
	struct smaf_create_data c;
	for (;;) {
		hear(sock, cmd, sizeof(cmd), NULL);
		memset(&c, 0, sizeof(c));
		c.length = LEN;
		c.flags = SMAF_RDWR | SMAF_CLOEXEC;
		if (!strcmp(cmd, "phase1")) {
			dev = open(vt_device_path(), O_RDWR | O_CLOEXEC);
			int r = ioctl(dev, SMAF_IOC_CREATE, &c);
			p = r == 0 && c.fd >= 0 ? map(c.fd, PROT_READ | PROT_WRITE) : MAP_FAILED;
			if (p != MAP_FAILED)
				vt_fill(p, LEN, 7);
			vt_check(p != MAP_FAILED, "shim-client: raw CREATE through the shim gives a mappable fd (r=%d fd=%d) %s", r,
				 c.fd, vt_why(r != 0));
		} else if (!strcmp(cmd, "phase2")) {
			int r = ioctl(dev, SMAF_IOC_CREATE, &c);
			int e = errno;
			vt_check(r == -1 && is_gone_errno(e), "shim-client: smafd dead: raw CREATE fails with %s (r=%d)",
				 vt_errname(e), r);
		} else if (!strcmp(cmd, "phase3")) {
			int r = ioctl(dev, SMAF_IOC_CREATE, &c);
			int e = errno;
			vt_check(r == -1 && is_gone_errno(e),
				 "shim-client: the program's own fd on the dead device keeps failing (%s): the shim does not replace it",
				 vt_errname(e));
			close(dev);
			dev = open(vt_device_path(), O_RDWR | O_CLOEXEC);
			memset(&c, 0, sizeof(c));
			c.length = LEN;
			c.flags = SMAF_RDWR | SMAF_CLOEXEC;
			r = dev >= 0 ? ioctl(dev, SMAF_IOC_CREATE, &c) : -1;
			void *q = r == 0 && c.fd >= 0 ? map(c.fd, PROT_READ | PROT_WRITE) : MAP_FAILED;
			vt_check(q != MAP_FAILED && vt_first_nonzero(q, LEN) < 0,
				 "shim-client: once the program reopens the device, raw CREATE through the shim works again (the shim reconnects its channel) %s",
				 vt_why(q == MAP_FAILED));
			long bad = p == MAP_FAILED ? 0 : vt_verify(p, LEN, 7);
			vt_check(p != MAP_FAILED && bad < 0, "shim-client: its first buffer kept its data throughout");
		} else {
			return vt_finish();
		}
		tell(sock, "ok", -1);
	}
}

struct first_create {
	pthread_barrier_t *barrier;
	int r, err, fd;
	double ms;
};

static void *first_create_thread(void *arg)
{
	struct first_create *f = arg;
	pthread_barrier_wait(f->barrier);
	uint64_t t0 = vt_now_ns();
	f->fd = -1;
	f->r = smaf_create_buffer(LEN, SMAF_RDWR | SMAF_CLOEXEC, NULL, &f->fd);
	f->err = errno;
	f->ms = (double)(vt_now_ns() - t0) / 1e6;
	return NULL;
}

/* Raw GET_SECURE_FLAG for fd on a fresh open of the device: the ioctl's
 * result, and the flag in *secure. */
static int raw_get_secure(int fd, unsigned *secure)
{
	int dev = open(vt_device_path(), O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -1;
	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	s.secure = 77; /* left alone if the request fails */
	int r = ioctl(dev, SMAF_IOC_GET_SECURE_FLAG, &s);
	int e = errno;
	close(dev);
	*secure = s.secure;
	errno = e;
	return r;
}

static int t_restart(const char *module, const char *preload)
{
	vt_init("fault-test restart");
	const int deny = !strcmp(module, "deny-cpu");
	char buf[32];
	int kid_sock[2], shim_sock[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, kid_sock) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, shim_sock) != 0) {
		vt_check(0, "restart: socketpair: %s", strerror(errno));
		return vt_finish();
	}
	if (open_library("restart") != 0)
		return vt_finish();
	pid_t kid = fork();
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed parent */
		close(kid_sock[0]);
		_exit(restart_child(kid_sock[1]));
	}
	close(kid_sock[1]);
	fcntl(shim_sock[0], F_SETFD, FD_CLOEXEC);
	pid_t shim = fork();
	if (shim == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		char fdarg[16];
		snprintf(fdarg, sizeof(fdarg), "%d", shim_sock[1]);
		setenv("LD_PRELOAD", preload, 1);
		execl("/proc/self/exe", "fault-test", "shim-client", fdarg, (char *)NULL);
		_exit(127);
	}
	close(shim_sock[1]);
	const int kid_s = kid_sock[0], shim_s = shim_sock[0];

	/* ---- phase 1: smafd alive -------------------------------------------------- */
	int d = -1, s = -1, ro = -1, t = -1;
	int ok = smaf_create_buffer(LEN, SMAF_RDWR, NULL, &d) == 0 && smaf_create_buffer(LEN, SMAF_RDWR, NULL, &s) == 0 &&
		 smaf_create_buffer(LEN, 0, NULL, &ro) == 0 && smaf_create_buffer(LEN, SMAF_RDWR, NULL, &t) == 0;
	if (!vt_check(ok, "restart: 4 buffers created (%s) %s", module, vt_why(!ok)))
		return vt_finish();
	void *pd = map(d, PROT_READ | PROT_WRITE), *ps = map(s, PROT_READ | PROT_WRITE), *pr = map(ro, PROT_READ);
	void *pt = map(t, PROT_READ | PROT_WRITE);
	if (!vt_check(pd != MAP_FAILED && ps != MAP_FAILED && pr != MAP_FAILED && pt != MAP_FAILED,
		      "restart: the buffers map (read-write, read-only for the read-only one)"))
		return vt_finish();
	vt_fill(pd, LEN, 1);
	vt_fill(ps, LEN, 2);
	vt_fill(pt, LEN, 3);
	munmap(pt, LEN);
	if (deny) { /* deny-cpu seals only a buffer without writable mappings */
		munmap(ps, LEN);
		int r = smaf_set_secure(s, 1);
		vt_check(r == 0, "restart: deny-cpu: the old smafd makes buffer S secure (write seal) %s", vt_why(r));
		ps = map(s, PROT_READ);
		errno = 0;
		void *w = map(s, PROT_READ | PROT_WRITE);
		vt_check(w == MAP_FAILED && errno == EPERM, "restart: deny-cpu: S refuses a writable mapping (%s)",
			 vt_errname(errno));
	} else {
		int r = smaf_set_secure(s, 1);
		vt_check(r == 0, "restart: testsecure: the old smafd makes buffer S secure %s", vt_why(r));
	}
	vt_check(smaf_get_secure(s) == 1, "restart: the old smafd reports S secure");
	tell(kid_s, "phase1", -1);
	tell(shim_s, "phase1", -1);
	hear(kid_s, buf, sizeof(buf), NULL);
	hear(shim_s, buf, sizeof(buf), NULL);
	vt_note("phase 1 ready: pid %d and its child %d hold mapped buffers; kill smafd now", getpid(), kid);
	if (!vt_check(wait_line("killed") == 0, "restart: fault-tests.sh reports smafd killed"))
		return vt_finish();

	/* ---- phase 2: smafd dead ------------------------------------------------------ */
	long bd = vt_verify(pd, LEN, 1), bs = vt_verify(ps, LEN, 2), br = vt_first_nonzero(pr, LEN);
	vt_check(bd < 0 && bs < 0 && br < 0, "restart: smafd dead: every mapping still holds its data (%ld %ld %ld)", bd, bs, br);
	vt_fill(pd, LEN, 5);
	vt_check(vt_verify(pd, LEN, 5) < 0, "restart: smafd dead: a read-write mapping still takes writes");
	tell(kid_s, "phase2", t); /* buffer T, over SCM_RIGHTS */
	int e = -1;
	hear(kid_s, buf, sizeof(buf), &e);
	void *pe = e >= 0 ? map(e, PROT_READ) : MAP_FAILED;
	long be = pe == MAP_FAILED ? 0 : vt_verify(pe, LEN, 4);
	vt_check(pe != MAP_FAILED && be < 0, "restart: smafd dead: the child's buffer arrives over SCM_RIGHTS, maps, holds its data");
	pt = map(t, PROT_READ);
	vt_check(pt != MAP_FAILED && vt_verify(pt, LEN, 6) < 0, "restart: smafd dead: the child's write to buffer T shows here");
	uint64_t t0 = vt_now_ns();
	int nfd = 12345;
	int r = smaf_create_buffer(LEN, SMAF_RDWR, NULL, &nfd);
	int err = errno;
	double ms = (double)(vt_now_ns() - t0) / 1e6;
	vt_check(r == -1 && nfd == -1 && is_gone_errno(err), "restart: smafd dead: smaf_create_buffer fails with %s in %.1f ms, fd -1",
		 vt_errname(err), ms);
	vt_check(smaf_allocator_count() == -1, "restart: smafd dead: smaf_allocator_count returns -1");
	vt_check(smaf_get_secure(s) == 0, "restart: smafd dead: smaf_get_secure returns 0 (libsmaf's convention for errors)");
	unsigned sec;
	r = raw_get_secure(s, &sec);
	vt_check(r == -1 && errno == ENOENT, "restart: smafd dead: the node is gone, so nobody gets an answer (open: %s)",
		 vt_errname(errno));
	if (deny) {
		errno = 0;
		void *w = map(s, PROT_READ | PROT_WRITE);
		vt_check(w == MAP_FAILED && errno == EPERM, "restart: deny-cpu, smafd dead: S still refuses a writable mapping (%s)",
			 vt_errname(errno));
	}
	tell(shim_s, "phase2", -1);
	hear(shim_s, buf, sizeof(buf), NULL);
	vt_note("phase 2 done: restart smafd now");
	if (!vt_check(wait_line("restarted") == 0, "restart: fault-tests.sh reports smafd restarted"))
		return vt_finish();

	/* ---- phase 3: a new smafd ------------------------------------------------------ */
	enum { THREADS = 4 };
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, THREADS);
	struct first_create fc[THREADS];
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++) {
		fc[i].barrier = &barrier;
		pthread_create(&th[i], NULL, first_create_thread, &fc[i]);
	}
	int created = 0;
	double slowest = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		if (fc[i].r == 0) {
			void *p = map(fc[i].fd, PROT_READ | PROT_WRITE);
			if (p != MAP_FAILED && vt_first_nonzero(p, LEN) < 0 && (vt_fill(p, LEN, 9), vt_verify(p, LEN, 9) < 0))
				created++;
			if (p != MAP_FAILED)
				munmap(p, LEN);
			close(fc[i].fd);
		} else {
			vt_note("thread %d: smaf_create_buffer: %s", i, vt_errname(fc[i].err));
		}
		slowest = fc[i].ms > slowest ? fc[i].ms : slowest;
	}
	vt_check(created == THREADS,
		 "restart: the same process, no smaf_close/smaf_open: %d of %d threads create, map and write a buffer at once, first try (slowest %.1f ms)",
		 created, THREADS, slowest);
	int current, stale;
	device_fds(&current, &stale);
	vt_check(current == 1 && stale == 0, "restart: libsmaf reopened the device once: one fd on the new node, none on the dead one (%d, %d)",
		 current, stale);

	bd = vt_verify(pd, LEN, 5);
	bs = vt_verify(ps, LEN, 2);
	br = vt_first_nonzero(pr, LEN);
	vt_check(bd < 0 && bs < 0 && br < 0, "restart: the old buffers still hold their data (%ld %ld %ld)", bd, bs, br);
	errno = 0;
	r = raw_get_secure(s, &sec);
	vt_check(r == -1 && errno == EINVAL,
		 "restart: the new smafd has no record of S and will not guess: GET_SECURE_FLAG fails with EINVAL (%s)",
		 vt_errname(r ? errno : 0));
	vt_check(smaf_get_secure(s) == 0, "restart: smaf_get_secure(S) is 0 (libsmaf's API maps every failure to 0)");
	int plain = memfd_create("not-smaf", MFD_CLOEXEC);
	sec = 7;
	r = plain >= 0 ? raw_get_secure(plain, &sec) : -1;
	vt_check(r == 0 && sec == 0, "restart: an ordinary memfd still reads as not secure (r=%d secure=%u)", r, sec);
	if (plain >= 0)
		close(plain);
	errno = 0;
	r = smaf_set_secure(s, 1);
	vt_check(r == -1 && errno == EINVAL, "restart: SET_SECURE_FLAG(S, 1) fails with EINVAL: not a SMAF buffer to the new smafd (%s)",
		 vt_errname(r ? errno : 0));
	errno = 0;
	r = smaf_set_secure(s, 0);
	vt_check(r == -1 && errno == EINVAL, "restart: SET_SECURE_FLAG(S, 0) fails with EINVAL too (%s)", vt_errname(r ? errno : 0));
	if (deny) {
		errno = 0;
		void *w = map(s, PROT_READ | PROT_WRITE);
		vt_check(w == MAP_FAILED && errno == EPERM, "restart: deny-cpu: the old instance's write seal stays: S refuses a writable mapping (%s)",
			 vt_errname(errno));
		errno = 0;
		ssize_t wr = pwrite(s, "x", 1, 0);
		vt_check(wr == -1 && errno == EPERM, "restart: deny-cpu: ... and write(2) (%s)", vt_errname(wr < 0 ? errno : 0));
	} else {
		vt_fill(ps, LEN, 10);
		vt_check(vt_verify(ps, LEN, 10) < 0, "restart: testsecure: S's read-write mapping still takes writes");
	}

	int n = -1;
	r = smaf_create_buffer(LEN, SMAF_RDWR, NULL, &n);
	int sr = r == 0 ? smaf_set_secure(n, 1) : -1;
	vt_check(sr == 0 && smaf_get_secure(n) == 1, "restart: a buffer of the new smafd becomes secure and GET reports it %s", vt_why(sr));
	if (deny) {
		errno = 0;
		void *w = n >= 0 ? map(n, PROT_READ | PROT_WRITE) : MAP_FAILED;
		vt_check(w == MAP_FAILED && errno == EPERM, "restart: deny-cpu: the new smafd enforces it (writable mapping: %s)",
			 vt_errname(errno));
	} else {
		sr = n >= 0 ? smaf_set_secure(n, 0) : -1;
		vt_check(sr == 0 && smaf_get_secure(n) == 0, "restart: testsecure: ... and not secure again");
	}
	if (n >= 0)
		close(n);

	tell(kid_s, "phase3", -1);
	hear(kid_s, buf, sizeof(buf), NULL);
	tell(shim_s, "phase3", -1);
	hear(shim_s, buf, sizeof(buf), NULL);
	tell(kid_s, "exit", -1);
	tell(shim_s, "exit", -1);
	int kst = vt_wait_child(kid), sst = vt_wait_child(shim);
	vt_check(kst == 0, "restart: the child exits cleanly (status %d)", kst);
	vt_check(sst == 0, "restart: the shim client passed its checks (status %d)", sst);
	munmap(pd, LEN);
	munmap(ps, LEN);
	munmap(pr, LEN);
	munmap(pt, LEN);
	if (pe != MAP_FAILED)
		munmap(pe, LEN);
	close(d);
	close(s);
	close(ro);
	close(t);
	close(e);
	smaf_close();
	return vt_finish();
}

/* ---- main ------------------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr, "usage: fault-test steady|kill-connected|loop\n"
			"       fault-test kill-in-flight N | kill-mapped N\n"
			"       fault-test counts [UID]\n"
			"       fault-test restart testsecure|deny-cpu PRELOAD_LIBRARY\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *sub = argv[1];
	int n = argc > 2 ? atoi(argv[2]) : 0;
	if (!strcmp(sub, "steady"))
		return t_steady();
	if (!strcmp(sub, "kill-connected"))
		return t_kill_connected();
	if (!strcmp(sub, "kill-in-flight") && n > 0 && n <= 8)
		return t_kill_in_flight(n);
	if (!strcmp(sub, "kill-mapped") && n > 0 && n <= 1000)
		return t_kill_mapped(n);
	if (!strcmp(sub, "loop"))
		return t_loop();
	if (!strcmp(sub, "counts"))
		return t_counts(argc > 2 ? argv[2] : NULL);
	if (!strcmp(sub, "restart") && argc == 4)
		return t_restart(argv[2], argv[3]);
	if (!strcmp(sub, "shim-client") && argc == 3)
		return t_shim_client(n);
	return usage();
}

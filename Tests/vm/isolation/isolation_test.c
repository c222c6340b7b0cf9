/* SPDX-License-Identifier: MIT */
/*
 * isolation: two unprivileged users, A (uid 1001) and B (uid 1002), on one
 * smafd. For Tests/vm/isolation/isolation-tests.sh; run as root with /dev/smaf open to
 * both (mode 0666). Prints "ok"/"FAIL" lines and "isolation: N passed, M
 * failed"; exit status 1 on any failure.
 *
 *   isolation                     starts A and B with setpriv and checks both passed
 *   isolation role-a|role-b FD    (what setpriv runs; FD: the socket between them)
 *
 * B connects a handoff channel by hand and holds it while A creates 200
 * buffers: nothing arrives on it. A keeps buffer X (secure, a pattern written)
 * and Y (not secure) and tells B their fd numbers and its pid. B cannot
 * learn or change their secure state with those numbers (GET/SET resolve fd
 * numbers in B's own fd table: EINVAL, or B's own file), cannot SET any fd
 * number 0-63 it does not hold a buffer at, cannot open /proc/<A>/fd/<n> or
 * take the fd with pidfd_getfd(); A confirms nothing changed. Then A passes X
 * over SCM_RIGHTS: B maps it, reads A's data, GETs secure = 1, and its write
 * shows in A's mapping.
 *
 * The device is /dev/smaf, or $SMAF_DEVICE.
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "libsmaf.h"
#include "../vmtest.h"

#define UID_A 1001
#define UID_B 1002
#define LEN 16384
#define CREATES 200
#define KEEP 10

/* What A tells B. */
struct a_report {
	pid_t pid;
	int x, y; /* fd numbers of X (secure) and Y (not secure) in A */
};

static int tell(int sock, const void *msg, size_t len, int fd)
{
	return vt_send_fd(sock, fd, msg, len, 0);
}

/* Waits up to 60 s for one message of exactly len bytes. */
static int hear(int sock, void *msg, size_t len, int *fd)
{
	int got = -1;
	ssize_t n = vt_readable(sock, 60000) ? vt_recv_fd(sock, msg, len, &got, 0) : -1;
	if (fd)
		*fd = got;
	else if (got >= 0)
		close(got);
	return n == (ssize_t)len ? 0 : -1;
}

/* Sends the word (NUL included); waits for it (0 if it came), with its fd. */
static int say(int sock, const char *word, int fd)
{
	return tell(sock, word, strlen(word) + 1, fd);
}

static int await(int sock, const char *word, int *fd)
{
	char got[16];
	memset(got, 0, sizeof(got));
	return hear(sock, got, strlen(word) + 1, fd) == 0 && !strcmp(got, word) ? 0 : -1;
}

/* Raw GET/SET_SECURE_FLAG with fd number n: the ioctl's result; *secure is
 * what came back (77 if nothing did). */
static int secure_ioctl(int dev, unsigned long request, int n, unsigned set, unsigned *secure)
{
	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = n;
	s.secure = request == SMAF_IOC_SET_SECURE_FLAG ? set : 77;
	int r = ioctl(dev, request, &s);
	if (secure)
		*secure = s.secure;
	return r;
}

/* ---- A ------------------------------------------------------------------------------- */

static int role_a(int sock)
{
	vt_init("isolation A");
	if (await(sock, "b-ready", NULL) != 0) {
		vt_check(0, "A: B never got ready");
		return vt_finish();
	}
	int r = smaf_open();
	if (!vt_check(r == 0, "A: smaf_open as uid %d %s", (int)getuid(), vt_why(r)))
		return vt_finish();
	int held[KEEP], made = 0;
	for (int i = 0; i < CREATES; i++) {
		int fd = -1;
		if (smaf_create_buffer(LEN, SMAF_RDWR, NULL, &fd) != 0)
			break;
		made++;
		if (i < KEEP)
			held[i] = fd;
		else
			close(fd);
	}
	vt_check(made == CREATES, "A: created %d of %d buffers %s", made, CREATES, vt_why(made != CREATES));
	if (made < KEEP)
		return vt_finish();
	const int x = held[0], y = held[1];
	unsigned char *px = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, x, 0);
	if (!vt_check(px != MAP_FAILED, "A: buffer X maps %s", vt_why(px == MAP_FAILED)))
		return vt_finish();
	vt_fill(px, LEN, 42);
	r = smaf_set_secure(x, 1);
	vt_check(r == 0 && smaf_get_secure(x) == 1 && smaf_get_secure(y) == 0, "A: X is secure, Y is not %s", vt_why(r));
	struct a_report rep = { .pid = getpid(), .x = x, .y = y };
	tell(sock, &rep, sizeof(rep), -1);

	if (await(sock, "b-tried", NULL) != 0) {
		vt_check(0, "A: B never finished trying");
		return vt_finish();
	}
	vt_check(smaf_get_secure(x) == 1, "A: after B's attempts X is still secure");
	vt_check(smaf_get_secure(y) == 0, "A: ... and Y still not secure");
	vt_check(vt_verify(px, LEN, 42) < 0, "A: ... and X's data is untouched");

	say(sock, "x", x); /* now B may have it */
	if (await(sock, "b-mapped", NULL) != 0) {
		vt_check(0, "A: B never mapped X");
		return vt_finish();
	}
	vt_check(vt_verify(px, LEN, 43) < 0, "A: B's write to the buffer A passed it shows in A's mapping");
	munmap(px, LEN);
	for (int i = 0; i < KEEP; i++)
		close(held[i]);
	smaf_close();
	return vt_finish();
}

/* ---- B ------------------------------------------------------------------------------- */

static int role_b(int sock)
{
	vt_init("isolation B");
	int dev = open(vt_device_path(), O_RDWR | O_CLOEXEC);
	int ch = dev >= 0 ? vt_channel(dev) : -1;
	if (!vt_check(ch >= 0, "B: as uid %d, a handoff channel connected by hand and welcomed %s", (int)getuid(), vt_why(ch < 0)))
		return vt_finish();
	say(sock, "b-ready", -1);
	struct a_report rep;
	if (hear(sock, &rep, sizeof(rep), NULL) != 0) {
		vt_check(0, "B: A never reported its buffers");
		return vt_finish();
	}

	/* 1. Nothing of A's came this way. */
	char junk[64];
	int fd = -1;
	errno = 0;
	ssize_t n = vt_recv_fd(ch, junk, sizeof(junk), &fd, MSG_DONTWAIT);
	vt_check(n < 0 && errno == EAGAIN && fd < 0, "B: B's channel received nothing while A created %d buffers", CREATES);

	/* 2. A's fd numbers mean B's own fd table to smafd. */
	unsigned sec;
	int open_in_b = fcntl(rep.x, F_GETFD) >= 0;
	errno = 0;
	int r = secure_ioctl(dev, SMAF_IOC_GET_SECURE_FLAG, rep.x, 0, &sec);
	vt_check(open_in_b ? r == 0 && sec == 0 : r == -1 && errno == EINVAL,
		 "B: GET_SECURE_FLAG with X's number (%d) in A gives B's own answer, not A's (r=%d %s secure=%u)", rep.x, r,
		 vt_errname(r ? errno : 0), sec);
	int reported_secure = 0, set_succeeded = 0;
	for (int i = 0; i < 64; i++) {
		if (secure_ioctl(dev, SMAF_IOC_GET_SECURE_FLAG, i, 0, &sec) == 0 && sec != 0)
			reported_secure++;
		if (secure_ioctl(dev, SMAF_IOC_SET_SECURE_FLAG, i, 0, NULL) == 0)
			set_succeeded++;
		if (secure_ioctl(dev, SMAF_IOC_SET_SECURE_FLAG, i, 1, NULL) == 0)
			set_succeeded++;
	}
	vt_check(reported_secure == 0, "B: GET_SECURE_FLAG on fd numbers 0-63 never reports a secure buffer (%d did)", reported_secure);
	vt_check(set_succeeded == 0, "B: SET_SECURE_FLAG(0) and (1) on fd numbers 0-63 all fail: B holds no buffer (%d succeeded)",
		 set_succeeded);

	/* 3. Nor can B reach A's fds through /proc or pidfd_getfd. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)rep.pid, rep.x);
	errno = 0;
	int f = open(path, O_RDONLY | O_CLOEXEC);
	vt_check(f < 0 && errno == EACCES, "B: open(%s) fails (%s)", path, vt_errname(f < 0 ? errno : 0));
	if (f >= 0)
		close(f);
	char target[64];
	errno = 0;
	n = readlink(path, target, sizeof(target));
	vt_check(n < 0 && errno == EACCES, "B: readlink(%s) fails (%s)", path, vt_errname(n < 0 ? errno : 0));
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)rep.pid);
	errno = 0;
	f = open(path, O_RDONLY | O_CLOEXEC);
	vt_check(f < 0 && (errno == EACCES || errno == EPERM), "B: open(%s) fails (%s)", path, vt_errname(f < 0 ? errno : 0));
	if (f >= 0)
		close(f);
	int pidfd = (int)syscall(SYS_pidfd_open, rep.pid, 0);
	errno = 0;
	int stolen = pidfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pidfd, rep.x, 0) : -1;
	vt_check(pidfd >= 0 && stolen < 0 && errno == EPERM, "B: pidfd_getfd(A, %d) fails (%s)", rep.x,
		 vt_errname(stolen < 0 ? errno : 0));
	if (stolen >= 0)
		close(stolen);
	if (pidfd >= 0)
		close(pidfd);
	say(sock, "b-tried", -1);

	/* 4. Once A passes the fd, B holds the buffer like A does. */
	int x = -1;
	if (await(sock, "x", &x) != 0 || x < 0) {
		vt_check(0, "B: X never arrived over SCM_RIGHTS");
		return vt_finish();
	}
	unsigned char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, x, 0);
	vt_check(p != MAP_FAILED && vt_verify(p, LEN, 42) < 0, "B: the buffer A passed over SCM_RIGHTS maps and holds A's data %s",
		 vt_why(p == MAP_FAILED));
	r = secure_ioctl(dev, SMAF_IOC_GET_SECURE_FLAG, x, 0, &sec);
	vt_check(r == 0 && sec == 1, "B: GET_SECURE_FLAG on it reports secure (r=%d secure=%u)", r, sec);
	if (p != MAP_FAILED) {
		vt_fill(p, LEN, 43);
		munmap(p, LEN);
	}
	close(x);
	n = vt_recv_fd(ch, junk, sizeof(junk), &fd, MSG_DONTWAIT);
	vt_check(n < 0 && fd < 0, "B: B's channel still received nothing");
	say(sock, "b-mapped", -1);
	close(ch);
	close(dev);
	return vt_finish();
}

/* ---- the parent (root) ---------------------------------------------------------------- */

static char self[512]; /* this program's path, for setpriv to run */

/* Runs this program as `role` under setpriv with uid and gid `uid`, handing
 * it socket fd `keep` and not `other`. */
static pid_t start_role(const char *role, int uid, int keep, int other)
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		char fdarg[16], reuid[32], regid[32];
		snprintf(fdarg, sizeof(fdarg), "%d", keep);
		snprintf(reuid, sizeof(reuid), "--reuid=%d", uid);
		snprintf(regid, sizeof(regid), "--regid=%d", uid);
		close(other);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp("setpriv", "setpriv", reuid, regid, "--clear-groups", self, role, fdarg, (char *)NULL);
		_exit(127);
	}
	return p;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "role-a"))
		return role_a(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "role-b"))
		return role_b(atoi(argv[2]));
	if (argc != 1) {
		fprintf(stderr, "usage: isolation\n");
		return 2;
	}
	vt_init("isolation");
	int sv[2];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) {
		vt_check(0, "setting up: %s", strerror(errno));
		return vt_finish();
	}
	self[n] = '\0';
	pid_t b = start_role("role-b", UID_B, sv[1], sv[0]);
	pid_t a = start_role("role-a", UID_A, sv[0], sv[1]);
	close(sv[0]);
	close(sv[1]);
	int sa = vt_wait_child(a), sb = vt_wait_child(b);
	vt_check(sa == 0, "user A (uid %d) passed its checks (status %d)", UID_A, sa);
	vt_check(sb == 0, "user B (uid %d) passed its checks (status %d)", UID_B, sb);
	return vt_finish();
}

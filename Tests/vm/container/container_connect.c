/* SPDX-License-Identifier: MIT */
/*
 * container_connect: SMAF_IOC_EXT_CONNECT (smaf_ext.h) spoken by hand, as a
 * container's client uses it (it sees /dev/smaf but not smafd's socket), and
 * misused. Prints "ok"/"FAIL" lines and "container-connect MODE: N passed, M
 * failed"; exit status 1 on any failure. Run as root (misuse drops to uid
 * 65534 in a child); the node is /dev/smaf or $SMAF_DEVICE.
 *
 *   container-connect connect   a socketpair end named in EXT_CONNECT becomes this
 *                         process's channel: welcome, then CREATE's buffer
 *                         arrives on the other end with its token
 *   container-connect misuse    a socket another process made (inherited by fork,
 *                         received over SCM_RIGHTS either way) or made under
 *                         another uid: EPERM, and no channel results; an fd
 *                         not open: EBADF; a pipe, a SOCK_STREAM or
 *                         SOCK_DGRAM pair, an AF_INET socket, the node
 *                         itself, version 1: EINVAL; two processes with
 *                         their own channels never get each other's buffers
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../vmtest.h"

#define NOBODY 65534

static const char *device;

/* EXT_CONNECT naming sock: 0 or -1 with errno; *protocol gets the reply. */
static int container_connect(int dev, int sock, __u64 version, __u32 *protocol)
{
	struct smaf_ext_connect c;
	memset(&c, 0, sizeof(c));
	c.version = version;
	c.sock = sock;
	int r = ioctl(dev, SMAF_IOC_EXT_CONNECT, &c);
	if (r == 0 && protocol)
		*protocol = c.protocol;
	return r;
}

/* A v10 CREATE: the token the ioctl returns in fd (<= -2), or 0 and errno. */
static int create_token(int dev, size_t length)
{
	struct smaf_create_data c;
	memset(&c, 0, sizeof(c));
	c.length = length;
	c.flags = SMAF_RDWR | SMAF_CLOEXEC;
	c.fd = -7;
	if (ioctl(dev, SMAF_IOC_CREATE, &c) != 0)
		return 0;
	return c.fd;
}

/* The buffer message for token on sock within timeout_ms: its fd, or -1. */
static int receive_buffer(int sock, int token, int timeout_ms, size_t *length)
{
	struct smaf_handoff_msg m;
	int fd = -1;
	while (vt_readable(sock, timeout_ms)) {
		ssize_t n = vt_recv_fd(sock, &m, sizeof(m), &fd, MSG_DONTWAIT);
		if (n != (ssize_t)sizeof(m))
			return -1;
		if (m.magic == SMAF_HANDOFF_MAGIC && m.token == token && fd >= 0) {
			if (length)
				*length = (size_t)m.length;
			return fd;
		}
		if (fd >= 0)
			close(fd);
	}
	return -1;
}

/* A channel of this process made with EXT_CONNECT (welcomed), or -1. */
static int own_channel(int dev, const char *who)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		vt_check(0, "%s: socketpair: %s", who, strerror(errno));
		return -1;
	}
	__u32 protocol = 0;
	int r = container_connect(dev, sv[1], 0, &protocol);
	int e = errno;
	close(sv[1]);
	int w = r == 0 ? vt_welcome(sv[0], 5000) : -1;
	if (!vt_check(r == 0 && protocol == SMAF_HANDOFF_PROTOCOL && w == 1,
		      "%s: EXT_CONNECT with its own socketpair end: protocol %u, welcome on the other end (%s)", who, protocol,
		      r ? vt_errname(e) : w == 1 ? "ok" : "no welcome")) {
		close(sv[0]);
		return -1;
	}
	return sv[0];
}

static int open_dev(void)
{
	int dev = open(device, O_RDWR | O_CLOEXEC);
	vt_check(dev >= 0, "open %s %s", device, dev < 0 ? strerror(errno) : "");
	return dev;
}

/* ---- connect ---------------------------------------------------------------------- */

static void t_connect(void)
{
	int dev = open_dev();
	if (dev < 0)
		return;
	int ch = own_channel(dev, "connect");
	if (ch >= 0) {
		for (int i = 0; i < 3; i++) {
			size_t want = 4096u << i, got = 0;
			int token = create_token(dev, want);
			int e = errno;
			int fd = token <= -2 ? receive_buffer(ch, token, 5000, &got) : -1;
			vt_check(token <= -2 && fd >= 0 && got == want, "CREATE %zu bytes: token %d, the buffer arrives on the channel (%s)",
				 want, token, token <= -2 ? (fd >= 0 ? "ok" : "nothing arrived") : vt_errname(e));
			if (fd >= 0) {
				void *p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
				if (vt_check(p != MAP_FAILED, "  ... it maps read-write %s", vt_why(p == MAP_FAILED))) {
					vt_fill(p, want, (uint64_t)i);
					vt_check(vt_verify(p, want, (uint64_t)i) < 0, "  ... and keeps what is written");
					munmap(p, want);
				}
				close(fd);
			}
		}
		close(ch);
	}
	close(dev);
}

/* ---- misuse ----------------------------------------------------------------------- */

static void expect_refusal(int dev, int sock, __u64 version, int want, const char *what)
{
	errno = 0;
	int r = container_connect(dev, sock, version, NULL);
	int e = errno;
	vt_check(r == -1 && e == want, "EXT_CONNECT %s -> %s (got %s)", what, vt_errname(want), r ? vt_errname(e) : "success");
}

/* After a refused EXT_CONNECT the caller still has no channel. */
static void expect_no_channel(int dev, const char *who)
{
	errno = 0;
	int token = create_token(dev, 4096);
	int e = errno;
	vt_check(token == 0 && e == ENOTCONN, "%s: still no channel, CREATE fails with ENOTCONN (got %s)", who,
		 token ? "a buffer token" : vt_errname(e));
}

static void t_bad_fds(int dev)
{
	int closed = fcntl(dev, F_DUPFD_CLOEXEC, 600);
	close(closed);
	expect_refusal(dev, closed, 0, EBADF, "with an fd number that is not open");
	expect_refusal(dev, -1, 0, EBADF, "with fd -1");
	int p[2];
	if (pipe2(p, O_CLOEXEC) == 0) {
		expect_refusal(dev, p[1], 0, EINVAL, "with a pipe");
		close(p[0]);
		close(p[1]);
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
		expect_refusal(dev, sv[1], 0, EINVAL, "with an AF_UNIX SOCK_STREAM socketpair end");
		close(sv[0]);
		close(sv[1]);
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0) {
		expect_refusal(dev, sv[1], 0, EINVAL, "with an AF_UNIX SOCK_DGRAM socketpair end");
		close(sv[0]);
		close(sv[1]);
	}
	int in = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (in >= 0) {
		expect_refusal(dev, in, 0, EINVAL, "with an AF_INET socket");
		close(in);
	}
	int lone = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lone >= 0) {
		/* No peer, no peer credentials: not a socketpair end (EINVAL),
		 * or credentials that are not the caller's (EPERM). */
		errno = 0;
		int r = container_connect(dev, lone, 0, NULL);
		int e = errno;
		vt_check(r == -1 && (e == EINVAL || e == EPERM),
			 "EXT_CONNECT with an unconnected AF_UNIX SOCK_SEQPACKET socket -> EINVAL or EPERM (got %s)",
			 r ? vt_errname(e) : "success");
		close(lone);
	}
	expect_refusal(dev, dev, 0, EINVAL, "with the SMAF node's own fd");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) {
		expect_refusal(dev, sv[1], 1, EINVAL, "version 1 with a good socketpair end");
		close(sv[0]);
		close(sv[1]);
	}
	expect_no_channel(dev, "after those refusals");
}

/* The parent makes the pair, a forked child names it: EPERM. */
static void t_inherited(int dev)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		expect_refusal(dev, sv[1], 0, EPERM, "in a forked child with the end its parent made");
		expect_no_channel(dev, "the child");
		_exit(0);
	}
	vt_wait_child(pid);
	vt_check(!vt_readable(sv[0], 0), "the parent's end received nothing (no welcome for the child)");
	expect_no_channel(dev, "the parent that made the pair");
	close(sv[0]);
	close(sv[1]);
}

/*
 * Two unrelated processes (the child is forked before the pair exists):
 * the one that made the pair sends an end over SCM_RIGHTS to the other,
 * which names it. direction 0: parent makes, child names; 1: the reverse.
 * as_nobody: the receiving child runs as uid 65534.
 */
static void t_passed(int dev, int direction, int as_nobody)
{
	int link[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, link) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		close(link[0]);
		if (as_nobody && (setresgid(NOBODY, NOBODY, NOBODY) != 0 || setresuid(NOBODY, NOBODY, NOBODY) != 0)) {
			vt_check(0, "setresuid(%d): %s", NOBODY, strerror(errno));
			_exit(1);
		}
		char byte = 0;
		int fd = -1;
		if (direction == 0) {
			if (vt_recv_fd(link[1], &byte, 1, &fd, 0) != 1 || fd < 0) {
				vt_check(0, "the child received no socket");
				_exit(1);
			}
			expect_refusal(dev, fd, 0, EPERM,
				       as_nobody ? "as uid 65534 with an end root's process made and sent over SCM_RIGHTS"
						 : "with an end another process made and sent over SCM_RIGHTS");
			expect_no_channel(dev, "the receiving process");
			close(fd);
		} else {
			int sv[2];
			if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 || vt_send_fd(link[1], sv[1], "s", 1, 0) != 0) {
				vt_check(0, "the child could not send a socket: %s", strerror(errno));
				_exit(1);
			}
			/* Wait until the parent has tried, then check nothing came. */
			if (vt_readable(link[1], 10000))
				vt_check(!vt_readable(sv[0], 0), "the maker's end received nothing");
		}
		_exit(0);
	}
	close(link[1]);
	if (direction == 0) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) {
			vt_send_fd(link[0], sv[1], "s", 1, 0);
			vt_wait_child(pid);
			vt_check(!vt_readable(sv[0], 0), "the maker's end received nothing");
			close(sv[0]);
			close(sv[1]);
		} else {
			kill(pid, SIGKILL);
			vt_wait_child(pid);
		}
	} else {
		char byte;
		int fd = -1;
		if (vt_recv_fd(link[0], &byte, 1, &fd, 0) == 1 && fd >= 0) {
			expect_refusal(dev, fd, 0, EPERM, "with an end a child process made and sent over SCM_RIGHTS");
			expect_no_channel(dev, "the parent");
			close(fd);
		} else {
			vt_check(0, "the parent received no socket");
		}
		vt_send_fd(link[0], -1, "d", 1, 0);
		vt_wait_child(pid);
	}
	close(link[0]);
}

/* One process makes the pair as root, then becomes uid 65534: the socket's
 * credentials are not the caller's any more. */
static void t_other_uid(int dev)
{
	pid_t pid = fork();
	if (pid == 0) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) != 0) {
			vt_check(0, "socketpair/setresuid: %s", strerror(errno));
			_exit(1);
		}
		expect_refusal(dev, sv[1], 0, EPERM, "as uid 65534 with a pair this process made as root");
		expect_no_channel(dev, "that process");
		/* Its own pair, made as 65534, is fine. */
		int ch = own_channel(dev, "uid 65534 with a pair made as 65534");
		if (ch >= 0) {
			int token = create_token(dev, 4096);
			int fd = token <= -2 ? receive_buffer(ch, token, 5000, NULL) : -1;
			vt_check(fd >= 0, "  ... and its CREATE's buffer arrives (token %d)", token);
			if (fd >= 0)
				close(fd);
			close(ch);
		}
		_exit(0);
	}
	vt_wait_child(pid);
}

/*
 * Process A and process B, each with its own channel: A's creates arrive on
 * A's channel only, B's on B's only, whatever the tokens.
 */
static void t_isolation(int dev)
{
	int a2b[2], b2a[2];
	if (pipe(a2b) != 0 || pipe(b2a) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) { /* B */
		close(a2b[1]);
		close(b2a[0]);
		int bdev = open_dev();
		int ch = bdev >= 0 ? own_channel(bdev, "process B") : -1;
		char c = ch >= 0 ? 'r' : 'x';
		if (write(b2a[1], &c, 1) != 1 || ch < 0)
			_exit(1);
		/* A creates now; B waits for "done", then looks at its channel. */
		if (read(a2b[0], &c, 1) != 1)
			_exit(1);
		int got = 0;
		while (vt_readable(ch, 500)) {
			struct smaf_handoff_msg m;
			int fd = -1;
			if (vt_recv_fd(ch, &m, sizeof(m), &fd, MSG_DONTWAIT) <= 0)
				break;
			got++;
			if (fd >= 0)
				close(fd);
		}
		vt_check(got == 0, "process B's channel received none of A's buffers (%d messages)", got);
		int token = create_token(bdev, 8192);
		int fd = token <= -2 ? receive_buffer(ch, token, 5000, NULL) : -1;
		vt_check(fd >= 0, "process B's own CREATE arrives on B's channel (token %d)", token);
		if (fd >= 0)
			close(fd);
		c = 'b';
		if (write(b2a[1], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(a2b[0]);
	close(b2a[1]);
	char c = 0;
	if (read(b2a[0], &c, 1) != 1 || c != 'r') {
		vt_check(0, "process B did not get a channel");
		close(a2b[1]);
		vt_wait_child(pid);
		return;
	}
	int ch = own_channel(dev, "process A");
	int received = 0;
	for (int i = 0; ch >= 0 && i < 5; i++) {
		int token = create_token(dev, 4096);
		int fd = token <= -2 ? receive_buffer(ch, token, 5000, NULL) : -1;
		received += fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	vt_check(received == 5, "process A's 5 CREATEs arrive on A's channel (%d)", received);
	c = 'd';
	if (write(a2b[1], &c, 1) != 1)
		vt_check(0, "cannot tell B");
	c = 0;
	if (read(b2a[0], &c, 1) == 1 && c == 'b' && ch >= 0)
		vt_check(!vt_readable(ch, 300), "process A's channel received nothing of B's CREATE");
	vt_wait_child(pid);
	if (ch >= 0)
		close(ch);
	close(a2b[1]);
	close(b2a[0]);
}

static void t_misuse(void)
{
	if (getuid() != 0)
		vt_note("not root: the uid 65534 cases are left out");
	int dev = open_dev();
	if (dev < 0)
		return;
	t_bad_fds(dev);
	t_inherited(dev);
	t_passed(dev, 0, 0);
	t_passed(dev, 1, 0);
	if (getuid() == 0) {
		t_passed(dev, 0, 1);
		t_other_uid(dev);
	}
	t_isolation(dev);
	close(dev);
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "connect") && strcmp(argv[1], "misuse"))) {
		fprintf(stderr, "usage: %s connect|misuse\n", argv[0]);
		return 2;
	}
	static char name[64];
	snprintf(name, sizeof(name), "container-connect %s", argv[1]);
	vt_init(name);
	device = vt_device_path();
	if (!strcmp(argv[1], "connect"))
		t_connect();
	else
		t_misuse();
	return vt_finish();
}

/* SPDX-License-Identifier: MIT */
/*
 * smaf_handoff.c - receives SMAF buffer fds from smafd over its handoff
 * socket (the protocol is specified in smaf_ext.h). Linked into libsmaf.so
 * and into libsmaf-preload.so; see smaf_handoff.h for why all of its state
 * is reachable only through the exported functions.
 *
 * Per process there is at most one channel per device node, keyed by the
 * node's st_rdev (several smafd instances may serve several nodes). A
 * channel is a connected SOCK_SEQPACKET socket plus a mutex that is held
 * across the CREATE ioctl and the receipt of its buffer, so on a channel
 * only one CREATE is in flight and any other message that turns up (left
 * over from a CREATE that timed out or was interrupted) is stale and is
 * dropped, its fd closed.
 *
 * Connecting. First by SMAF_IOC_EXT_CONNECT: we make a socketpair, name one
 * end in the ioctl, smafd takes a duplicate of it out of this process and
 * sends the welcome on it before the ioctl returns. This needs nothing but
 * the device node, so it works in a container that cannot see smafd's /run.
 * A node that does not know it (EINVAL, ENOTTY, EOPNOTSUPP: a kernel
 * driver, an older smafd, a kernel without pidfd_getfd) gets the route by
 * path: SMAF_IOC_EXT_HANDOFF names smafd's socket and we connect() to it. A
 * node that knows neither gets its CREATEs as they are.
 *
 * Channels belong to processes (smafd identifies the peer by its credentials).
 * A forked child must neither use nor read its parent's channel: the
 * pthread_atfork child handler closes inherited sockets without reading
 * them. A child made without the fork handlers (a raw clone/SYS_fork) still
 * holds the parent's socket, but never reads it: smafd keys channels by
 * process, so the child's first CREATE fails with ENOTCONN before any
 * buffer is made or sent, and the child drops the inherited socket (without
 * reading it) and connects its own. The child connects again on its first
 * CREATE either way.
 *
 * System calls per CREATE. Once connected, a CREATE costs the ioctl and one
 * recvmsg (plus fcntl when SMAF_CLOEXEC was not asked for, and poll and
 * clock_gettime only if the buffer is not queued yet; libsmaf-preload
 * also fstat()s the program's device fd to find the node). Nothing is
 * checked ahead of each CREATE, because smafd's ENOTCONN already reports
 * every case such a check would catch: a socket inherited without the fork
 * handlers (see above); smafd restarted, or the channel dropped; the
 * program closing our socket's number (smafd sees the hang-up, or its send
 * fails, and answers ENOTCONN; drop_socket() then checks the number's
 * identity before it closes anything, so a file the program opened since
 * under that number is left alone). What is no longer caught: the program
 * closes our number while another copy of the socket lives on (it dup()ed
 * it, or a raw-cloned child holds it) and reuses the number for a socket of
 * its own; the buffer's message would then be read from that one. Before,
 * every CREATE paid a getpid() and an fstat() of the socket for this.
 *
 * Legacy requests. smafd translates the CREATEs of v2, v3-v7 and the S64
 * variant, and v2's SELECT_BY_NAME (smaf_legacy.h, in this build's native
 * layout, so a 32-bit build handles the numbers 32-bit programs send). A
 * legacy CREATE is handed over exactly like v10's, with the fd field, flags
 * and length where that generation keeps them (buffer_requests[]). A
 * SELECT_BY_NAME that makes smafd remake the buffer with the allocator
 * named returns a token too: the new buffer is dup3()ed onto the fd number
 * the program passed, so its fd keeps working. SELECT costs a
 * process_vm_readv, a getpid and an fcntl more than a CREATE, to read that
 * number safely before smafd overwrites it.
 *
 * ioctls are issued with syscall(SYS_ioctl) so that an LD_PRELOADed ioctl()
 * (libsmaf-preload.so's own, or anyone else's) is never re-entered.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "smaf.h"
#include "smaf_ext.h"
#include "smaf_handoff.h"
#include "smaf_legacy.h"

_Static_assert(sizeof(struct smaf_ext_handoff) == 128, "smaf_ext_handoff is 128 bytes");
_Static_assert(sizeof(struct smaf_ext_status) == 128, "smaf_ext_status is 128 bytes");
_Static_assert(sizeof(struct smaf_ext_connect) == 128, "smaf_ext_connect is 128 bytes");
_Static_assert(sizeof(struct smaf_handoff_msg) == 24, "smaf_handoff_msg is 24 bytes");
_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) == SMAF_HANDOFF_PATH_MAX,
	       "SMAF_HANDOFF_PATH_MAX is sun_path's size");

/* How long to wait for smafd's welcome, and for a buffer after its CREATE
 * returned (smafd sends it before the ioctl returns, so it is normally
 * already queued). */
#define HANDOFF_TIMEOUT_MS 5000
/* Device nodes one process may have channels to at the same time. */
#define MAX_CHANNELS 8
/* The protocol sends at most one fd; room for more lets us see (and close)
 * extra ones instead of having the kernel drop them. */
#define MAX_FDS_PER_MSG 8

static int raw_ioctl(int fd, unsigned long request, void *arg)
{
	return (int)syscall(SYS_ioctl, fd, request, arg);
}

struct channel {
	/* Held across CREATE + receipt; guards the fields up to `pid`. */
	pthread_mutex_t lock;
	int sock;        /* connected handoff socket, or -1 */
	dev_t sock_dev;  /* sock's identity: if the program closed our fd and */
	ino_t sock_ino;  /* the number now names another file, we notice */
	pid_t pid;       /* the process that connected sock */

	/* Guarded by table_lock. A slot whose users is 0 is not inside `lock`
	 * in any thread, so table_lock alone may then read and reset sock. */
	int bound;       /* the slot belongs to rdev */
	dev_t rdev;
	unsigned users;  /* threads between channel_get() and channel_put() */
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct channel table[MAX_CHANNELS];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* ---- sockets ------------------------------------------------------------ */

static int sock_is_ours(const struct channel *c)
{
	struct stat st;
	return c->sock >= 0 && fstat(c->sock, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       st.st_dev == c->sock_dev && st.st_ino == c->sock_ino;
}

/* Forgets c's socket, closing it if the number still refers to it. Never
 * reads from it (in a forked child the queue belongs to the parent). */
static void drop_socket(struct channel *c)
{
	if (sock_is_ours(c))
		close(c->sock);
	c->sock = -1;
}

/* Is c's socket ours, connected by this process, and not hung up? */
static int channel_usable(const struct channel *c)
{
	if (c->sock < 0 || c->pid != getpid() || !sock_is_ours(c))
		return 0;
	struct pollfd p = { .fd = c->sock, .events = POLLIN | POLLRDHUP };
	if (poll(&p, 1, 0) < 0)
		return 1; /* cannot tell; the receive will */
	return !(p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL));
}

/* ---- the channel table and fork ---------------------------------------- */

static void before_fork(void)
{
	pthread_mutex_lock(&table_lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&table_lock);
}

/*
 * In the child only the forking thread exists. A channel lock may have been
 * held by another thread at fork() time (a CREATE in flight); it would stay
 * locked for ever, so each is re-initialised. Channel locks are deliberately
 * not taken in before_fork(): a CREATE stuck on an unresponsive smafd must
 * not block fork() in unrelated threads.
 */
static void after_fork_child(void)
{
	for (int i = 0; i < MAX_CHANNELS; i++) {
		struct channel *c = &table[i];
		pthread_mutex_init(&c->lock, NULL);
		drop_socket(c);
		c->users = 0;
	}
	pthread_mutex_unlock(&table_lock);
}

static void init_table(void)
{
	for (int i = 0; i < MAX_CHANNELS; i++) {
		pthread_mutex_init(&table[i].lock, NULL);
		table[i].sock = -1;
	}
	/* If this fails (ENOMEM), smafd's ENOTCONN still protects children. */
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/*
 * The channel slot for rdev, with its user count raised (release it with
 * channel_put). With `create`, a free slot is bound to rdev if there is none
 * yet. NULL (errno EMFILE, or nothing found without `create`) otherwise.
 */
static struct channel *channel_get(dev_t rdev, int create)
{
	struct channel *found = NULL, *spare = NULL, *stale = NULL;
	pthread_mutex_lock(&table_lock);
	for (int i = 0; i < MAX_CHANNELS && !found; i++) {
		struct channel *c = &table[i];
		if (c->bound && c->rdev == rdev)
			found = c;
		else if (!c->bound || (c->users == 0 && c->sock < 0))
			spare = spare ? spare : c;
		else if (c->users == 0)
			stale = stale ? stale : c;
	}
	if (!found && create) {
		/* A slot whose daemon went away can be taken over. */
		if (!spare && stale && !channel_usable(stale)) {
			drop_socket(stale);
			spare = stale;
		}
		if (spare) {
			found = spare;
			found->bound = 1;
			found->rdev = rdev;
		}
	}
	if (found)
		found->users++;
	pthread_mutex_unlock(&table_lock);
	if (!found)
		errno = EMFILE;
	return found;
}

static void channel_put(struct channel *c)
{
	pthread_mutex_lock(&table_lock);
	c->users--;
	pthread_mutex_unlock(&table_lock);
}

/* ---- messages ------------------------------------------------------------ */

/*
 * A deadline that starts running the first time it is asked about, i.e. when
 * a receive first has to wait. Most receives find their message queued and
 * never ask, which saves a clock_gettime() per CREATE: a real system call
 * wherever the clock source has no vDSO path (hpet on the 6.1 test VM).
 */
struct deadline {
	int ms;              /* the timeout */
	int started;         /* at is set */
	struct timespec at;
};

static struct deadline deadline_in(int ms)
{
	struct deadline d = { .ms = ms };
	return d;
}

/* Milliseconds left until d, rounded up; 0 once it has passed. */
static int ms_until(struct deadline *d)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!d->started) {
		d->at = now;
		d->at.tv_sec += d->ms / 1000;
		d->at.tv_nsec += (long)(d->ms % 1000) * 1000000L;
		if (d->at.tv_nsec >= 1000000000L) {
			d->at.tv_sec++;
			d->at.tv_nsec -= 1000000000L;
		}
		d->started = 1;
	}
	long long ns = (long long)(d->at.tv_sec - now.tv_sec) * 1000000000LL + (d->at.tv_nsec - now.tv_nsec);
	if (ns <= 0)
		return 0;
	return (int)((ns + 999999) / 1000000);
}

struct received {
	struct smaf_handoff_msg msg; /* valid when size == sizeof(msg) */
	ssize_t size;                /* bytes received */
	int fd;                      /* the single fd it carried, or -1 */
	int nfds;                    /* fds it carried (if more than 1, all are closed) */
	int msg_flags;               /* MSG_TRUNC / MSG_CTRUNC */
};

/*
 * Receives one message from sock, waiting until deadline. Every fd arrives
 * with FD_CLOEXEC set, so nothing we did not ask for can leak into a program
 * that another thread execs meanwhile. Returns 1 with *r filled in, 0 when
 * smafd closed the connection, -1 with errno (ETIMEDOUT, or a socket error).
 */
static int recv_msg(int sock, struct deadline *deadline, struct received *r)
{
	/* smafd sends a buffer before its CREATE returns, so the message is
	 * usually queued already: try to receive first, wait only if needed. */
	for (int waited = 0;; waited = 1) {
		struct pollfd p = { .fd = sock, .events = POLLIN, .revents = POLLIN };
		int n = waited ? poll(&p, 1, ms_until(deadline)) : 1;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (!(p.revents & POLLIN)) {
			if (p.revents & POLLHUP)
				return 0;
			errno = (p.revents & POLLNVAL) ? EBADF : ECONNRESET;
			return -1;
		}

		/* One byte more than a message, so an oversized one is noticed. */
		union {
			struct smaf_handoff_msg msg;
			char bytes[sizeof(struct smaf_handoff_msg) + 1];
		} data;
		union {
			struct cmsghdr align;
			char bytes[CMSG_SPACE(MAX_FDS_PER_MSG * sizeof(int))];
		} control;
		struct iovec iov = { .iov_base = data.bytes, .iov_len = sizeof(data.bytes) };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.bytes,
			.msg_controllen = sizeof(control.bytes),
		};
		ssize_t got = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -1;
		}

		memset(r, 0, sizeof(*r));
		r->fd = -1;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < count; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
				if (r->nfds++ == 0)
					r->fd = fd;
				else
					close(fd);
			}
		}
		if (r->nfds > 1) {
			close(r->fd);
			r->fd = -1;
		}
		if (got == 0 && r->nfds == 0)
			return 0; /* end of file on a SOCK_SEQPACKET socket */
		r->size = got;
		r->msg_flags = mh.msg_flags;
		if ((size_t)got == sizeof(r->msg))
			memcpy(&r->msg, data.bytes, sizeof(r->msg));
		return 1;
	}
}

static int well_formed(const struct received *r)
{
	return r->size == (ssize_t)sizeof(r->msg) && !(r->msg_flags & MSG_TRUNC) &&
	       r->msg.magic == SMAF_HANDOFF_MAGIC && r->msg.protocol == SMAF_HANDOFF_PROTOCOL;
}

/* ---- connecting ---------------------------------------------------------- */

enum { CONNECTED = 0, NO_HANDOFF = 1 };
/* open_by_*()'s answer when the node does not offer that route. */
#define NO_ROUTE (-2)

/*
 * The route that needs only the device node (a container sees nothing of
 * smafd's /run): one end of a socketpair() named in SMAF_IOC_EXT_CONNECT,
 * which smafd takes out of this process and registers as its channel.
 * Returns the other end, NO_ROUTE if the node does not know the request
 * (a kernel driver, an older smafd: EINVAL; another device: ENOTTY; a
 * kernel without pidfd_getfd: EOPNOTSUPP), or -1 with errno.
 */
static int open_by_connect(int devfd)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	struct smaf_ext_connect x;
	memset(&x, 0, sizeof(x));
	x.sock = sv[1];
	int r = raw_ioctl(devfd, SMAF_IOC_EXT_CONNECT, &x);
	int e = errno;
	/* smafd holds its own duplicate of the end it took; ours must go, or
	 * the channel would never see a hang-up from smafd's side. */
	close(sv[1]);
	if (r != 0) {
		close(sv[0]);
		errno = e;
		return e == EINVAL || e == ENOTTY || e == EOPNOTSUPP ? NO_ROUTE : -1;
	}
	if (x.protocol != SMAF_HANDOFF_PROTOCOL) {
		close(sv[0]);
		errno = EPROTO;
		return -1;
	}
	return sv[0];
}

/*
 * The route by path: SMAF_IOC_EXT_HANDOFF names smafd's handoff socket, and
 * we connect to it. Returns the connected socket, NO_ROUTE if the node does
 * not offer a handoff (EINVAL, ENOTTY), or -1 with errno.
 */
static int open_by_path(int devfd)
{
	struct smaf_ext_handoff h;
	memset(&h, 0, sizeof(h));
	if (raw_ioctl(devfd, SMAF_IOC_EXT_HANDOFF, &h) != 0)
		return errno == EINVAL || errno == ENOTTY ? NO_ROUTE : -1;
	if (h.protocol != SMAF_HANDOFF_PROTOCOL || h.path[0] == '\0' || !memchr(h.path, '\0', sizeof(h.path))) {
		errno = EPROTO;
		return -1;
	}

	struct sockaddr_un addr;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, h.path, sizeof(addr.sun_path));
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	/* connect() waits while smafd's listen backlog is full; bound the wait. */
	struct timeval tv = { .tv_sec = HANDOFF_TIMEOUT_MS / 1000, .tv_usec = (HANDOFF_TIMEOUT_MS % 1000) * 1000 };
	(void)setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int r;
	do
		r = connect(s, (struct sockaddr *)&addr, sizeof(addr));
	while (r != 0 && errno == EINTR);
	if (r != 0 && errno != EISCONN) {
		int e = errno == EAGAIN ? ETIMEDOUT : errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

/*
 * Gives c a channel to the smafd serving devfd, by SMAF_IOC_EXT_CONNECT or
 * else by path, and waits for its welcome. Returns CONNECTED; NO_HANDOFF if
 * the node offers neither route (then CREATE is issued as it is); or -1
 * with errno.
 */
static int channel_connect(struct channel *c, int devfd)
{
	int s = open_by_connect(devfd);
	if (s == NO_ROUTE)
		s = open_by_path(devfd);
	if (s == NO_ROUTE)
		return NO_HANDOFF;
	if (s < 0)
		return -1;

	/* smafd registers the channel before it sends the welcome: once it is
	 * here, a CREATE finds the channel. (By EXT_CONNECT it was sent before
	 * the ioctl returned, so it is already queued.) */
	struct deadline deadline = deadline_in(HANDOFF_TIMEOUT_MS);
	struct received m;
	int got = recv_msg(s, &deadline, &m);
	if (got == 1 && m.fd >= 0)
		close(m.fd);
	if (got != 1 || !well_formed(&m) || m.msg.token != 0 || m.nfds != 0) {
		/* EOF: smafd would not have us. */
		int e = got == 0 ? ECONNREFUSED : got < 0 ? errno : EPROTO;
		close(s);
		errno = e;
		return -1;
	}

	struct stat st;
	if (fstat(s, &st) != 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	c->sock_dev = st.st_dev;
	c->sock_ino = st.st_ino;
	c->pid = getpid();
	c->sock = s; /* last: a fork() snapshot never pairs it with stale identity */
	return CONNECTED;
}

/* ---- requests that hand over a buffer ------------------------------------ */

/*
 * Where a request's struct keeps the fields the handoff needs, so the v10
 * CREATE, CREATE_FOR and the legacy numbers smafd translates (smaf_legacy.h,
 * in this build's native layout) share one path. smafd writes the token
 * (<= -2) into the fd field, an int or (S64) an __s64 sign-extended. Its
 * message carries the create flags masked to SMAF_RDWR|SMAF_CLOEXEC (before
 * v8 flags were not validated, so a legacy struct may hold other bits) and
 * the page-rounded length. A v2 SELECT_BY_NAME (`select`) names a buffer
 * in its fd field and gets a token back only when smafd had to make a new
 * buffer with the selected allocator; it has no flags or length.
 */
struct buffer_request {
	unsigned int nr;
	unsigned short fd_off, fd_size;         /* fd: 4 (int) or 8 (__s64) */
	unsigned short flags_off;               /* flags: always 32 bits */
	unsigned short length_off, length_size; /* length: size_t or __u64 */
	unsigned char select;
};

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)
#define CREATE_LAYOUT(nr, type, prefix)                                             \
	{ (nr), offsetof(type, prefix fd), FIELD_SIZE(type, prefix fd),              \
	  offsetof(type, prefix flags), offsetof(type, prefix length),               \
	  FIELD_SIZE(type, prefix length), 0 }

static const struct buffer_request buffer_requests[] = {
	CREATE_LAYOUT(SMAF_IOC_CREATE, struct smaf_create_data, ),   /* first: the common case */
	CREATE_LAYOUT(SMAF_IOC_EXT_CREATE_FOR, struct smaf_ext_create_for, create.),
	CREATE_LAYOUT(SMAF_LEGACY_IOC_V3_CREATE, struct smaf_legacy_v3_create, ),
	CREATE_LAYOUT(SMAF_LEGACY_IOC_V2_CREATE, struct smaf_legacy_v2_create, ),
	CREATE_LAYOUT(SMAF_LEGACY_IOC_S64_CREATE, struct smaf_legacy_s64_create, ),
	{ SMAF_LEGACY_IOC_V2_SELECT_BY_NAME, offsetof(struct smaf_legacy_v2_select, fd),
	  FIELD_SIZE(struct smaf_legacy_v2_select, fd), 0, 0, 0, 1 },
};

/* The layout for nr, NULL if nr hands over no buffer. */
static const struct buffer_request *buffer_request_of(unsigned int nr)
{
	for (size_t i = 0; i < sizeof(buffer_requests) / sizeof(buffer_requests[0]); i++)
		if (buffer_requests[i].nr == nr)
			return &buffer_requests[i];
	return NULL;
}

/* Field access by layout (memcpy: the struct is the program's, of any alignment). */
static long long get_fd(const void *arg, const struct buffer_request *br)
{
	const char *p = (const char *)arg + br->fd_off;
	if (br->fd_size == sizeof(__s64)) {
		__s64 v;
		memcpy(&v, p, sizeof(v));
		return v;
	}
	int v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static void put_fd(void *arg, const struct buffer_request *br, int fd)
{
	char *p = (char *)arg + br->fd_off;
	if (br->fd_size == sizeof(__s64)) {
		__s64 v = fd;
		memcpy(p, &v, sizeof(v));
	} else {
		memcpy(p, &fd, sizeof(fd));
	}
}

static __u32 get_flags(const void *arg, const struct buffer_request *br)
{
	__u32 v;
	memcpy(&v, (const char *)arg + br->flags_off, sizeof(v));
	return v;
}

static __u64 get_length(const void *arg, const struct buffer_request *br)
{
	const char *p = (const char *)arg + br->length_off;
	if (br->length_size == sizeof(__u64)) {
		__u64 v;
		memcpy(&v, p, sizeof(v));
		return v;
	}
	__u32 v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* A token smafd may have written: <= -2 and an int (an __s64 field can
 * hold more). */
static int is_token(long long v)
{
	return v <= -2 && v >= INT_MIN;
}

/*
 * Reads the int at p without faulting, so that a wild pointer gets
 * ioctl(2)'s EFAULT rather than a SIGSEGV. 0, or -1 if p is unreadable.
 */
static int read_int_safely(const void *p, int *out)
{
	struct iovec local = { .iov_base = out, .iov_len = sizeof(*out) };
	struct iovec remote = { .iov_base = (void *)p, .iov_len = sizeof(*out) };
	ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (n == (ssize_t)sizeof(*out))
		return 0;
	if (n >= 0 || errno == EFAULT)
		return -1;
	/* Not allowed here (a seccomp filter, no such syscall): read it as
	 * any ioctl wrapper would. */
	memcpy(out, p, sizeof(*out));
	return 0;
}

/*
 * Issues nr on devfd over channel c (its lock held), connecting c first if
 * it has no socket. Returns 0 when the ioctl succeeded (its buffer, if any,
 * is on its way on c), or -1 with errno. *plain is set when the node offers
 * no handoff and the request was issued as it is; the return is then that
 * ioctl's.
 */
static int ioctl_on_channel(struct channel *c, int devfd, unsigned int nr, void *arg, int *plain)
{
	*plain = 0;
	for (int attempt = 0;; attempt++) {
		/* No check of the socket here (liveness, pid, identity): every
		 * way it can be unusable makes smafd answer ENOTCONN, which
		 * reconnects below (see the top of this file); this keeps
		 * CREATE's syscalls to the ioctl and the recvmsg. */
		if (c->sock < 0) {
			int r = channel_connect(c, devfd);
			if (r == NO_HANDOFF) {
				*plain = 1;
				return raw_ioctl(devfd, nr, arg);
			}
			if (r < 0)
				return -1;
		}
		if (raw_ioctl(devfd, nr, arg) == 0)
			return 0;
		/* smafd says we have no channel although we hold one: it dropped
		 * it (it broke, or the program closed our socket's number), or
		 * this is a child that inherited the socket without the fork
		 * handlers, or it is a restarted smafd serving a new device
		 * (possibly with the old device number) that never knew this
		 * channel, or devfd's own smafd is gone (then the reconnect fails
		 * too, with the kernel's ENOTCONN). No buffer was made; drop the
		 * socket unread and reconnect once. */
		if (errno != ENOTCONN || attempt > 0)
			return -1;
		drop_socket(c);
	}
}

/*
 * Receives the message for token on c (its lock held), dropping stale ones
 * (their request timed out or was interrupted) and junk. Returns 1 with *m
 * (m->fd may be -1), or -1 if it never came: timed out (the channel is
 * kept; a late message is dropped by the next request) or the channel
 * broke (dropped).
 */
static int receive_token(struct channel *c, int token, struct received *m)
{
	struct deadline deadline = deadline_in(HANDOFF_TIMEOUT_MS);
	for (;;) {
		int got = recv_msg(c->sock, &deadline, m);
		if (got != 1) {
			if (got == 0 || errno != ETIMEDOUT)
				drop_socket(c);
			return -1;
		}
		if (well_formed(m) && m->msg.token == token)
			return 1;
		if (m->fd >= 0)
			close(m->fd);
	}
}

/* Why a message for our token came without an fd. */
static int missing_fd_errno(const struct received *m)
{
	/* No fd and a truncated control part: our fd table is full. */
	return m->nfds == 0 && (m->msg_flags & MSG_CTRUNC) ? EMFILE : EIO;
}

/* The buffer could not be received: never leave the token in the fd field. */
static int fail_after_create(void *arg, const struct buffer_request *br, int e)
{
	put_fd(arg, br, -1);
	errno = e;
	return -1;
}

/* A CREATE of any generation on channel c (its lock held). 0, or -1 with errno. */
static int create_on_channel(struct channel *c, int devfd, const struct buffer_request *br, void *arg)
{
	/* arg is not touched before the ioctl: the kernel validates the
	 * pointer (EFAULT), and on failure nothing may be written to it. */
	int plain;
	int r = ioctl_on_channel(c, devfd, br->nr, arg, &plain);
	if (r != 0 || plain)
		return r;

	const long long token = get_fd(arg, br);
	const __u32 flags = get_flags(arg, br) & (SMAF_RDWR | SMAF_CLOEXEC);
	const __u64 length = get_length(arg, br);
	if (!is_token(token))
		return fail_after_create(arg, br, EIO); /* smafd broke the protocol */

	struct received m;
	if (receive_token(c, (int)token, &m) < 0)
		return fail_after_create(arg, br, EIO);
	if (m.fd < 0 || m.msg.flags != flags || m.msg.length < length) {
		if (m.fd >= 0)
			close(m.fd);
		return fail_after_create(arg, br, missing_fd_errno(&m));
	}
	/* Received with FD_CLOEXEC; clear it unless SMAF_CLOEXEC was asked
	 * for (the fd is not the caller's yet, so the brief window with the
	 * flag set can affect nobody). */
	if (!(flags & SMAF_CLOEXEC) && fcntl(m.fd, F_SETFD, 0) != 0) {
		close(m.fd);
		return fail_after_create(arg, br, EIO);
	}
	put_fd(arg, br, m.fd);
	return 0;
}

/*
 * v2 SELECT_BY_NAME on channel c (its lock held); orig is the buffer fd the
 * program named, cloexec its FD_CLOEXEC state before the ioctl. When smafd
 * can bind the allocator to that buffer the fd field comes back as orig
 * and nothing moves. Otherwise smafd made a new buffer with the allocator
 * and sent it under the token in the fd field: it takes over orig's number
 * (the program goes on using that fd), and the field gets orig back. On
 * failure the field is orig too: that fd is still the program's. 0, or -1
 * with errno.
 */
static int select_on_channel(struct channel *c, int devfd, const struct buffer_request *br, void *arg,
			     int orig, int cloexec)
{
	int plain;
	int r = ioctl_on_channel(c, devfd, br->nr, arg, &plain);
	if (r != 0 || plain)
		return r;

	const long long token = get_fd(arg, br);
	if (token == orig)
		return 0;
	put_fd(arg, br, orig);
	if (!is_token(token)) {
		errno = EIO; /* smafd broke the protocol */
		return -1;
	}
	struct received m;
	if (receive_token(c, (int)token, &m) < 0) {
		errno = EIO;
		return -1;
	}
	/* No flags or length to check: SELECT has none. */
	if (m.fd < 0) {
		errno = missing_fd_errno(&m);
		return -1;
	}
	if (m.fd == orig) {
		/* The program closed orig meanwhile and the buffer got its number. */
		r = fcntl(m.fd, F_SETFD, cloexec ? FD_CLOEXEC : 0);
	} else {
		do
			r = dup3(m.fd, orig, cloexec ? O_CLOEXEC : 0);
		while (r < 0 && (errno == EINTR || errno == EBUSY));
		close(m.fd);
	}
	if (r < 0) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* A request that hands over a buffer, on devfd, a character device whose
 * st_rdev is rdev. */
static int handoff_request_on(int devfd, dev_t rdev, const struct buffer_request *br, void *arg)
{
	int orig = -1, cloexec = 0;
	if (br->select) {
		/* smafd overwrites the fd field: remember which fd it was. */
		if (read_int_safely(arg, &orig) != 0)
			return raw_ioctl(devfd, br->nr, arg); /* the kernel's EFAULT */
		int fdflags = fcntl(orig, F_GETFD);
		cloexec = fdflags > 0 && (fdflags & FD_CLOEXEC);
	}
	pthread_once(&init_once, init_table);
	struct channel *c = channel_get(rdev, 1);
	if (!c)
		return -1;
	pthread_mutex_lock(&c->lock);
	int r = br->select ? select_on_channel(c, devfd, br, arg, orig, cloexec)
			   : create_on_channel(c, devfd, br, arg);
	int e = errno;
	pthread_mutex_unlock(&c->lock);
	channel_put(c);
	errno = e;
	return r;
}

static int handoff_request(int devfd, const struct buffer_request *br, void *arg)
{
	struct stat st;
	/* Only a character device can be a SMAF node; never send our extension
	 * request to anything else. (A bad devfd gets its EBADF from ioctl.) */
	if (fstat(devfd, &st) != 0 || !S_ISCHR(st.st_mode))
		return raw_ioctl(devfd, br->nr, arg);
	return handoff_request_on(devfd, st.st_rdev, br, arg);
}

/* ---- exported -------------------------------------------------------------- */

/* The kernel compares the low 32 bits of the request. */
int smaf__handoff_ioctl(int devfd, unsigned long request, void *arg)
{
	const struct buffer_request *br = buffer_request_of((unsigned int)request);
	if (!br)
		return raw_ioctl(devfd, request, arg);
	int saved = errno;
	int r = handoff_request(devfd, br, arg);
	if (r == 0)
		errno = saved; /* like ioctl(2): errno untouched on success */
	return r;
}

int smaf__handoff_ioctl_node(int devfd, dev_t rdev, unsigned long request, void *arg)
{
	const struct buffer_request *br = buffer_request_of((unsigned int)request);
	if (!br)
		return raw_ioctl(devfd, request, arg);
	int saved = errno;
	int r = handoff_request_on(devfd, rdev, br, arg);
	if (r == 0)
		errno = saved;
	return r;
}

/* ---- for tools that know the layout (smafctl) ---------------------------- */

/* devfd's channel slot, connected; its lock held (release with
 * tool_channel_done). *state: CONNECTED, NO_HANDOFF, or -1 with errno (then
 * NULL is returned). */
static struct channel *tool_channel(int devfd, int *state)
{
	struct stat st;
	if (fstat(devfd, &st) != 0) {
		*state = -1;
		return NULL;
	}
	if (!S_ISCHR(st.st_mode)) {
		*state = NO_HANDOFF;
		return NULL;
	}
	pthread_once(&init_once, init_table);
	struct channel *c = channel_get(st.st_rdev, 1);
	if (!c) {
		*state = -1;
		return NULL;
	}
	pthread_mutex_lock(&c->lock);
	if (c->sock >= 0 && channel_usable(c)) {
		*state = CONNECTED;
	} else {
		drop_socket(c);
		*state = channel_connect(c, devfd);
	}
	if (*state != CONNECTED) {
		int e = errno;
		pthread_mutex_unlock(&c->lock);
		channel_put(c);
		errno = e;
		return NULL;
	}
	return c;
}

static void tool_channel_done(struct channel *c)
{
	int e = errno;
	pthread_mutex_unlock(&c->lock);
	channel_put(c);
	errno = e;
}

int smaf__handoff_connect(int devfd)
{
	int state;
	struct channel *c = tool_channel(devfd, &state);
	if (c)
		tool_channel_done(c);
	return state;
}

int smaf__handoff_ioctl_layout(int devfd, unsigned long request, void *arg, const struct smaf_handoff_layout *layout)
{
	struct buffer_request br = {
		.nr = (unsigned int)request,
		.fd_off = layout->fd_offset,
		.fd_size = layout->fd_size,
		.flags_off = layout->flags_offset,
		.length_off = layout->length_offset,
		.length_size = layout->length_size,
	};
	if ((br.fd_size != 4 && br.fd_size != 8) || (br.length_size != 4 && br.length_size != 8)) {
		errno = EINVAL;
		return -1;
	}
	int saved = errno;
	int r = handoff_request(devfd, &br, arg);
	if (r == 0)
		errno = saved;
	return r;
}

ssize_t smaf__handoff_query(int devfd, unsigned int kind, __u64 argument, void *answer, size_t capacity)
{
	int state;
	struct channel *c = tool_channel(devfd, &state);
	if (!c) {
		if (state == NO_HANDOFF)
			errno = ENOTTY;
		return -1;
	}
	struct smaf_handoff_msg q = {
		.magic = SMAF_HANDOFF_MAGIC, .protocol = SMAF_HANDOFF_PROTOCOL,
		.token = SMAF_QUERY_TOKEN, .flags = kind, .length = argument,
	};
	ssize_t result = -1;
	if (send(c->sock, &q, sizeof(q), MSG_NOSIGNAL) != (ssize_t)sizeof(q)) {
		drop_socket(c);
		tool_channel_done(c);
		return -1;
	}
	struct deadline deadline = deadline_in(HANDOFF_TIMEOUT_MS);
	for (;;) {
		struct pollfd p = { .fd = c->sock, .events = POLLIN };
		int n = poll(&p, 1, ms_until(&deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ETIMEDOUT;
			break;
		}
		/* The header, then the answer straight into the caller's buffer;
		 * any fd (a stale CREATE's buffer) is closed. */
		struct smaf_handoff_msg h;
		union {
			struct cmsghdr align;
			char bytes[CMSG_SPACE(MAX_FDS_PER_MSG * sizeof(int))];
		} control;
		struct iovec iov[2] = { { &h, sizeof(h) }, { answer, capacity } };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2, .msg_control = control.bytes,
				     .msg_controllen = sizeof(control.bytes) };
		ssize_t got = recvmsg(c->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		for (struct cmsghdr *cm = got >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
				close(fd);
			}
		}
		if (got <= 0) {
			if (got == 0)
				errno = ECONNRESET;
			drop_socket(c);
			break;
		}
		if ((size_t)got < sizeof(h) || h.magic != SMAF_HANDOFF_MAGIC || h.protocol != SMAF_HANDOFF_PROTOCOL ||
		    h.token != SMAF_QUERY_TOKEN || h.flags != kind)
			continue; /* not our answer */
		if ((mh.msg_flags & MSG_TRUNC) || h.length != (__u64)(got - (ssize_t)sizeof(h))) {
			errno = (mh.msg_flags & MSG_TRUNC) ? EMSGSIZE : EPROTO;
			break;
		}
		result = got - (ssize_t)sizeof(h);
		break;
	}
	tool_channel_done(c);
	return result;
}

void smaf__handoff_disconnect(int devfd)
{
	int saved = errno;
	struct stat st;
	if (fstat(devfd, &st) == 0 && S_ISCHR(st.st_mode)) {
		pthread_once(&init_once, init_table);
		struct channel *c = channel_get(st.st_rdev, 0);
		if (c) {
			pthread_mutex_lock(&c->lock);
			drop_socket(c);
			pthread_mutex_unlock(&c->lock);
			channel_put(c);
		}
	}
	errno = saved;
}

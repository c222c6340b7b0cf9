/* SPDX-License-Identifier: MIT */
/*
 * storm_test: a seeded storm of random ioctl() calls on a live SMAF node
 *. Every reply must be a success or
 * one of the errnos smafd documents; the program counts replies by errno,
 * prints the table and exits 1 on anything else.
 *
 *   storm-test [--device PATH] [--seed N] [--calls N] [--generations v10|all] [--verbose]
 *     PATH: $SMAF_DEVICE or /dev/smaf; N calls: 100000; the seed defaults to
 *     the clock and is printed, so any run can be repeated with --seed.
 *     --generations: what the daemon serves (smafd --abi-generations): v10
 *     (the default) means every legacy request must be EINVAL; all means
 *     they are served.
 *
 * What is sent (each call draws one kind):
 *   - 'S'-type numbers: every nr 0-255, every direction, sizes 0..16383,
 *     random bytes;
 *   - numbers of any other type, same ranges, except those the VFS answers
 *     itself in do_vfs_ioctl() (fs/ioctl.c) before any driver sees them:
 *     FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, FIOQSIZE (ENOTTY on a character
 *     device), FIBMAP, FIGETBSZ, and the whole types 'X' (FIFREEZE, FITHAW,
 *     FS_IOC_FS[GS]ETXATTR, FS_IOC_RESVSP*, FS_IOC_ZERO_RANGE), 'f'
 *     (FS_IOC_[GS]ETFLAGS, FS_IOC_FIEMAP), 0x94 (FICLONE, FICLONERANGE,
 *     FIDEDUPERANGE), 0x15 (FS_IOC_GETFSUUID, FS_IOC_GETFSSYSFSPATH, 6.8+)
 *     and 'v' (FS_IOC_GETVERSION, moved into the VFS by newer kernels).
 *     FIONREAD stays in: on a non-regular file the VFS passes it on;
 *   - the four v10 requests with random struct bytes, and with version 0
 *     and plausible fields (lengths, flags, allocator names, GET_INFO
 *     indexes) to reach smafd's deep paths, CREATE's success included (this
 *     process has a handoff channel through libsmaf; the buffers queue up on
 *     it unread until smafd answers EAGAIN);
 *   - GET/SET_SECURE_FLAG with fds that are: closed numbers, -1, huge,
 *     negative, random small numbers, a pipe's two ends, /dev/null, the node
 *     itself, this process's own buffers (libsmaf) and buffers received from
 *     another process over SCM_RIGHTS;
 *   - smafd's extension requests;
 *   - the legacy numbers of docs/generations.md (v2, v3-v7, v7 GET_INFO, v2
 *     SELECT_BY_NAME, S64; the LP64 and the ILP32 sizes) with random bytes,
 *     and with the layout of this program's ABI and plausible fields
 *     (lengths, flags with and without bits pre-v8 ignores, allocator names,
 *     pool fds in GET/SET/SELECT, GET_INFO indexes, S64 versions);
 *   - bad pointers: NULL, unmapped memory, a struct straddling into an
 *     unmapped page, and a read-only page.
 *
 * What is accepted. smafd documents EINVAL, EFAULT, ENOTCONN, EBUSY,
 * ENOMEM, ENOSPC, EAGAIN, EMFILE and EPERM; ENOTTY is not among them
 * (smafd answers every number it does not know with EINVAL). Between the
 * caller and smafd sit the VFS and CUSE. With the numbers above skipped the
 * VFS hands everything to CUSE. CUSE serves the node in restricted ioctl
 * mode (fs/fuse/ioctl.c fuse_do_ioctl): the number's _IOC_SIZE and
 * direction say what is copied, so sizes up to 16383 (4 pages, below the
 * connection's 32-page max_pages) always reach smafd, and the kernel's own
 * answers are EFAULT when copying in (direction _IOC_WRITE) or out
 * (_IOC_READ, after a success) fails, EIO if a server replied with more
 * than was asked for (smafd never does), and ECONNABORTED for the request
 * in flight when the daemon dies, ENOTCONN for every one after. So the
 * accepted set is exactly smafd's documented one (a crash shows up as
 * ECONNABORTED, then ENOTCONN where EINVAL or a success was due); the runs
 * on Debian's 6.1 and 6.12 kernels saw nothing else.
 *
 * Beyond the errno set it checks what docs/differences.md promises: a bad pointer
 * with a size to copy in gives EFAULT; a GET_INFO that succeeds into a
 * read-only page gives EFAULT; GET_SECURE_FLAG reads 0 for open files that
 * are not buffers, EINVAL for fds that are not open, and for buffers the
 * value the last successful SET left; SET_SECURE_FLAG on anything but a
 * buffer is EINVAL. Legacy requests: with --generations v10 every one is
 * EINVAL; with all, the well-formed ones obey the same GET/SET rules (the
 * flag belongs to the buffer, so a legacy SET changes what the v10 GET
 * reads), an S64 version other than 0 is EINVAL, and SELECT_BY_NAME is
 * EINVAL (this process never holds a buffer made by a v2 CREATE).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libsmaf.h"
#include "smaf.h"
#include "smaf_ext.h"

#define IOC_WRITE 1u
#define IOC_READ 2u
#define IOC(dir, type, nr, size) \
	((unsigned int)(dir) << 30 | (unsigned int)(size) << 16 | (unsigned int)(type) << 8 | (unsigned int)(nr))
#define IOC_DIR(n) ((n) >> 30)
#define IOC_TYPE(n) (((n) >> 8) & 0xFFu)
#define IOC_SIZE(n) (((n) >> 16) & 0x3FFFu)
#define MAX_SIZE 16383u

/* ---- the PRNG (splitmix64) ---------------------------------------------- */

static uint64_t rng;

static uint64_t next64(void)
{
	uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint32_t below(uint32_t n) { return (uint32_t)(next64() % n); }

/* ---- what the VFS answers itself ----------------------------------------- */

static int vfs_handles(unsigned int n)
{
	switch (n) {
	case 0x5451: /* FIOCLEX */
	case 0x5450: /* FIONCLEX */
	case 0x5421: /* FIONBIO */
	case 0x5452: /* FIOASYNC */
	case 0x5460: /* FIOQSIZE */
	case 0x1:    /* FIBMAP */
	case 0x2:    /* FIGETBSZ */
		return 1;
	}
	unsigned int t = IOC_TYPE(n);
	return t == 'X' || t == 'f' || t == 0x94 || t == 0x15 || t == 'v';
}

/* ---- documented replies ------------------------------------------------ */

static int documented(int e)
{
	switch (e) {
	case EINVAL: case EFAULT: case ENOTCONN: case EBUSY: case ENOMEM:
	case ENOSPC: case EAGAIN: case EMFILE: case EPERM:
	case EBADF: case ENODEV: case E2BIG: /* SMAF_IOC_EXT_CREATE_FOR/DEVICES' device fds */
		return 1;
	}
	return 0;
}

static const char *errno_name(int e)
{
	switch (e) {
	case 0: return "success";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case ENOTCONN: return "ENOTCONN";
	case EBUSY: return "EBUSY";
	case ENOMEM: return "ENOMEM";
	case ENOSPC: return "ENOSPC";
	case EAGAIN: return "EAGAIN";
	case EMFILE: return "EMFILE";
	case EPERM: return "EPERM";
	case ENOTTY: return "ENOTTY";
	case EIO: return "EIO";
	case EACCES: return "EACCES";
	case EBADF: return "EBADF";
	case EINTR: return "EINTR";
	case ENOSYS: return "ENOSYS";
	}
	return NULL;
}

/* ---- fds for GET/SET_SECURE_FLAG ----------------------------------------- */

enum fd_kind { OWN_BUFFER, RECEIVED_BUFFER, OPEN_FILE, NOT_OPEN, ANY_NUMBER };

struct pool_fd {
	int fd;
	enum fd_kind kind;
	int secure; /* buffers: what the last successful SET left */
	const char *what;
};

static struct pool_fd pool[32];
static unsigned npool;

static void add_fd(int fd, enum fd_kind kind, const char *what)
{
	if (npool < sizeof(pool) / sizeof(pool[0]))
		pool[npool++] = (struct pool_fd){ .fd = fd, .kind = kind, .what = what };
}

/* The pool entry a number names, if it is one of the known open ones. */
static struct pool_fd *known(int fd)
{
	for (unsigned i = 0; i < npool; i++)
		if (pool[i].fd == fd && pool[i].kind != NOT_OPEN && pool[i].kind != ANY_NUMBER)
			return &pool[i];
	return NULL;
}

static int is_open(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

/* ---- buffers from another process ---------------------------------------- */

static int send_fds(int sock, const int *fds, int n)
{
	char byte = 'b';
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = CMSG_SPACE((size_t)n * sizeof(int)) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, (size_t)n * sizeof(int));
	return sendmsg(sock, &mh, 0) == 1 ? 0 : -1;
}

static int recv_fds(int sock, int *fds, int max)
{
	char byte;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	int n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	if (n > max)
		n = max;
	memcpy(fds, CMSG_DATA(cm), (size_t)n * sizeof(int));
	return n;
}

/* A child makes two buffers with libsmaf (its own channel) and sends them
 * over; they outlive it because this process holds them. */
static int receive_buffers(int *fds)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(sv[0]);
		int b[2] = { -1, -1 };
		if (smaf_open() != 0 || smaf_create_buffer(4096, SMAF_RDWR | SMAF_CLOEXEC, NULL, &b[0]) != 0 ||
		    smaf_create_buffer(65536, SMAF_RDWR, "smaf-memfd", &b[1]) != 0 || send_fds(sv[1], b, 2) != 0)
			_exit(1);
		_exit(0);
	}
	close(sv[1]);
	int n = recv_fds(sv[0], fds, 2);
	close(sv[0]);
	int status;
	waitpid(pid, &status, 0);
	return n == 2 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- memory the argument points to --------------------------------------- */

enum ptr_kind { PTR_OK, PTR_NULL, PTR_UNMAPPED, PTR_STRADDLE, PTR_READONLY, NPTR };
static const char *ptr_names[NPTR] = { "valid", "NULL", "unmapped", "straddling", "read-only" };

static unsigned char *arena;     /* 2 x 16 KiB, read-write */
static unsigned char *pool_bytes; /* 32 KiB of random bytes to copy from */
static unsigned char *unmapped;  /* 64 KiB, unmapped just before the storm */
static unsigned char *edge;      /* a read-write page, then one unmapped just before the storm */
static unsigned char *readonly;  /* a read-only page */
static long page;

static int setup_memory(void)
{
	page = sysconf(_SC_PAGESIZE);
	arena = mmap(NULL, 2 * 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pool_bytes = malloc(32768);
	unmapped = mmap(NULL, 65536, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	edge = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	readonly = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED || !pool_bytes || unmapped == MAP_FAILED || edge == MAP_FAILED || readonly == MAP_FAILED)
		return -1;
	for (unsigned i = 0; i < 32768; i += 8) {
		uint64_t v = next64();
		memcpy(pool_bytes + i, &v, 8);
	}
	/* A version-0 GET_INFO for index 0 lives in the read-only page. */
	struct smaf_info info;
	memset(&info, 0, sizeof(info));
	memcpy(readonly, &info, sizeof(info));
	return mprotect(readonly, (size_t)page, PROT_READ);
}

/* Unmaps the holes; called last, so nothing mapped later can land there
 * (the storm itself maps nothing). msync() says ENOMEM for unmapped ranges. */
static int unmap_holes(void)
{
	if (munmap(unmapped, 65536) != 0 || munmap(edge + page, (size_t)page) != 0)
		return -1;
	return msync(unmapped, 65536, MS_ASYNC) == -1 && errno == ENOMEM &&
	       msync(edge + page, (size_t)page, MS_ASYNC) == -1 && errno == ENOMEM ? 0 : -1;
}

/* Fills `size` bytes of the arena with random bytes and returns it. */
static unsigned char *random_arg(unsigned size)
{
	unsigned off = below(32768 - MAX_SIZE);
	memcpy(arena, pool_bytes + off, size);
	for (unsigned i = 0; size && i < 4; i++)
		arena[below(size)] = (unsigned char)next64();
	return arena;
}

/* ---- one call ------------------------------------------------------------ */

enum call_kind { K_S_TYPE, K_OTHER_TYPE, K_V10_RANDOM, K_CREATE, K_GET_SECURE, K_SET_SECURE, K_GET_INFO,
		 K_EXTENSION, K_LEGACY, K_LEGACY_FORMED, K_BAD_POINTER, NKIND };
static const char *kind_names[NKIND] = { "'S' type", "other types", "v10 random bytes", "CREATE", "GET_SECURE",
					 "SET_SECURE", "GET_INFO", "extensions", "legacy random bytes",
					 "legacy well-formed", "bad pointer" };
static const unsigned kind_weights[NKIND] = { 18, 11, 10, 10, 12, 10, 6, 5, 3, 5, 10 };

static const unsigned int v10_numbers[] = { SMAF_IOC_CREATE, SMAF_IOC_GET_SECURE_FLAG, SMAF_IOC_SET_SECURE_FLAG,
					    SMAF_IOC_GET_INFO };
static const unsigned int legacy_numbers[] = {
	0xC0505300u, 0xC04C5300u, 0xC0105300u, 0xC00C5300u, 0xC0085301u, 0xC0085302u, 0xC0485303u,
	0xC0445303u, 0xC0885300u, 0xC0485301u, 0xC0485302u, 0xC0845300u, 0xC0445301u, 0xC0445302u,
};

/* What the daemon serves: 0 v10 only (legacy numbers are EINVAL), 1 all. */
static int legacy_served;

/*
 * The legacy layouts of this program's ABI (docs/generations.md), by offset:
 * the structs are declared in Tests/vm/generations/legacy/, whose names clash with
 * smaf.h. size_t is 8 bytes on LP64 and 4 on ILP32; S64's __s64 fd makes
 * its structs 8-aligned on x86_64 and 4-aligned on i386.
 */
#define SZ ((unsigned)sizeof(size_t))
#define V2_CREATE_SIZE (SZ + 8)           /* length, flags, fd: 16 / 12 */
#define V3_CREATE_SIZE (SZ + 4 + 64 + 4)  /* length, flags, name, fd: 80 / 76 */
#if defined(__i386__)
#define S64_CREATE_SIZE 132u
#define S64_SECURE_SIZE 68u
#else
#define S64_CREATE_SIZE 136u
#define S64_SECURE_SIZE 72u
#endif

enum legacy_op { LOP_NONE, LOP_CREATE, LOP_GET, LOP_SET, LOP_SELECT, LOP_INFO };

struct call {
	unsigned int number;
	void *arg;
	enum call_kind kind;
	enum ptr_kind ptr;
	int want;                 /* the errno the call must give, -1 if any documented one */
	struct pool_fd *fd_entry; /* GET/SET: the known fd, if any */
	int fd_open;              /* GET/SET: 1 open, 0 not open, -1 unknown */
	int set_value;
	enum legacy_op lop;       /* K_LEGACY_FORMED: what the request is */
	int lfd;                  /* its fd (GET/SET/SELECT) */
	int s64_version;          /* S64: the version sent */
};

static int device_fd;
static unsigned long counts[4096 + 1];   /* by errno; [0] successes */
static unsigned long kind_counts[NKIND];
static double kind_seconds[NKIND];
static unsigned long checks, violations;
static int verbose;

static void violation(unsigned long i, const struct call *c, int r, int e, const char *why)
{
	violations++;
	if (violations > 20)
		return;
	char result[32];
	snprintf(result, sizeof(result), "errno %d", e);
	printf("FAIL - call %lu: %s 0x%08X (dir %u, size %u, %s pointer) -> %s: %s\n", i, kind_names[c->kind],
	       c->number, IOC_DIR(c->number), IOC_SIZE(c->number), ptr_names[c->ptr],
	       r == 0 ? "success" : errno_name(e) ? errno_name(e) : result, why);
}

static unsigned int random_number(int s_type)
{
	for (;;) {
		unsigned int type = s_type ? SMAF_IOC_MAGIC : below(256);
		if (!s_type && type == SMAF_IOC_MAGIC)
			continue;
		unsigned int n = IOC(below(4), type, below(256), below(MAX_SIZE + 1));
		if (!vfs_handles(n))
			return n;
	}
}

/* An fd for GET/SET_SECURE_FLAG: mostly from the pool, sometimes random. */
static int pick_fd(struct call *c)
{
	uint32_t r = below(10);
	if (r < 8) {
		struct pool_fd *p = &pool[below(npool)];
		c->fd_entry = p->kind == NOT_OPEN || p->kind == ANY_NUMBER ? NULL : p;
		c->fd_open = p->kind == NOT_OPEN ? 0 : p->kind == ANY_NUMBER ? -1 : 1;
		return p->fd;
	}
	int fd = r == 8 ? (int)below(1024) : (int)next64();
	c->fd_entry = known(fd);
	c->fd_open = c->fd_entry ? 1 : (fd < 0 || !is_open(fd)) ? 0 : -1;
	return fd;
}

static const char *legacy_names[] = { "", "", "smaf-memfd", "smaf-cma", "deadbeef", "smaf-heap-system", "smaf-udmabuf",
				      "smaf-vgem", "smaf-secretmem" };
#define NLEGACY_NAMES (sizeof(legacy_names) / sizeof(legacy_names[0]))

static void put32(unsigned char *p, unsigned off, uint32_t v) { memcpy(p + off, &v, 4); }
static void put64(unsigned char *p, unsigned off, uint64_t v) { memcpy(p + off, &v, 8); }

static void put_size(unsigned char *p, uint64_t v)
{
	size_t n = (size_t)v;
	memcpy(p, &n, sizeof(n));
}

/* A well-formed legacy request of this program's ABI with plausible fields. */
static void make_legacy(struct call *c)
{
	static const uint64_t lengths[] = { 0, 1, 4096, 16385, 1 << 20, 0x7FFFF000u, 0xFFFFFFFFu };
	static const uint32_t flags[] = { 0, O_RDWR, O_CLOEXEC, O_RDWR | O_CLOEXEC, O_RDWR | O_CLOEXEC | O_NONBLOCK,
					  0x1, 0xFFFFFFFFu };
	unsigned char *a = memset(arena + 16384, 0, 256);
	c->arg = a;
	uint32_t which = below(10);
	switch (which) {
	case 0: /* v2 CREATE */
	case 1: /* v3-v7 CREATE */
		c->lop = LOP_CREATE;
		put_size(a, lengths[below(7)]);
		put32(a, SZ, flags[below(7)]);
		if (which == 0) {
			put32(a, SZ + 4, (uint32_t)next64());
			c->number = IOC(3, 'S', 0, V2_CREATE_SIZE);
		} else {
			const char *n = legacy_names[below(NLEGACY_NAMES)];
			memcpy(a + SZ + 4, n, strlen(n));
			put32(a, SZ + 4 + 64, (uint32_t)next64());
			c->number = IOC(3, 'S', 0, V3_CREATE_SIZE);
		}
		break;
	case 2: { /* S64 CREATE */
		c->lop = LOP_CREATE;
		c->s64_version = below(8) == 0;
		put64(a, 0, (uint64_t)c->s64_version);
		put64(a, 8, lengths[below(7)]);
		put32(a, 16, flags[below(7)]);
		put64(a, 24, next64());
		const char *n = legacy_names[below(NLEGACY_NAMES)];
		memcpy(a + 36, n, strlen(n));
		c->number = IOC(3, 'S', 0, S64_CREATE_SIZE);
		break;
	}
	case 3: /* v2-v7 GET/SET, 8 bytes */
	case 4:
	case 5:
	case 6: { /* S64 GET/SET */
		int s64 = which >= 5, set = which == 4 || which == 6;
		c->lop = set ? LOP_SET : LOP_GET;
		c->lfd = pick_fd(c);
		uint32_t secure = below(3) == 2 ? (uint32_t)next64() : below(2);
		c->set_value = secure != 0;
		if (s64) {
			c->s64_version = below(8) == 0;
			put64(a, 0, (uint64_t)c->s64_version);
			int64_t fd = c->lfd;
			if (below(16) == 0 && fd >= 0) {
				fd += (int64_t)1 << 32; /* no fd at all */
				c->fd_entry = NULL;
				c->fd_open = 0;
			}
			put64(a, 8, (uint64_t)fd);
			put32(a, 20, secure);
			c->number = IOC(3, 'S', set ? 2 : 1, S64_SECURE_SIZE);
		} else {
			put32(a, 0, (uint32_t)c->lfd);
			put32(a, 4, secure);
			c->number = IOC(3, 'S', set ? 2 : 1, 8);
		}
		break;
	}
	case 7: /* v7 GET_INFO */
		c->lop = LOP_INFO;
		put32(a, 0, below(4) ? below(4) : (uint32_t)next64());
		c->number = IOC(3, 'S', 3, 72);
		break;
	default: { /* v2 SELECT_BY_NAME */
		c->lop = LOP_SELECT;
		c->lfd = pick_fd(c);
		put32(a, 0, (uint32_t)c->lfd);
		const char *n = legacy_names[below(NLEGACY_NAMES)];
		memcpy(a + 4, n, strlen(n));
		c->number = IOC(3, 'S', 3, 68);
		break;
	}
	}
}

static void make_call(struct call *c)
{
	memset(c, 0, sizeof(*c));
	c->want = -1;
	c->fd_open = -1;
	uint32_t w = below(100), acc = 0;
	for (c->kind = 0; c->kind < NKIND - 1; c->kind++) {
		acc += kind_weights[c->kind];
		if (w < acc)
			break;
	}
	switch (c->kind) {
	case K_S_TYPE:
	case K_OTHER_TYPE:
		c->number = random_number(c->kind == K_S_TYPE);
		c->arg = random_arg(IOC_SIZE(c->number));
		break;
	case K_V10_RANDOM:
		c->number = v10_numbers[below(4)];
		c->arg = random_arg(IOC_SIZE(c->number));
		break;
	case K_CREATE: {
		static const uint64_t lengths[] = { 0, 1, 4096, 16384, 1 << 20, 0x7FFFFFFFFFFFF000ull, 0x8000000000000000ull,
						    UINT64_MAX };
		static const uint32_t flags[] = { 0, SMAF_RDWR, SMAF_CLOEXEC, SMAF_RDWR | SMAF_CLOEXEC, 0x1, 0xFFFFFFFF };
		static const char *names[] = { "", "", "smaf-memfd", "smaf-cma", "nonexistent", "smaf memfd",
					       "smaf-heap-system", "smaf-udmabuf", "smaf-udmabuf-hugetlb", "smaf-vgem",
					       "smaf-secretmem" };
		struct smaf_create_data d;
		memset(&d, 0, sizeof(d));
		d.length = below(4) ? lengths[below(8)] : (uint32_t)next64();
		d.flags = flags[below(6)];
		d.fd = (int)next64();
		uint32_t nm = below(13);
		if (nm < 11)
			strcpy((char *)d.name, names[nm]);
		else
			memcpy(d.name, random_arg(64), nm == 11 ? 64 : 20);
		if (below(4) == 0)
			memcpy(d.reserved3, random_arg(32), 32);
		c->number = SMAF_IOC_CREATE;
		c->arg = memcpy(arena + 16384, &d, sizeof(d));
		break;
	}
	case K_GET_SECURE:
	case K_SET_SECURE: {
		struct smaf_secure_flag s;
		memset(&s, 0, sizeof(s));
		s.fd = pick_fd(c);
		s.secure = below(3) == 2 ? (uint32_t)next64() : below(2);
		c->set_value = s.secure != 0;
		if (below(8) == 0)
			memcpy(s.reserved2, random_arg(44), 44);
		c->number = c->kind == K_GET_SECURE ? SMAF_IOC_GET_SECURE_FLAG : SMAF_IOC_SET_SECURE_FLAG;
		c->arg = memcpy(arena + 16384, &s, sizeof(s));
		break;
	}
	case K_GET_INFO: {
		struct smaf_info info;
		memset(&info, 0, sizeof(info));
		info.index = below(4) ? below(3) : (uint32_t)next64();
		c->number = SMAF_IOC_GET_INFO;
		c->arg = memcpy(arena + 16384, &info, sizeof(info));
		break;
	}
	case K_EXTENSION: {
		/* EXT_CONNECT with random bytes: its sock is hardly ever open, and
		 * if it is, it is no socketpair this process made (EBADF, EINVAL,
		 * EPERM), so the storm's own channel stays. */
		static const unsigned int ext_numbers[] = { SMAF_IOC_EXT_HANDOFF, SMAF_IOC_EXT_STATUS,
							    SMAF_IOC_EXT_CREATE_FOR, SMAF_IOC_EXT_DEVICES,
							    SMAF_IOC_EXT_CONNECT };
		c->number = ext_numbers[below(5)];
		c->arg = random_arg(IOC_SIZE(c->number));
		if (below(2))
			memset(c->arg, 0, 8); /* version 0 */
		if (c->number == SMAF_IOC_EXT_CREATE_FOR || c->number == SMAF_IOC_EXT_DEVICES) {
			/* Mostly sensible: a few fds that are devices (/dev/smaf
			 * itself), files, pool entries, closed or random. */
			int create_for = c->number == SMAF_IOC_EXT_CREATE_FOR;
			uint32_t n = below(4) ? below(4) : below(24);
			__s32 *fds = create_for ? ((struct smaf_ext_create_for *)c->arg)->device_fds
						: ((struct smaf_ext_devices *)c->arg)->device_fds;
			for (uint32_t j = 0; j < SMAF_EXT_MAX_DEVICES; j++) {
				uint32_t pick = below(6);
				fds[j] = pick < 3 ? device_fd : pick == 3 ? pool[below(npool)].fd : pick == 4 ? 9999 : (int)next64();
			}
			if (create_for) {
				struct smaf_ext_create_for *f = c->arg;
				f->n_devices = n;
				if (below(2)) {
					memset(&f->create, 0, sizeof(f->create));
					f->create.length = below(4) ? 4096u << below(8) : next64();
					f->create.flags = below(4) ? SMAF_RDWR | SMAF_CLOEXEC : (uint32_t)next64();
				}
			} else {
				((struct smaf_ext_devices *)c->arg)->n_devices = n;
			}
			if (n > SMAF_EXT_MAX_DEVICES && *(uint64_t *)c->arg == 0)
				c->want = E2BIG; /* counted before anything else but the version */
		}
		break;
	}
	case K_LEGACY:
		c->number = legacy_numbers[below(sizeof(legacy_numbers) / sizeof(legacy_numbers[0]))];
		c->arg = random_arg(IOC_SIZE(c->number));
		if (!legacy_served)
			c->want = EINVAL;
		break;
	case K_LEGACY_FORMED:
		make_legacy(c);
		if (!legacy_served)
			c->want = EINVAL;
		break;
	case K_BAD_POINTER: {
		uint32_t which = below(3);
		c->number = which == 0 ? v10_numbers[below(4)] : which == 1 ? random_number(1) : random_number(0);
		unsigned size = IOC_SIZE(c->number);
		c->ptr = 1 + below(NPTR - 1);
		if (c->ptr == PTR_STRADDLE && size < 2)
			c->ptr = PTR_UNMAPPED;
		if (c->ptr == PTR_READONLY) {
			/* A well-formed GET_INFO that smafd answers: copying the
			 * reply back into the read-only page must fail. */
			c->number = SMAF_IOC_GET_INFO;
			c->arg = readonly;
			c->want = EFAULT;
			break;
		}
		c->arg = c->ptr == PTR_NULL ? NULL : c->ptr == PTR_UNMAPPED ? unmapped + below(60000)
										 : edge + page - 1 - below(size - 1);
		if ((IOC_DIR(c->number) & IOC_WRITE) && size > 0)
			c->want = EFAULT; /* CUSE cannot copy the argument in */
		break;
	}
	case NKIND:
		break;
	}
}

/* A successful legacy SET of random bytes that happened to name a buffer
 * of the pool changed its flag: keep the v10 GET checks right. */
static void track_legacy_set(const struct call *c)
{
	const unsigned char *a = c->arg;
	int32_t fd32, secure;
	int64_t fd64;
	if (c->number == 0xC0085302u) {
		memcpy(&fd32, a, 4);
		fd64 = fd32;
		memcpy(&secure, a + 4, 4);
	} else if (c->number == 0xC0485302u || c->number == 0xC0445302u) {
		memcpy(&fd64, a + 8, 8);
		memcpy(&secure, a + 20, 4);
	} else {
		return;
	}
	struct pool_fd *p = fd64 >= INT_MIN && fd64 <= INT_MAX ? known((int)fd64) : NULL;
	if (p && (p->kind == OWN_BUFFER || p->kind == RECEIVED_BUFFER))
		p->secure = secure != 0;
}

/* The well-formed legacy requests, served (--generations all). */
static void check_legacy(unsigned long i, struct call *c, int r, int e)
{
	if (c->s64_version) {
		checks++;
		if (r == 0 || e != EINVAL)
			violation(i, c, r, e, "S64 with version 1 must be EINVAL");
		return;
	}
	struct pool_fd *p = c->fd_entry;
	int buffer = p && (p->kind == OWN_BUFFER || p->kind == RECEIVED_BUFFER);
	switch (c->lop) {
	case LOP_GET: {
		uint32_t got;
		memcpy(&got, (unsigned char *)c->arg + (IOC_SIZE(c->number) == 8 ? 4 : 20), 4);
		if (c->fd_open == 0 || c->lfd == -1) {
			checks++;
			if (r == 0 || e != EINVAL)
				violation(i, c, r, e, "a legacy GET_SECURE_FLAG on an fd that is not open must be EINVAL");
		} else if (p) {
			checks++;
			int want = buffer ? p->secure : 0;
			if (r != 0)
				violation(i, c, r, e, "a legacy GET_SECURE_FLAG on an open fd must succeed");
			else if ((int)got != want) {
				char why[160];
				snprintf(why, sizeof(why), "legacy GET_SECURE_FLAG on %s (fd %d) read %u, expected %d", p->what, p->fd,
					 got, want);
				violation(i, c, r, e, why);
			}
		}
		break;
	}
	case LOP_SET:
		if (r == 0 && buffer)
			p->secure = c->set_value;
		if ((p && !buffer) || c->fd_open == 0) {
			checks++;
			if (r == 0 || e != EINVAL)
				violation(i, c, r, e, "a legacy SET_SECURE_FLAG on anything but a buffer must be EINVAL");
		}
		break;
	case LOP_SELECT:
		checks++;
		if (r == 0 || e != EINVAL)
			violation(i, c, r, e, "SELECT_BY_NAME on anything but a new v2 buffer must be EINVAL");
		break;
	case LOP_INFO: {
		int32_t index;
		memcpy(&index, c->arg, 4);
		if (index < 0) {
			checks++;
			if (r == 0 || e != EINVAL)
				violation(i, c, r, e, "v7 GET_INFO with a negative index must be EINVAL");
		}
		break;
	}
	case LOP_CREATE:
	case LOP_NONE:
		break;
	}
}

/* Checks one reply against the documented set and docs/differences.md's promises. */
static void check_reply(unsigned long i, struct call *c, int r, int e)
{
	if (r != 0 && !documented(e))
		violation(i, c, r, e, "not a documented errno");
	if (c->want >= 0) {
		checks++;
		if (r == 0 || e != c->want)
			violation(i, c, r, e,
				  c->want == EFAULT   ? "expected EFAULT"
				  : c->want == EINVAL ? "expected EINVAL (a legacy request, the generation not enabled)"
						      : "expected E2BIG (more devices than the struct holds)");
	}
	if (c->kind == K_LEGACY && legacy_served && r == 0)
		track_legacy_set(c);
	if (c->kind == K_LEGACY_FORMED && legacy_served)
		check_legacy(i, c, r, e);
	if (c->kind != K_GET_SECURE && c->kind != K_SET_SECURE)
		return;
	struct smaf_secure_flag *s = c->arg;
	struct pool_fd *p = c->fd_entry;
	int buffer = p && (p->kind == OWN_BUFFER || p->kind == RECEIVED_BUFFER);
	if (c->kind == K_GET_SECURE) {
		if (c->fd_open == 0 || s->fd == -1) {
			checks++;
			if (r == 0 || e != EINVAL)
				violation(i, c, r, e, "GET_SECURE_FLAG on an fd that is not open must be EINVAL");
		} else if (p) {
			checks++;
			int want = buffer ? p->secure : 0;
			if (r != 0)
				violation(i, c, r, e, "GET_SECURE_FLAG on an open fd must succeed");
			else if ((int)s->secure != want) {
				char why[160];
				snprintf(why, sizeof(why), "GET_SECURE_FLAG on %s (fd %d) read %u, expected %d", p->what, p->fd,
					 s->secure, want);
				violation(i, c, r, e, why);
			}
		}
	} else {
		if (r == 0 && buffer)
			p->secure = c->set_value;
		if ((p && !buffer) || c->fd_open == 0) {
			checks++;
			if (r == 0 || e != EINVAL)
				violation(i, c, r, e, "SET_SECURE_FLAG on anything but a buffer must be EINVAL");
		}
	}
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *device = getenv("SMAF_DEVICE") && *getenv("SMAF_DEVICE") ? getenv("SMAF_DEVICE") : "/dev/smaf";
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	unsigned long calls = 100000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--device") && i + 1 < argc)
			device = argv[++i];
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--calls") && i + 1 < argc)
			calls = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--verbose"))
			verbose = 1;
		else if (!strcmp(argv[i], "--generations") && i + 1 < argc && !strcmp(argv[i + 1], "all"))
			legacy_served = 1, i++;
		else if (!strcmp(argv[i], "--generations") && i + 1 < argc && !strcmp(argv[i + 1], "v10"))
			legacy_served = 0, i++;
		else {
			fprintf(stderr, "usage: %s [--device PATH] [--seed N] [--calls N] [--generations v10|all] [--verbose]\n",
				argv[0]);
			return 2;
		}
	}
	setenv("SMAF_DEVICE", device, 1); /* libsmaf, in this process and the child */
	rng = seed;
	printf("storm-test: seed %" PRIu64 " (repeat with --seed %" PRIu64 "), %lu calls on %s, legacy generations %s\n", seed,
	       seed, calls, device, legacy_served ? "served (--generations all)" : "refused (--generations v10)");
	fflush(stdout);
	if (setup_memory() != 0) {
		perror("storm-test: memory setup");
		return 1;
	}
	/* Buffers from another process first: the child forks before this
	 * process has a handoff channel of its own. */
	int received[2];
	if (receive_buffers(received) != 0) {
		fprintf(stderr, "storm-test: could not receive buffers from a child over SCM_RIGHTS\n");
		return 1;
	}
	add_fd(received[0], RECEIVED_BUFFER, "a buffer received over SCM_RIGHTS");
	add_fd(received[1], RECEIVED_BUFFER, "a buffer received over SCM_RIGHTS");
	if (smaf_open() != 0) {
		perror("storm-test: smaf_open");
		return 1;
	}
	for (int i = 0; i < 3; i++) {
		int fd = -1;
		if (smaf_create_buffer(4096u << (4 * i), SMAF_RDWR | SMAF_CLOEXEC, NULL, &fd) != 0) {
			perror("storm-test: smaf_create_buffer");
			return 1;
		}
		add_fd(fd, OWN_BUFFER, "a buffer of this process (libsmaf)");
	}
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		perror("storm-test: pipe");
		return 1;
	}
	add_fd(pipefd[0], OPEN_FILE, "a pipe's read end");
	add_fd(pipefd[1], OPEN_FILE, "a pipe's write end");
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	device_fd = open(device, O_RDWR | O_CLOEXEC);
	if (null < 0 || device_fd < 0) {
		fprintf(stderr, "storm-test: cannot open /dev/null or %s: %s\n", device, strerror(errno));
		return 1;
	}
	add_fd(null, OPEN_FILE, "/dev/null");
	add_fd(device_fd, OPEN_FILE, "the SMAF node itself");
	add_fd(-1, NOT_OPEN, "-1");
	add_fd(INT_MAX, NOT_OPEN, "INT_MAX");
	add_fd(INT_MIN, NOT_OPEN, "INT_MIN");
	add_fd(1 << 20, NOT_OPEN, "2^20");
	for (int fd = 900, n = 0; fd < 1000 && n < 2; fd++) {
		if (!is_open(fd)) {
			add_fd(fd, NOT_OPEN, "a closed number");
			n++;
		}
	}
	add_fd(0, ANY_NUMBER, "fd 0"); /* whatever the test harness left there */
	/* Where the buffers start: all are new, so not secure. */
	for (unsigned i = 0; i < npool; i++) {
		if (pool[i].kind != OWN_BUFFER && pool[i].kind != RECEIVED_BUFFER)
			continue;
		struct smaf_secure_flag s;
		memset(&s, 0, sizeof(s));
		s.fd = pool[i].fd;
		if (ioctl(device_fd, SMAF_IOC_GET_SECURE_FLAG, &s) != 0) {
			fprintf(stderr, "storm-test: GET_SECURE_FLAG on %s (fd %d): %s\n", pool[i].what, pool[i].fd,
				strerror(errno));
			return 1;
		}
		pool[i].secure = s.secure != 0;
	}

	if (unmap_holes() != 0) {
		fprintf(stderr, "storm-test: cannot make the unmapped ranges\n");
		return 1;
	}
	double start = now();
	for (unsigned long i = 0; i < calls; i++) {
		struct call c;
		make_call(&c);
		kind_counts[c.kind]++;
		double t0 = now();
		errno = 0;
		int r = ioctl(device_fd, c.number, c.arg);
		int e = r == 0 ? 0 : errno;
		kind_seconds[c.kind] += now() - t0;
		counts[e >= 0 && e < 4096 ? e : 4096]++;
		if (verbose)
			printf("%lu: %s 0x%08X %s -> %s\n", i, kind_names[c.kind], c.number, ptr_names[c.ptr],
			       errno_name(e) ? errno_name(e) : "?");
		check_reply(i, &c, r, e);
	}
	double elapsed = now() - start;

	struct utsname u;
	uname(&u);
	printf("storm-test: %lu calls in %.1f s (%.0f calls/s), kernel %s\n", calls, elapsed,
	       elapsed > 0 ? (double)calls / elapsed : 0.0, u.release);
	printf("  %-10s %9s %7s\n", "reply", "count", "%");
	for (int e = 0; e <= 4096; e++) {
		if (!counts[e])
			continue;
		char unknown[32];
		snprintf(unknown, sizeof(unknown), e == 4096 ? "errno>4095" : "errno %d", e);
		const char *name = errno_name(e);
		printf("  %-10s %9lu %6.2f%s\n", name && e != 4096 ? name : unknown, counts[e], 100.0 * (double)counts[e] / (double)calls,
		       e == 0 || documented(e) ? "" : "   <- not documented");
	}
	printf("  by kind (calls, mean time in ioctl()):");
	for (int k = 0; k < NKIND; k++)
		printf("%s %s %lu %.0f us", k ? "," : "", kind_names[k], kind_counts[k],
		       kind_counts[k] ? 1e6 * kind_seconds[k] / (double)kind_counts[k] : 0.0);
	printf("\n");
	if (violations) {
		printf("storm-test: FAILED: %lu violations (%lu semantic checks); repeat with --seed %" PRIu64 "\n",
		       violations, checks, seed);
		return 1;
	}
	printf("storm-test: ok: every reply was a success or a documented errno; %lu semantic checks held\n", checks);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * soak: many clients doing everything at once, for a bounded time. For
 * Tests/vm/soak-tests.sh. Prints "ok"/"FAIL" lines, "# ..." figures and
 * "soak: N passed, M failed"; exit status 1 on any failure.
 *
 *   soak [--seconds S] [--processes P] [--threads T] [--smafd-pid PID]
 *        defaults: 20 s, 16 processes x 2 threads; with --smafd-pid, smafd's
 *        resident memory is reported at the start and the end
 *
 * Each thread owns up to 8 buffers at a time and picks operations at random:
 * create (all four SMAF_RDWR/SMAF_CLOEXEC combinations, sizes from 1 byte to
 * 1 MiB, no name, "" or a named allocator (--allocator; default smaf-memfd)
 * within its size limit and read-write where it makes nothing else; the
 * fd's flags, access mode and size
 * checked), map and verify (read-only), rewrite a read-write buffer with a
 * new pattern, toggle secure (SET, then GET must agree), GET_INFO, pass a
 * buffer to the next process on a ring of socketpairs (ownership moves: the
 * sender closes its fd), receive one from the previous process (size,
 * access mode, content and secure state checked), close. A writable mapping
 * of a read-only buffer must fail with EACCES. Every buffer has exactly one
 * owner, so every expectation is exact.
 *
 * At the end: no unexpected error; every operation ran; every buffer sent
 * was received or drained; smafd's created_total grew by exactly the number
 * of creates; and, once every client has exited, live_buffers and channels
 * return to 0; GET_INFO answers as it did at the start. Needs a secure
 * module that lets CPU access secure buffers (testsecure).
 *
 * The device is /dev/smaf, or $SMAF_DEVICE.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "libsmaf.h"
#include "../vmtest.h"

#define HELD 8
#define MAX_LEN (1024 * 1024)
#define PASS_MAGIC 0x50415353u

enum op { OP_CREATE, OP_VERIFY, OP_REWRITE, OP_SECURE, OP_INFO, OP_PASS, OP_RECEIVE, OP_CLOSE, OP_COUNT };
static const char *const op_names[OP_COUNT] = { "create", "verify", "rewrite", "secure", "info", "pass", "receive", "close" };

/* Per process, in memory shared with the parent. */
struct proc_stats {
	unsigned long ops[OP_COUNT];
	unsigned long errors, creates, sent, received, drained, ring_full, eacces_checks, pool_empty;
	char first_error[200];
	int done;
};

struct shared {
	volatile int stop;
	int stopped; /* processes whose threads have all finished (atomic) */
	struct proc_stats p[];
};

static struct shared *shared;

/* Allocators created by name (--allocator NAME[:MAX][:rw][:pool]): the
 * largest buffer each makes (0: any), whether it only makes read-write ones,
 * and whether it draws on a small reserved pool (ENOMEM when it is empty). */
static struct named_allocator {
	const char *name;
	size_t max;
	int rw_only, pool;
} named[16] = { { "smaf-memfd", 0, 0, 0 } };
static unsigned n_named = 1, n_named_given;
static int nproc = 16, nthreads = 2;
static long page_size;

/* One buffer a thread owns. */
struct buf {
	int fd;
	size_t len; /* page-rounded */
	unsigned flags;
	uint64_t seed; /* its pattern, if written */
	int written, secure;
};

/* What travels with a buffer on the ring. */
struct pass_msg {
	uint32_t magic, flags;
	uint64_t len, seed;
	uint32_t written, secure;
};

struct worker {
	int proc, index;
	int send_sock, recv_sock;
	uint64_t rng;
	struct buf held[HELD];
	int nheld;
	unsigned long ops[OP_COUNT];
	unsigned long creates, sent, received, ring_full, eacces_checks, counter;
	pthread_mutex_t *error_lock;
};

static uint64_t next_random(struct worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

__attribute__((format(printf, 2, 3))) static void soak_error(struct worker *w, const char *fmt, ...)
{
	struct proc_stats *ps = &shared->p[w->proc];
	pthread_mutex_lock(w->error_lock);
	if (ps->errors++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		int n = snprintf(ps->first_error, sizeof(ps->first_error), "process %d thread %d: ", w->proc, w->index);
		vsnprintf(ps->first_error + n, sizeof(ps->first_error) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(w->error_lock);
}

static size_t round_up(size_t n)
{
	return (n + (size_t)page_size - 1) / (size_t)page_size * (size_t)page_size;
}

static void drop(struct worker *w, int i)
{
	w->held[i] = w->held[--w->nheld];
}

/* Maps b read-only and checks its content: the pattern, or zeros. */
static int check_content(struct worker *w, const struct buf *b, const char *what)
{
	void *p = mmap(NULL, b->len, PROT_READ, MAP_SHARED, b->fd, 0);
	if (p == MAP_FAILED) {
		soak_error(w, "%s: read-only mmap of %zu bytes: %s", what, b->len, strerror(errno));
		return -1;
	}
	long bad = b->written ? vt_verify(p, b->len, b->seed) : vt_first_nonzero(p, b->len);
	munmap(p, b->len);
	if (bad >= 0) {
		soak_error(w, "%s: %s buffer of %zu bytes differs at %ld", what, b->written ? "written" : "new", b->len, bad);
		return -1;
	}
	return 0;
}

/* Writes a new pattern into read-write buffer b. */
static int write_pattern(struct worker *w, struct buf *b, const char *what)
{
	void *p = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
	if (p == MAP_FAILED) {
		soak_error(w, "%s: read-write mmap of %zu bytes: %s", what, b->len, strerror(errno));
		return -1;
	}
	b->seed = ((uint64_t)w->proc << 40) | ((uint64_t)w->index << 32) | ++w->counter;
	vt_fill(p, b->len, b->seed);
	b->written = 1;
	long bad = vt_verify(p, b->len, b->seed);
	munmap(p, b->len);
	if (bad >= 0) {
		soak_error(w, "%s: pattern does not read back at %ld", what, bad);
		return -1;
	}
	return 0;
}

/* The fd's flags, access mode and size are what CREATE or the sender said. */
static int check_fd(struct worker *w, const struct buf *b, int check_cloexec, const char *what)
{
	int fdfl = fcntl(b->fd, F_GETFD), fl = fcntl(b->fd, F_GETFL);
	struct stat st;
	if (fdfl < 0 || fl < 0 || fstat(b->fd, &st) != 0) {
		soak_error(w, "%s: fd %d is not open: %s", what, b->fd, strerror(errno));
		return -1;
	}
	int want_mode = b->flags & SMAF_RDWR ? O_RDWR : O_RDONLY;
	if ((fl & O_ACCMODE) != want_mode || (size_t)st.st_size != b->len ||
	    (check_cloexec && !!(fdfl & FD_CLOEXEC) != !!(b->flags & SMAF_CLOEXEC))) {
		soak_error(w, "%s: flags 0x%x: access mode %d, FD_CLOEXEC %d, size %lld (expected %zu)", what, b->flags, fl & O_ACCMODE,
			   !!(fdfl & FD_CLOEXEC), (long long)st.st_size, b->len);
		return -1;
	}
	return 0;
}

static void op_create(struct worker *w)
{
	static const unsigned flag_sets[4] = { 0, SMAF_RDWR, SMAF_CLOEXEC, SMAF_RDWR | SMAF_CLOEXEC };
	uint64_t r = next_random(w);
	struct buf b = { .fd = -1, .flags = flag_sets[r % 4] };
	size_t want = r % 16 == 0 ? 1 + (size_t)((r >> 8) % MAX_LEN) : 1 + (size_t)((r >> 8) % (64 * 1024));
	/* No name, "", or one of the named allocators, within what it can make. */
	unsigned pick = (unsigned)((r >> 40) % (2 + n_named));
	const char *name = pick == 0 ? NULL : pick == 1 ? "" : named[pick - 2].name;
	if (pick >= 2) {
		if (named[pick - 2].max && want > named[pick - 2].max)
			want = 1 + want % named[pick - 2].max;
		if (named[pick - 2].rw_only)
			b.flags |= SMAF_RDWR;
	}
	b.len = round_up(want);
	if (smaf_create_buffer((unsigned)want, b.flags, (char *)name, &b.fd) != 0) {
		/* A pool-backed allocator (huge pages) is out of pages while the
		 * other threads hold its buffers: its documented ENOMEM. */
		if (pick >= 2 && named[pick - 2].pool && errno == ENOMEM) {
			__atomic_add_fetch(&shared->p[w->proc].pool_empty, 1, __ATOMIC_RELAXED);
			return;
		}
		soak_error(w, "create %zu bytes flags 0x%x name %s: %s", want, b.flags, name ? name : "NULL", strerror(errno));
		return;
	}
	w->creates++;
	if (check_fd(w, &b, 1, "create") != 0 || check_content(w, &b, "create") != 0) {
		close(b.fd);
		return;
	}
	if (b.flags & SMAF_RDWR) {
		if (write_pattern(w, &b, "create") != 0) {
			close(b.fd);
			return;
		}
	} else if ((r >> 50) % 4 == 0) {
		errno = 0;
		void *p = mmap(NULL, b.len, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, 0);
		if (p != MAP_FAILED || errno != EACCES)
			soak_error(w, "create: writable mapping of a read-only buffer: %s", p == MAP_FAILED ? strerror(errno) : "succeeded");
		if (p != MAP_FAILED)
			munmap(p, b.len);
		w->eacces_checks++;
	}
	w->held[w->nheld++] = b;
}

static void op_secure(struct worker *w, struct buf *b)
{
	int want = !b->secure;
	if (smaf_set_secure(b->fd, want) != 0) {
		soak_error(w, "set_secure(%d): %s", want, strerror(errno));
		return;
	}
	b->secure = want;
	int got = smaf_get_secure(b->fd);
	if (got != want)
		soak_error(w, "get_secure after set_secure(%d) reads %d", want, got);
}

/* GET_INFO as it answered at the start: it must answer the same throughout. */
static int info_count;
static char info_first[64];

static void op_info(struct worker *w)
{
	int n = smaf_allocator_count();
	char *first = smaf_get_allocator_name(0), *past = smaf_get_allocator_name(n);
	if (n != info_count || !first || strcmp(first, info_first) || past)
		soak_error(w, "GET_INFO: count %d, name 0 %s, name %d %s", n, first ? first : "NULL", n, past ? past : "NULL");
	free(first);
	free(past);
}

static void op_pass(struct worker *w, int i)
{
	struct buf *b = &w->held[i];
	struct pass_msg m = { .magic = PASS_MAGIC, .flags = b->flags, .len = b->len, .seed = b->seed,
			      .written = (uint32_t)b->written, .secure = (uint32_t)b->secure };
	if (vt_send_fd(w->send_sock, b->fd, &m, sizeof(m), MSG_DONTWAIT) != 0) {
		if (errno == EAGAIN)
			w->ring_full++;
		else
			soak_error(w, "pass: sendmsg: %s", strerror(errno));
		return;
	}
	w->sent++;
	close(b->fd);
	drop(w, i);
}

/* Checks a buffer that came over the ring. 0 if it is what the sender said. */
static int adopt(struct worker *w, const struct pass_msg *m, ssize_t n, int fd, struct buf *b)
{
	if (n != (ssize_t)sizeof(*m) || m->magic != PASS_MAGIC || fd < 0) {
		soak_error(w, "receive: a malformed message (%zd bytes, fd %d)", n, fd);
		return -1;
	}
	*b = (struct buf){ .fd = fd, .len = m->len, .flags = m->flags, .seed = m->seed, .written = (int)m->written, .secure = (int)m->secure };
	if (check_fd(w, b, 0, "receive") != 0 || check_content(w, b, "receive") != 0)
		return -1;
	int s = smaf_get_secure(fd);
	if (s != b->secure) {
		soak_error(w, "receive: get_secure reads %d, the sender set %d", s, b->secure);
		return -1;
	}
	return 0;
}

static void op_receive(struct worker *w)
{
	struct pass_msg m;
	int fd = -1;
	ssize_t n = vt_recv_fd(w->recv_sock, &m, sizeof(m), &fd, MSG_DONTWAIT);
	if (n <= 0) {
		if (n < 0 && errno != EAGAIN)
			soak_error(w, "receive: recvmsg: %s", strerror(errno));
		else if (n == 0)
			soak_error(w, "receive: the previous process has gone");
		return;
	}
	w->received++;
	struct buf b;
	if (adopt(w, &m, n, fd, &b) != 0 || w->nheld == HELD) {
		if (fd >= 0)
			close(fd);
		return;
	}
	w->held[w->nheld++] = b;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	while (!shared->stop) {
		uint64_t r = next_random(w);
		enum op op;
		unsigned pick = (unsigned)(r % 100);
		if (w->nheld == 0)
			op = pick < 70 ? OP_CREATE : pick < 85 ? OP_RECEIVE : OP_INFO;
		else if (pick < 22)
			op = w->nheld < HELD ? OP_CREATE : OP_CLOSE;
		else if (pick < 37)
			op = OP_VERIFY;
		else if (pick < 47)
			op = OP_REWRITE;
		else if (pick < 57)
			op = OP_SECURE;
		else if (pick < 65)
			op = OP_INFO;
		else if (pick < 77)
			op = OP_PASS;
		else if (pick < 92)
			op = OP_RECEIVE;
		else
			op = OP_CLOSE;
		int i = w->nheld ? (int)((r >> 32) % (uint64_t)w->nheld) : 0;
		switch (op) {
		case OP_CREATE: op_create(w); break;
		case OP_VERIFY: check_content(w, &w->held[i], "verify"); break;
		case OP_REWRITE:
			if (w->held[i].flags & SMAF_RDWR)
				write_pattern(w, &w->held[i], "rewrite");
			else
				check_content(w, &w->held[i], "verify read-only");
			break;
		case OP_SECURE: op_secure(w, &w->held[i]); break;
		case OP_INFO: op_info(w); break;
		case OP_PASS: op_pass(w, i); break;
		case OP_RECEIVE: op_receive(w); break;
		case OP_CLOSE:
			close(w->held[i].fd);
			drop(w, i);
			break;
		default: break;
		}
		w->ops[op]++;
	}
	return NULL;
}

/* One client process: nthreads workers, then (once every process has
 * stopped sending) drains what is left on its receiving socket. */
static int client(int proc, int send_sock, int recv_sock)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct proc_stats *ps = &shared->p[proc];
	if (smaf_open() != 0) {
		snprintf(ps->first_error, sizeof(ps->first_error), "process %d: smaf_open: %s", proc, strerror(errno));
		ps->errors++;
		__atomic_fetch_add(&shared->stopped, 1, __ATOMIC_SEQ_CST);
		return 1;
	}
	pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;
	struct worker *w = calloc((size_t)nthreads, sizeof(*w));
	pthread_t *th = calloc((size_t)nthreads, sizeof(*th));
	for (int t = 0; t < nthreads; t++) {
		w[t] = (struct worker){ .proc = proc, .index = t, .send_sock = send_sock, .recv_sock = recv_sock,
					.rng = 0x9E3779B97F4A7C15ull * (uint64_t)(proc * 64 + t + 1) ^ vt_now_ns(),
					.error_lock = &error_lock };
		pthread_create(&th[t], NULL, worker_run, &w[t]);
	}
	for (int t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	__atomic_fetch_add(&shared->stopped, 1, __ATOMIC_SEQ_CST);
	uint64_t end = vt_now_ns() + 30000000000ull;
	while (__atomic_load_n(&shared->stopped, __ATOMIC_SEQ_CST) < nproc && vt_now_ns() < end)
		vt_sleep_ms(10);
	for (;;) {
		struct pass_msg m;
		int fd = -1;
		ssize_t n = vt_recv_fd(recv_sock, &m, sizeof(m), &fd, MSG_DONTWAIT);
		if (n <= 0)
			break; /* empty, or the sender has exited (end of file) */
		ps->drained++;
		struct buf b;
		adopt(&w[0], &m, n, fd, &b); /* still what the sender said */
		if (fd >= 0)
			close(fd);
	}
	for (int t = 0; t < nthreads; t++) {
		for (int i = 0; i < w[t].nheld; i++)
			close(w[t].held[i].fd);
		for (int o = 0; o < OP_COUNT; o++)
			ps->ops[o] += w[t].ops[o];
		ps->creates += w[t].creates;
		ps->sent += w[t].sent;
		ps->received += w[t].received;
		ps->ring_full += w[t].ring_full;
		ps->eacces_checks += w[t].eacces_checks;
	}
	smaf_close();
	ps->done = 1;
	return 0;
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	int seconds = 20;
	pid_t smafd = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--seconds"))
			seconds = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--processes"))
			nproc = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--threads"))
			nthreads = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--smafd-pid"))
			smafd = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--allocator") && n_named_given < 16) {
			struct named_allocator *a = &named[n_named_given++];
			char *spec = strdup(argv[i + 1]), *max = strchr(spec, ':');
			a->name = spec;
			a->max = 0;
			a->rw_only = 0;
			a->pool = 0;
			if (max) {
				*max++ = 0;
				a->max = (size_t)strtoull(max, NULL, 10);
				a->rw_only = strstr(max, ":rw") != NULL;
				a->pool = strstr(max, ":pool") != NULL;
			}
			n_named = n_named_given;
		} else
			break;
	}
	if (argc % 2 == 0 || seconds < 1 || nproc < 2 || nproc > 256 || nthreads < 1 || nthreads > 16) {
		fprintf(stderr, "usage: soak [--seconds S] [--processes P (2-256)] [--threads T (1-16)] [--smafd-pid PID]\n"
				"            [--allocator NAME[:MAXBYTES][:rw][:pool]]...\n");
		return 2;
	}
	vt_init("soak");
	page_size = sysconf(_SC_PAGESIZE);
	size_t size = sizeof(struct shared) + (size_t)nproc * sizeof(struct proc_stats);
	shared = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct smaf_ext_status st0, st;
	int r = shared == MAP_FAILED ? -1 : vt_status(vt_device_path(), &st0);
	if (!vt_check(r == 0, "soak: %s answers SMAF_IOC_EXT_STATUS %s", vt_device_path(), vt_why(r)))
		return vt_finish();
	long rss0 = smafd ? rss_kb(smafd) : -1;
	char *first = NULL;
	if (smaf_open() == 0) {
		info_count = smaf_allocator_count();
		first = smaf_get_allocator_name(0);
		smaf_close();
	}
	if (!vt_check(info_count > 0 && first, "soak: GET_INFO lists %d allocators, the first %s", info_count, first ? first : "NULL"))
		return vt_finish();
	snprintf(info_first, sizeof(info_first), "%s", first);
	free(first);

	/* The ring: process i sends on ring[i][0]; process i+1 receives on ring[i][1]. */
	int (*ring)[2] = calloc((size_t)nproc, sizeof(*ring));
	for (int i = 0; i < nproc; i++)
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ring[i]) != 0) {
			vt_check(0, "soak: socketpair: %s", strerror(errno));
			return vt_finish();
		}
	pid_t *pids = calloc((size_t)nproc, sizeof(pid_t));
	uint64_t t0 = vt_now_ns();
	for (int i = 0; i < nproc; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			int prev = (i + nproc - 1) % nproc;
			for (int j = 0; j < nproc; j++) {
				if (j != i)
					close(ring[j][0]);
				if (j != prev)
					close(ring[j][1]);
			}
			_exit(client(i, ring[i][0], ring[prev][1]));
		}
	}
	for (int i = 0; i < nproc; i++) {
		close(ring[i][0]);
		close(ring[i][1]);
	}
	unsigned long long peak = st0.live_buffers;
	unsigned peak_channels = 0;
	for (int s = 0; s < seconds; s++) {
		vt_sleep_ms(1000);
		if (vt_status(vt_device_path(), &st) == 0) {
			peak = st.live_buffers > peak ? st.live_buffers : peak;
			peak_channels = st.channels > peak_channels ? st.channels : peak_channels;
		}
	}
	shared->stop = 1;
	uint64_t t1 = vt_now_ns();
	int statuses_ok = 1;
	for (int i = 0; i < nproc; i++)
		statuses_ok &= vt_wait_child(pids[i]) == 0;
	double secs = (double)(t1 - t0) / 1e9;

	struct proc_stats sum = { 0 };
	const char *first_error = NULL;
	int done = 0;
	for (int i = 0; i < nproc; i++) {
		struct proc_stats *p = &shared->p[i];
		for (int o = 0; o < OP_COUNT; o++)
			sum.ops[o] += p->ops[o];
		sum.errors += p->errors;
		sum.creates += p->creates;
		sum.sent += p->sent;
		sum.received += p->received;
		sum.drained += p->drained;
		sum.ring_full += p->ring_full;
		sum.eacces_checks += p->eacces_checks;
		sum.pool_empty += p->pool_empty;
		done += p->done;
		if (p->errors && !first_error)
			first_error = p->first_error;
	}
	unsigned long total = 0;
	char line[512];
	int off = 0;
	for (int o = 0; o < OP_COUNT; o++) {
		total += sum.ops[o];
		off += snprintf(line + off, sizeof(line) - (size_t)off, "%s%s %lu", o ? ", " : "", op_names[o], sum.ops[o]);
	}
	vt_note("%d processes x %d threads for %.1f s: %lu operations, %.0f/s (%s)", nproc, nthreads, secs, total, total / secs, line);
	vt_note("%lu buffers created (%.0f/s), %lu passed between processes (%lu received by a worker, %lu drained at the end), "
		"ring full %lu times, %lu writable mappings of read-only buffers refused, %lu ENOMEM from an empty pool",
		sum.creates, sum.creates / secs, sum.sent, sum.received, sum.drained, sum.ring_full, sum.eacces_checks,
		sum.pool_empty);

	vt_check(statuses_ok && done == nproc, "soak: all %d client processes finished (%d)", nproc, done);
	vt_check(sum.errors == 0, "soak: no unexpected error (%lu)%s%s", sum.errors, first_error ? "; first: " : "",
		 first_error ? first_error : "");
	int every = 1;
	for (int o = 0; o < OP_COUNT; o++)
		every &= sum.ops[o] > 0;
	vt_check(every && sum.sent > 0 && sum.eacces_checks > 0, "soak: every operation ran, buffers were passed, read-only ones refused writable mappings");
	vt_check(sum.sent == sum.received + sum.drained, "soak: every buffer sent was received (%lu = %lu + %lu)", sum.sent,
		 sum.received, sum.drained);

	/* Nothing lost: smafd saw exactly these creates, and forgets them all. */
	vt_status(vt_device_path(), &st);
	unsigned long long made = st.created_total - st0.created_total;
	vt_check(made == sum.creates, "soak: smafd's created_total grew by exactly the %lu creates (%llu)", sum.creates, made);
	uint64_t w0 = vt_now_ns();
	while ((st.live_buffers != 0 || st.channels != 0) && vt_now_ns() - w0 < 10000000000ull) {
		vt_sleep_ms(100);
		vt_status(vt_device_path(), &st);
	}
	vt_note("smafd live buffers: %llu at the start, peak %llu (sampled each second), %llu %.1f s after the clients exited; channels peak %u",
		(unsigned long long)st0.live_buffers, peak, (unsigned long long)st.live_buffers, (double)(vt_now_ns() - w0) / 1e9,
		peak_channels);
	vt_check(st.live_buffers == 0 && st.channels == 0, "soak: once every client has exited, live_buffers and channels return to 0 (%llu, %u)",
		 (unsigned long long)st.live_buffers, st.channels);
	if (smafd) {
		long rss1 = rss_kb(smafd);
		vt_note("smafd VmRSS: %ld kB at the start, %ld kB at the end (%+ld kB)", rss0, rss1, rss1 - rss0);
	}
	return vt_finish();
}

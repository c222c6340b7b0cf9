/* SPDX-License-Identifier: MIT */
/*
 * abuse: misbehaving clients of smafd's handoff socket, and a well-behaved
 * client that must not notice them. For Tests/vm/abuse-tests.sh. Prints
 * "ok"/"FAIL" lines, "# ..." figures and "abuse: N passed, M failed"; exit
 * status 1 on any failure.
 *
 *   abuse [--phase-seconds S] [--baseline-seconds B] [--channel-limit N]
 *
 * The probe (this process, libsmaf) measures the GET_INFO round trip and
 * does CREATE + mmap + write + verify + close, alone for B seconds before
 * each phase (the baseline: the VM's emulated CPU shares its host, so
 * latency drifts over a run), then during the phase, in which forked
 * abusers run:
 *   garbage     2 processes send random bytes, oversized messages (up to
 *               150 KB), fake protocol headers, queries they never read,
 *               empty messages, and messages carrying 1-253 fds (one of them
 *               a pipe's write end: once they stop, its read end must see
 *               end of file, so smafd kept none of the fds it was sent)
 *   noread      connects a channel by hand, never reads it, and issues raw
 *               CREATEs: once its queue is full they must fail at once with
 *               EAGAIN, fd field untouched, and work again after one read
 *   flood-one   one process opens 2,000 connections (up to 500 in "all"):
 *               with a limit of N channels per process (--channel-limit,
 *               smafd's --max-channels-per-process) N are welcomed and every
 *               later one is closed at once without a welcome; never a hang
 *   flood-many  at least 300 short-lived processes, 4 at a time, connect,
 *               are welcomed and exit (or SIGKILL themselves)
 *   all         all of them at once
 * A phase lasts S seconds (--phase-seconds, default 4) and, except "all",
 * until its abusers have done the minimum above. Each requires: no probe
 * failure, and the probe's median GET_INFO round trip under 10x the one
 * measured right before it (B seconds, --baseline-seconds, default 2).
 * --channel-limit N: smafd's --max-channels-per-process (default 4).
 *
 * The device is /dev/smaf, or $SMAF_DEVICE.
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "libsmaf.h"
#include "../vmtest.h"

static int phase_seconds = 4, baseline_seconds = 2, channel_limit = 4; /* smafd's default */
/* Connections flood-one opens: 2,000 in its own phase, fewer in "all",
 * where smafd's loop shares its time with every other abuser. */
static int flood_attempts = 2000;
static char handoff_path[SMAF_HANDOFF_PATH_MAX];

static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Abusers stop at SIGTERM; their blocking calls are interrupted (no SA_RESTART). */
static void abuser_setup(void)
{
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	srandom((unsigned)getpid() ^ (unsigned)vt_now_ns());
}

/* Quotas: an abuser sets its flag once it has done its minimum; the phase
 * lasts until every abuser's is set (shared memory). */
static volatile int *quota_done;
enum { Q_GARBAGE1, Q_GARBAGE2, Q_NOREAD, Q_FLOOD_ONE, Q_FLOOD_MANY, Q_COUNT };

/* ---- garbage ------------------------------------------------------------------------- */

static void fill_random(void *p, size_t n)
{
	unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)random();
}

/* Sends one message of len bytes with nfds copies of fds[] attached (cycled).
 * 0 sent, 1 smafd closed the connection, -1 stopped or failed. */
static int send_garbage(int s, const void *data, size_t len, const int *fds, int kinds, int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(253 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		for (int i = 0; i < nfds; i++)
			memcpy(CMSG_DATA(cm) + (size_t)i * sizeof(int), &fds[i % kinds], sizeof(int));
	}
	while (!stop_requested) {
		if (sendmsg(s, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
			return 1;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		struct pollfd p = { .fd = s, .events = POLLOUT };
		poll(&p, 1, 100);
	}
	return -1;
}

static int garbage(int which)
{
	abuser_setup();
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return 1;
	int sp[2];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp);
	int memfd = memfd_create("abuse", MFD_CLOEXEC);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	const int fds[] = { pipefd[1], memfd, sp[0], devnull };
	static char big[150 * 1024];
	fill_random(big, sizeof(big));
	unsigned long messages = 0, bytes = 0, fds_sent = 0, connections = 0, closed_by_smafd = 0;
	while (!stop_requested) {
		int s = vt_connect(handoff_path, 0);
		if (s < 0) {
			vt_sleep_ms(10);
			continue;
		}
		connections++;
		for (int k = 0; k < 50 && !stop_requested; k++) {
			char small[256];
			struct smaf_handoff_msg *h = (struct smaf_handoff_msg *)small;
			size_t len;
			int nfds = 0;
			switch (random() % 7) {
			case 0: /* random bytes */
				len = 1 + (size_t)(random() % 200);
				fill_random(small, len);
				break;
			case 1: /* oversized */
				len = 64 * 1024 + (size_t)(random() % (sizeof(big) - 64 * 1024));
				break;
			case 2: /* a header with the right magic, anything else random */
				fill_random(small, sizeof(*h));
				h->magic = SMAF_HANDOFF_MAGIC;
				h->protocol = random() % 2 ? SMAF_HANDOFF_PROTOCOL : (unsigned)random();
				len = sizeof(*h) + (size_t)(random() % 3) - 1;
				break;
			case 3: /* a query nobody will read the answer of */
				memset(h, 0, sizeof(*h));
				h->magic = SMAF_HANDOFF_MAGIC;
				h->protocol = SMAF_HANDOFF_PROTOCOL;
				h->token = SMAF_QUERY_TOKEN;
				h->flags = (unsigned[]){ SMAF_QUERY_INFO, SMAF_QUERY_STATUS, 0, 0xFFFFFFFFu }[random() % 4];
				h->length = (uint64_t)random();
				len = sizeof(*h);
				break;
			case 4: /* an empty message (smafd may take it for end of file) */
				len = 0;
				break;
			default: /* fds attached, with a header or with junk */
				len = 1 + (size_t)(random() % sizeof(*h));
				fill_random(small, len);
				nfds = random() % 3 ? 1 + (int)(random() % 4) : 1 + (int)(random() % 253);
				break;
			}
			int r = send_garbage(s, len > sizeof(small) ? big : small, len, fds, 4, nfds);
			if (r != 0) {
				closed_by_smafd += r == 1;
				break;
			}
			messages++;
			bytes += len;
			fds_sent += (unsigned long)nfds;
		}
		close(s);
		if (messages > 2000)
			quota_done[which] = 1;
	}
	/* smafd must have closed every copy of the pipe's write end it got. */
	close(pipefd[1]);
	close(memfd);
	close(sp[0]);
	close(devnull);
	char c;
	int eof = vt_readable(pipefd[0], 5000) && read(pipefd[0], &c, 1) == 0;
	vt_note("garbage %d: %lu messages (%lu bytes, %lu fds attached) on %lu connections, %lu closed by smafd", which + 1,
		messages, bytes, fds_sent, connections, closed_by_smafd);
	vt_check(messages > 0, "garbage %d: %lu junk messages sent", which + 1, messages);
	vt_check(eof, "garbage %d: smafd kept none of the %lu fds it was sent (the pipe's write end is closed everywhere)",
		 which + 1, fds_sent);
	return 0;
}

/* ---- noread --------------------------------------------------------------------------- */

static int noread(void)
{
	abuser_setup();
	int dev = open(vt_device_path(), O_RDWR | O_CLOEXEC);
	int s = dev >= 0 ? vt_channel(dev) : -1;
	if (!vt_check(s >= 0, "noread: channel connected by hand %s", vt_why(s < 0)))
		return 1;
	unsigned long accepted = 0, before_full = 0, eagain = 0, other = 0, touched = 0;
	int first_other = 0;
	uint64_t slowest = 0;
	while (!stop_requested || !quota_done[Q_NOREAD]) {
		struct smaf_create_data c;
		memset(&c, 0, sizeof(c));
		c.length = 4096;
		c.flags = SMAF_RDWR;
		c.fd = 12345;
		uint64_t t0 = vt_now_ns();
		int r = ioctl(dev, SMAF_IOC_CREATE, &c);
		int e = errno;
		uint64_t took = vt_now_ns() - t0;
		slowest = took > slowest ? took : slowest;
		if (r == 0) {
			accepted++;
			if (eagain == 0)
				before_full++;
		} else if (e == EAGAIN) {
			eagain++;
			touched += c.fd != 12345;
		} else if (e != EINTR) {
			if (other++ == 0)
				first_other = e;
		}
		if (eagain >= 100)
			quota_done[Q_NOREAD] = 1;
		if (stop_requested && quota_done[Q_NOREAD])
			break;
	}
	/* One message read makes room for exactly one more buffer. */
	struct smaf_handoff_msg m;
	int fd = -1;
	ssize_t n = vt_recv_fd(s, &m, sizeof(m), &fd, MSG_DONTWAIT);
	if (fd >= 0)
		close(fd);
	struct smaf_create_data c;
	memset(&c, 0, sizeof(c));
	c.length = 4096;
	c.flags = SMAF_RDWR;
	int again = n == (ssize_t)sizeof(m) && ioctl(dev, SMAF_IOC_CREATE, &c) == 0;
	vt_note("noread: %lu CREATEs queued before the first EAGAIN, %lu accepted, %lu EAGAIN, %lu other errors; slowest CREATE %.1f ms",
		before_full, accepted, eagain, other, slowest / 1e6);
	vt_check(before_full > 0 && eagain > 0, "noread: CREATE works until the unread queue is full (%lu), then fails with EAGAIN (%lu times)",
		 before_full, eagain);
	vt_check(other == 0, "noread: no other error (%lu; first %s)", other, vt_errname(first_other));
	vt_check(touched == 0, "noread: a refused CREATE leaves the struct's fd field alone (%lu touched)", touched);
	vt_check(slowest < 1000000000ull, "noread: no CREATE blocks: slowest %.1f ms (< 1 s)", slowest / 1e6);
	vt_check(again, "noread: after reading one message, one more CREATE is accepted");
	return 0; /* exits with the rest of its buffers still queued: they die with it */
}

/* ---- flood-one ------------------------------------------------------------------------ */

static int flood_one(void)
{
	abuser_setup();
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	static int held[16];
	int nheld = 0;
	unsigned long attempts = 0, welcomed = 0, refused = 0, silent = 0, failed = 0, welcomed_late = 0;
	uint64_t slowest = 0;
	while (!stop_requested && attempts < (unsigned long)flood_attempts) {
		uint64_t t0 = vt_now_ns();
		int s = vt_connect(handoff_path, 0);
		if (s < 0 && errno == EINTR)
			continue;
		attempts++;
		int w = s < 0 ? -1 : vt_welcome(s, 2000);
		uint64_t took = vt_now_ns() - t0;
		slowest = took > slowest ? took : slowest;
		if (w != 1) {
			if (w == 0)
				refused++;
			else if (s >= 0 && errno == ETIMEDOUT)
				silent++;
			else
				failed++;
			if (s >= 0)
				close(s);
			continue;
		}
		welcomed++;
		welcomed_late += attempts > (unsigned long)channel_limit;
		/* Without a limit, smafd may close older ones instead: forget those. */
		if (nheld == 16) {
			int keep = 0;
			for (int i = 0; i < nheld; i++) {
				struct pollfd p = { .fd = held[i], .events = POLLRDHUP };
				if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP)))
					close(held[i]);
				else
					held[keep++] = held[i];
			}
			nheld = keep;
		}
		if (nheld < 16)
			held[nheld++] = s;
		else
			close(s);
	}
	quota_done[Q_FLOOD_ONE] = 1;
	while (!stop_requested)
		pause();
	int open_now = 0;
	for (int i = 0; i < nheld; i++) {
		struct pollfd p = { .fd = held[i], .events = POLLRDHUP };
		open_now += !(poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP)));
	}
	vt_note("flood-one: %lu connections: %lu welcomed, %lu closed at once without a welcome, %lu unanswered, %lu failed; "
		"%d still open at the end; slowest answer %.1f ms",
		attempts, welcomed, refused, silent, failed, open_now, slowest / 1e6);
	vt_check(silent == 0 && failed == 0, "flood-one: smafd answered each of %lu connections within 2 s (welcome or close)", attempts);
	vt_check(welcomed == (unsigned long)channel_limit && welcomed_late == 0,
		 "flood-one: exactly the first %d connections were welcomed (%lu)", channel_limit, welcomed);
	vt_check(refused == attempts - (unsigned long)channel_limit,
		 "flood-one: every later connection was closed at once without a welcome (%lu of %lu)", refused,
		 attempts - (unsigned long)channel_limit);
	vt_check(open_now == channel_limit, "flood-one: the %d welcomed ones stay open (%d)", channel_limit, open_now);
	return 0;
}

/* ---- flood-many ------------------------------------------------------------------------- */

static int short_lived(int i)
{
	int s = vt_connect(handoff_path, 0);
	if (s < 0 || vt_welcome(s, 2000) != 1)
		return 1;
	if (i % 3 == 1)
		raise(SIGKILL);
	return 0;
}

static int flood_many(void)
{
	abuser_setup();
	enum { QUOTA = 300, PARALLEL = 4 };
	unsigned long spawned = 0, welcomed = 0, killed = 0, failed = 0;
	int running = 0;
	while (!(stop_requested && spawned >= QUOTA) || running > 0) {
		if (!stop_requested || spawned < QUOTA) {
			while (running < PARALLEL) {
				pid_t p = fork();
				if (p == 0)
					_exit(short_lived((int)spawned));
				if (p < 0)
					break;
				spawned++;
				running++;
			}
		}
		int st;
		pid_t p = wait(&st);
		if (p < 0) {
			if (errno == ECHILD)
				running = 0;
			continue;
		}
		running--;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			welcomed++;
		else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			killed++;
		else
			failed++;
		if (spawned >= QUOTA)
			quota_done[Q_FLOOD_MANY] = 1;
	}
	vt_note("flood-many: %lu short-lived processes: %lu welcomed and exited, %lu welcomed and SIGKILLed themselves, %lu failed",
		spawned, welcomed, killed, failed);
	vt_check(failed == 0 && welcomed + killed == spawned, "flood-many: each of %lu short-lived processes got its channel", spawned);
	return 0;
}

/* ---- the probe --------------------------------------------------------------------------- */

struct samples {
	uint64_t *info, *create;
	size_t ninfo, ncreate, cap;
	unsigned long failures;
	char first_failure[160];
};

static void probe_failure(struct samples *s, const char *what)
{
	if (s->failures++ == 0)
		snprintf(s->first_failure, sizeof(s->first_failure), "%s: %s", what, strerror(errno));
}

/* Probes until `seconds` have passed and every abuser in `wait_for` (a
 * bit mask of Q_*) has done its quota, at most 60 s. */
static void probe(int dev, struct samples *s, int seconds, unsigned wait_for)
{
	s->ninfo = s->ncreate = 0;
	s->failures = 0;
	s->first_failure[0] = '\0';
	uint64_t start = vt_now_ns(), end = start + (uint64_t)seconds * 1000000000ull;
	for (unsigned long i = 0;; i++) {
		uint64_t now = vt_now_ns();
		int quotas = 1;
		for (int q = 0; q < Q_COUNT; q++)
			if ((wait_for & (1u << q)) && !quota_done[q])
				quotas = 0;
		if ((now >= end && quotas) || now - start > 60000000000ull)
			break;
		struct smaf_info info;
		memset(&info, 0, sizeof(info));
		uint64_t t0 = vt_now_ns();
		int r = ioctl(dev, SMAF_IOC_GET_INFO, &info);
		uint64_t t1 = vt_now_ns();
		if (r != 0 || info.count < 1)
			probe_failure(s, "GET_INFO");
		else if (s->ninfo < s->cap)
			s->info[s->ninfo++] = t1 - t0;
		if (i % 8 == 0) {
			int fd = -1;
			t0 = vt_now_ns();
			r = smaf_create_buffer(16384, SMAF_RDWR | SMAF_CLOEXEC, NULL, &fd);
			t1 = vt_now_ns();
			void *p = r == 0 ? mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
			if (p == MAP_FAILED) {
				probe_failure(s, r ? "CREATE" : "mmap");
			} else {
				vt_fill(p, 16384, i);
				if (vt_verify(p, 16384, i) >= 0)
					probe_failure(s, "verify");
				else if (s->ncreate < s->cap)
					s->create[s->ncreate++] = t1 - t0;
				munmap(p, 16384);
			}
			if (fd >= 0)
				close(fd);
		}
		vt_sleep_ms(2);
	}
}

/* ---- phases ------------------------------------------------------------------------------ */

static pid_t start_abuser(int (*body)(void))
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0)
		_exit(body());
	return p;
}

static int garbage_1(void) { return garbage(Q_GARBAGE1); }
static int garbage_2(void) { return garbage(Q_GARBAGE2); }

/* SIGTERM, then up to 30 s for it to finish its report. */
static void stop_abuser(pid_t p, const char *name)
{
	kill(p, SIGTERM);
	for (int i = 0; i < 300; i++) {
		int st;
		pid_t r = waitpid(p, &st, WNOHANG);
		if (r == p) {
			int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			vt_check(code == 0, "%s stopped cleanly (status %d)", name, code);
			return;
		}
		vt_sleep_ms(100);
	}
	kill(p, SIGKILL);
	vt_wait_child(p);
	vt_check(0, "%s did not stop within 30 s of SIGTERM", name);
}

struct phase {
	const char *name;
	unsigned abusers; /* bit mask of Q_* */
};

int main(int argc, char **argv)
{
	int usage = argc % 2 == 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--phase-seconds"))
			phase_seconds = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--baseline-seconds"))
			baseline_seconds = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--channel-limit"))
			channel_limit = atoi(argv[i + 1]);
		else
			usage = 1;
	}
	if (usage || channel_limit <= 0) {
		fprintf(stderr, "usage: abuse [--phase-seconds S] [--baseline-seconds B] [--channel-limit N>0]\n");
		return 2;
	}
	vt_init("abuse");
	quota_done = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int dev = open(vt_device_path(), O_RDWR | O_CLOEXEC);
	if (!vt_check(dev >= 0 && vt_handoff_path(dev, handoff_path) == 0, "probe: %s answers SMAF_IOC_EXT_HANDOFF %s",
		      vt_device_path(), vt_why(dev < 0)))
		return vt_finish();
	int r = smaf_open();
	if (!vt_check(r == 0, "probe: smaf_open %s", vt_why(r)))
		return vt_finish();
	vt_note("handoff socket %s; per-process channel limit under test: %d", handoff_path, channel_limit);

	struct samples s = { .cap = 200000 };
	s.info = calloc(s.cap, sizeof(uint64_t));
	s.create = calloc(s.cap, sizeof(uint64_t));
	probe(dev, &s, 1, 0); /* warm-up, not counted: first calls, page faults, smafd's pool */

	const struct phase phases[] = {
		{ "garbage", 1u << Q_GARBAGE1 | 1u << Q_GARBAGE2 },
		{ "noread", 1u << Q_NOREAD },
		{ "flood-one", 1u << Q_FLOOD_ONE },
		{ "flood-many", 1u << Q_FLOOD_MANY },
		{ "all", 1u << Q_GARBAGE1 | 1u << Q_GARBAGE2 | 1u << Q_NOREAD | 1u << Q_FLOOD_ONE | 1u << Q_FLOOD_MANY },
	};
	const unsigned all_abusers = phases[4].abusers;
	int (*const bodies[Q_COUNT])(void) = { garbage_1, garbage_2, noread, flood_one, flood_many };
	const char *const names[Q_COUNT] = { "garbage 1", "garbage 2", "noread", "flood-one", "flood-many" };
	for (size_t ph = 0; ph < sizeof(phases) / sizeof(phases[0]); ph++) {
		const struct phase *P = &phases[ph];
		printf("# --- phase %s\n", P->name);
		/* The baseline is taken right before each phase: the VM's CPU is
		 * emulated and shares its host, so latency drifts over a run. */
		probe(dev, &s, baseline_seconds, 0);
		uint64_t base_info = vt_quantile(s.info, s.ninfo, 0.5), base_create = vt_quantile(s.create, s.ncreate, 0.5);
		vt_note("before %s (probe alone, %d s): GET_INFO median %.1f us, p99 %.1f us (%zu); CREATE median %.1f us (%zu)", P->name,
			baseline_seconds, base_info / 1e3, vt_quantile(s.info, s.ninfo, 0.99) / 1e3, s.ninfo, base_create / 1e3,
			s.ncreate);
		vt_check(s.failures == 0 && s.ninfo > 0 && s.ncreate > 0, "before %s: %zu GET_INFO, %zu CREATE+map+verify, %lu failures %s",
			 P->name, s.ninfo, s.ncreate, s.failures, s.first_failure);
		memset((void *)quota_done, 0, Q_COUNT * sizeof(int));
		flood_attempts = P->abusers == all_abusers ? 500 : 2000;
		pid_t pids[Q_COUNT] = { 0 };
		for (int q = 0; q < Q_COUNT; q++)
			if (P->abusers & (1u << q))
				pids[q] = start_abuser(bodies[q]);
		uint64_t t0 = vt_now_ns();
		/* A phase lasts until its abuser has done its minimum; "all" is
		 * bounded by time alone (there the abusers slow each other). */
		probe(dev, &s, phase_seconds, P->abusers == all_abusers ? 0 : P->abusers);
		double secs = (double)(vt_now_ns() - t0) / 1e9;
		if (P->abusers & (1u << Q_FLOOD_ONE)) {
			/* flood-one now holds what smafd let it keep. */
			struct smaf_ext_status st;
			/* + probe, garbage, noread, flood-many; + two turns of smafd's
			 * loop worth of accepts (HandoffServer.acceptsPerTurn, 16): a
			 * channel whose process exits is dropped in the turn after its
			 * hang-up is seen, which may be the turn after it was accepted
			 * or the one after that. Hundreds of processes come and go
			 * meanwhile, so a leak would show far above this bound. */
			int max = channel_limit + 1 + 2 + 1 + 4 + 2 * 16;
			if (P->abusers == 1u << Q_FLOOD_ONE)
				max = channel_limit + 1;
			if (vt_status(vt_device_path(), &st) == 0)
				vt_check((int)st.channels <= max, "%s: smafd holds %u channels (at most %d)", P->name, st.channels, max);
		}
		for (int q = 0; q < Q_COUNT; q++)
			if (pids[q])
				stop_abuser(pids[q], names[q]);
		uint64_t med = vt_quantile(s.info, s.ninfo, 0.5), p99 = vt_quantile(s.info, s.ninfo, 0.99);
		uint64_t cmed = vt_quantile(s.create, s.ncreate, 0.5);
		double ratio = base_info ? (double)med / (double)base_info : 0;
		vt_note("during %s (%.1f s): GET_INFO median %.1f us (%.2fx before), p99 %.1f us (%zu); CREATE median %.1f us (%.2fx) (%zu)",
			P->name, secs, med / 1e3, ratio, p99 / 1e3, s.ninfo, cmed / 1e3, base_create ? (double)cmed / (double)base_create : 0,
			s.ncreate);
		vt_check(s.failures == 0 && s.ninfo > 0 && s.ncreate > 0,
			 "%s: the probe's %zu GET_INFO and %zu CREATE+map+verify all succeeded (%lu failures) %s", P->name, s.ninfo,
			 s.ncreate, s.failures, s.first_failure);
		vt_check(ratio < 10.0, "%s: the probe's median GET_INFO round trip stays under 10x the one before (%.2fx)", P->name, ratio);
	}
	smaf_close();
	close(dev);
	return vt_finish();
}

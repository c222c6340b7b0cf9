/* SPDX-License-Identifier: MIT */
/*
 * smaf_bench: measures smafd against its floor in one run inside the VM
 * (bench/run-in-vm.sh starts the daemons). Prints every target with its
 * figure and met or missed, a summary of them, and writes JSON.
 *
 *   smaf_bench --smafd-pid PID [--baseline-pid PID] [--device /dev/smaf]
 *              [--memfd-device DEV] [--unnamed-prefix /dev/smaf-only-]
 *              [--scale-device DEV --scale-pid PID]
 *              [--baseline /dev/smaf-baseline] [--extra FILE] [--json FILE]
 *              [--short] [--only SECTIONS]
 *   smaf_bench --list-allocators [--device D]       names, one a line
 *   smaf_bench --cycles N --side smafd|direct [--memfd-device D] [--baseline B]
 *              one warm-up cycle and N cycles of the memfd CREATE row's side
 *              (run-in-vm.sh counts their system calls with strace)
 *
 * Sections (--only, comma-separated): getinfo, create, createfor, secure,
 * bandwidth, live, throughput, scale, storm, syscalls (the last two are
 * measured by run-in-vm.sh and handed over in --extra, lines "key value").
 *
 * CREATE is compared in blocks (docs/performance.md): a block is B
 * consecutive cycles of one side and its cost per cycle is its time / B,
 * so the work a side leaves behind after a close (smafd's release handling,
 * a pool refill) is paid inside that side's own blocks. Blocks alternate
 * between the sides in ABBA order after warm-up blocks, and the ratio is
 * median(smafd side) / median(denominator side). The denominator side does
 * one CUSE floor round trip (GET_INFO on the C baseline server) plus the
 * export smafd would do, made by this process, plus close.
 *
 * --device is a smafd with every allocator the kernel has: named CREATE and
 * CREATE_FOR run there. --memfd-device is one started with --allocators
 * smaf-memfd; --smafd-pid is its pid: the unnamed memfd row, its cost
 * accounting, bandwidth, live buffers, throughput and scale run there.
 * --unnamed-prefix P: the unnamed row of allocator smaf-X runs on P X, a
 * smafd started with --allocators smaf-X. --scale-device and --scale-pid:
 * a second smafd like the memfd one. The live-buffer rows hold buffers on
 * the memfd device and compare its CREATE blocks with the scale device's;
 * the scale rows put the crowd on the scale device and compare with the
 * memfd device (so the daemons compared differ in the load alone, and its
 * memory figures do not start from the live-buffer rows' high-water mark).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libsmaf.h"
#include "smaf.h"
#include "../Tests/vm/dmabuf/dmabuf_routes.h"
#include "bench_rows.h"

/* Every CREATE row's buffer size (hugetlb routes still take a whole 2 MiB
 * page, on both sides). */
#define ALLOC_SIZE (64u << 10)
#define MEMFD "smaf-memfd"

static int shortrun;
static const char *only;
static int smafd_pid, baseline_pid, scale_pid;
static int base = -1; /* the C baseline server's node */
static const char *main_device = "/dev/smaf", *memfd_device, *unnamed_prefix, *scale_device;
/* Block sizes: cycles per block, counted blocks per side, warm-up blocks. */
static int block_cycles, blocks_per_side, warm_blocks;

static int selected(const char *name)
{
	if (!only)
		return 1;
	size_t n = strlen(name);
	for (const char *p = only; (p = strstr(p, name)); p += n)
		if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sorts v and returns the q-quantile (0.5 = median). */
static double quantile(double *v, int n, double q)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[(int)(q * (n - 1) + 0.5)];
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static long status_field(int pid, const char *task, const char *field)
{
	char path[96], line[256];
	if (task)
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status", pid, task);
	else
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "re");
	long v = -1;
	size_t n = strlen(field);
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':') {
			v = atol(line + n + 1);
			break;
		}
	fclose(f);
	return v;
}

static long rss_kb(int pid)
{
	return status_field(pid, NULL, "VmRSS");
}

/* Context switches of every thread of pid so far (0 for pid 0). */
static long daemon_switches(int pid)
{
	if (pid <= 0)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	long sum = 0;
	struct dirent *e;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			long v = status_field(pid, e->d_name, "voluntary_ctxt_switches");
			long w = status_field(pid, e->d_name, "nonvoluntary_ctxt_switches");
			sum += (v > 0 ? v : 0) + (w > 0 ? w : 0);
		}
	closedir(d);
	return sum;
}

static long own_switches(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_nvcsw + u.ru_nivcsw;
}

static uint64_t time_getinfo(int fd)
{
	struct smaf_info info;
	memset(&info, 0, sizeof(info));
	uint64_t t0 = now_ns();
	if (ioctl(fd, SMAF_IOC_GET_INFO, &info) != 0)
		die("GET_INFO");
	return now_ns() - t0;
}

/* Points libsmaf at path (it reads $SMAF_DEVICE when it opens). */
static void use_device(const char *path)
{
	smaf_close();
	setenv("SMAF_DEVICE", path, 1);
	if (smaf_open() != 0)
		die(path);
}

/* ---- the two sides of a CREATE comparison -------------------------------- */

/* The direct route of a smafd allocator, or -1 if there is none. */
static int route_of(const char *allocator)
{
	static const struct {
		const char *name;
		enum dr_route route;
	} map[] = {
		{ "smaf-heap-system", DR_HEAP_SYSTEM }, { "smaf-udmabuf", DR_UDMABUF },
		{ "smaf-udmabuf-hugetlb", DR_UDMABUF_HUGETLB }, { "smaf-vgem", DR_VGEM },
		{ MEMFD, DR_MEMFD }, { "smaf-secretmem", DR_SECRETMEM },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].name, allocator))
			return (int)map[i].route;
	return -1;
}

/* Opens what the route exports through, kept open across the run as a
 * client of the exporter would keep it: an fd, -1 when the route needs
 * none, or -errno. */
static int direct_open(enum dr_route r)
{
	int fd;
	switch (r) {
	case DR_UDMABUF:
	case DR_UDMABUF_HUGETLB:
		fd = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
		return fd >= 0 ? fd : -errno;
	case DR_HEAP_SYSTEM:
		fd = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
		return fd >= 0 ? fd : -errno;
	case DR_VGEM:
		return imp_vgem_open();
	default:
		return -1;
	}
}

/* What one cycle of a side does; a side is a cycle and its context. */
struct side {
	void (*cycle)(const struct side *);
	char *allocator;     /* smafd: the name CREATE gives, NULL for unnamed */
	const int *devices;  /* smafd CREATE_FOR: the devices' fds */
	unsigned n_devices;
	enum dr_route route; /* direct: the export */
	int route_dev;       /* direct: its open device, or -1 */
	int daemon_pid;      /* whose context switches the side causes, or 0 */
	const char *device;  /* smafd: switch libsmaf to it before each block */
};

static void smafd_cycle(const struct side *s)
{
	int fd;
	if (smaf_create_buffer(ALLOC_SIZE, SMAF_RDWR | SMAF_CLOEXEC, s->allocator, &fd) != 0) {
		fprintf(stderr, "smaf_bench: CREATE %u bytes from %s: %s\n", ALLOC_SIZE,
			s->allocator ? s->allocator : "(unnamed)", strerror(errno));
		exit(1);
	}
	close(fd);
}

static void smafd_for_cycle(const struct side *s)
{
	int fd;
	if (smaf_create_buffer_for(ALLOC_SIZE, SMAF_RDWR | SMAF_CLOEXEC, s->devices, s->n_devices, &fd) != 0)
		die("CREATE_FOR");
	close(fd);
}

static int direct_create(enum dr_route r, int dev, size_t size, int *out)
{
	switch (r) {
	case DR_UDMABUF: return dr_udmabuf_on(dev, size, 0, out);
	case DR_UDMABUF_HUGETLB: return dr_udmabuf_on(dev, size, 1, out);
	case DR_HEAP_SYSTEM: return dr_heap_on(dev, size, out);
	case DR_VGEM: return dr_vgem_on(dev, size, out);
	default: return dr_create(r, size, out); /* memfd: sealed as smafd seals it */
	}
}

/* The denominator: the CUSE floor round trip, the export, the close. */
static void direct_cycle(const struct side *s)
{
	int fd;
	time_getinfo(base);
	int e = direct_create(s->route, s->route_dev, ALLOC_SIZE, &fd);
	if (e != 0) {
		fprintf(stderr, "smaf_bench: direct %s of %u bytes: %s\n", dr_name(s->route), ALLOC_SIZE, strerror(-e));
		exit(1);
	}
	close(fd);
}

/* One block: its cost per cycle in µs; adds the context switches. */
static double run_block(const struct side *s, long *client_sw, long *daemon_sw)
{
	if (s->device) { /* and connect its channel, untimed */
		use_device(s->device);
		s->cycle(s);
	}
	long c0 = own_switches(), d0 = daemon_switches(s->daemon_pid);
	uint64_t t0 = now_ns();
	for (int i = 0; i < block_cycles; i++)
		s->cycle(s);
	double per = (double)(now_ns() - t0) / 1e3 / block_cycles;
	*client_sw += own_switches() - c0;
	*daemon_sw += daemon_switches(s->daemon_pid) - d0;
	return per;
}

struct blocks {
	double median, p10;          /* µs per cycle */
	double client_sw, daemon_sw; /* context switches per cycle */
};

/* Side a (smafd) against side b (the denominator), ABBA. */
static void compare_blocks(const struct side *a, const struct side *b, struct blocks out[2])
{
	const struct side *sides[2] = { a, b };
	double *v[2] = { calloc((size_t)blocks_per_side, sizeof(double)), calloc((size_t)blocks_per_side, sizeof(double)) };
	long csw[2] = { 0, 0 }, dsw[2] = { 0, 0 }, ignored = 0;
	for (int i = 0; i < warm_blocks; i++)
		for (int k = 0; k < 2; k++)
			run_block(sides[k], &ignored, &ignored);
	for (int i = 0; i < blocks_per_side; i++)
		for (int j = 0; j < 2; j++) {
			int k = (i & 1) ? 1 - j : j;
			v[k][i] = run_block(sides[k], &csw[k], &dsw[k]);
		}
	for (int k = 0; k < 2; k++) {
		double cycles = (double)blocks_per_side * block_cycles;
		out[k].p10 = quantile(v[k], blocks_per_side, 0.1);
		out[k].median = quantile(v[k], blocks_per_side, 0.5);
		out[k].client_sw = (double)csw[k] / cycles;
		out[k].daemon_sw = (double)dsw[k] / cycles;
		free(v[k]);
	}
}

/* A comparison row from compare_blocks' result. */
static struct row *block_row(const char *section, const char *name, const struct blocks r[2], const char *target)
{
	struct row *row = rows_ratio(section, name, "us/cycle", r[0].median, r[1].median, target);
	row->p10 = r[1].p10 > 0 ? r[0].p10 / r[1].p10 : 0;
	rows_print(row);
	return row;
}

/* ---- sections ------------------------------------------------------------- */

static void bench_getinfo(int dev)
{
	int n = shortrun ? 1000 : 6000, block = 500;
	double *a = calloc((size_t)n, sizeof(double)), *b = calloc((size_t)n, sizeof(double));
	for (int i = 0; i < 200; i++)
		time_getinfo(dev), time_getinfo(base); /* warm up */
	/* Blocks of each, alternating, so drift in the emulated CPU hits both alike. */
	for (int i = 0; i < n; i += block)
		for (int k = 0; k < 2; k++)
			for (int j = i; j < i + block && j < n; j++)
				if (k == 0)
					a[j] = (double)time_getinfo(dev) / 1e3;
				else
					b[j] = (double)time_getinfo(base) / 1e3;
	rows_print(rows_ratio("getinfo", "GET_INFO round trip, median", "us", quantile(a, n, 0.5), quantile(b, n, 0.5), "<= 1.10"));
	rows_print(rows_ratio("getinfo", "GET_INFO round trip, p99", "us", quantile(a, n, 0.99), quantile(b, n, 0.99), "report"));
	free(a);
	free(b);
}

/* The memfd comparison's cost accounting: context switches per cycle. */
static void cost_rows(const struct blocks r[2])
{
	rows_print(rows_value("create", "context switches per CREATE, client, smafd side", "/cycle", r[0].client_sw, "report"));
	rows_print(rows_value("create", "context switches per CREATE, smafd", "/cycle", r[0].daemon_sw, "report"));
	rows_print(rows_value("create", "context switches per cycle, client, direct side", "/cycle", r[1].client_sw, "report"));
	rows_print(rows_value("create", "context switches per cycle, cuse-baseline", "/cycle", r[1].daemon_sw, "report"));
}

/* The unnamed row's device for allocator name, or NULL. */
static const char *unnamed_device(const char *name, char *buf, size_t cap)
{
	if (!strcmp(name, MEMFD) && memfd_device)
		return memfd_device;
	if (!unnamed_prefix)
		return NULL;
	snprintf(buf, cap, "%s%s", unnamed_prefix, !strncmp(name, "smaf-", 5) ? name + 5 : name);
	return buf;
}

/* CREATE + close, named on the main device and unnamed on a smafd offering
 * only that allocator, for every allocator the main device lists. */
static void bench_create(void)
{
	use_device(main_device);
	int count = smaf_allocator_count();
	if (count <= 0)
		die("GET_INFO: allocator count");
	char **names = calloc((size_t)count, sizeof(char *));
	for (int k = 0; k < count; k++)
		if (!(names[k] = smaf_get_allocator_name(k)))
			die("GET_INFO: allocator name");
	rows_header("CREATE + close, 64 KiB, blocks: smafd vs floor round trip + the same export by the client + close");
	for (int k = 0; k < count; k++) {
		char named[96], unnamed[96], path[128];
		snprintf(named, sizeof(named), "CREATE %s named + close", names[k]);
		snprintf(unnamed, sizeof(unnamed), "CREATE %s unnamed + close", names[k]);
		int route = route_of(names[k]);
		if (route < 0) {
			rows_print(rows_missing("create", named, "<= 1.3", "no direct route"));
			rows_print(rows_missing("create", unnamed, "<= 1.3", "no direct route"));
			continue;
		}
		int dev = direct_open((enum dr_route)route);
		if (dev < -1) {
			fprintf(stderr, "smaf_bench: smafd lists %s but its direct route %s does not open: %s\n", names[k],
				dr_name((enum dr_route)route), strerror(-dev));
			exit(1);
		}
		struct side direct = { .cycle = direct_cycle, .route = (enum dr_route)route, .route_dev = dev, .daemon_pid = baseline_pid };
		struct side smafd = { .cycle = smafd_cycle, .allocator = names[k] };
		struct blocks r[2];
		use_device(main_device);
		compare_blocks(&smafd, &direct, r);
		block_row("create", named, r, "<= 1.3");

		const char *udev = unnamed_device(names[k], path, sizeof(path));
		if (!udev || access(udev, F_OK) != 0) {
			rows_print(rows_missing("create", unnamed, "<= 1.3", "no single-allocator smafd"));
		} else {
			use_device(udev);
			char *first = smaf_get_allocator_name(0);
			if (!first || strcmp(first, names[k])) {
				fprintf(stderr, "smaf_bench: %s offers %s first, not %s\n", udev, first ? first : "nothing", names[k]);
				exit(1);
			}
			free(first);
			smafd.allocator = NULL;
			smafd.daemon_pid = udev == memfd_device ? smafd_pid : 0;
			compare_blocks(&smafd, &direct, r);
			block_row("create", unnamed, r, "<= 1.3");
			if (udev == memfd_device)
				cost_rows(r);
		}
		if (dev >= 0)
			close(dev);
	}
	for (int k = 0; k < count; k++)
		free(names[k]);
	free(names);
	use_device(main_device);
}

/* The allocator smafd picked for buffer fd: the first one in rank order on
 * the main device whose exporter made it. NULL if none matches. */
static char *picked_allocator(int fd)
{
	char exp[64], name[128], link[128] = "", path[64];
	imp_fdinfo(fd, exp, sizeof(exp), name, sizeof(name));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	int count = smaf_allocator_count();
	for (int k = 0; k < count; k++) {
		char *a = smaf_get_allocator_name(k);
		int r = a ? route_of(a) : -1;
		int match = r >= 0 && (exp[0] ? dr_is_dmabuf((enum dr_route)r) && !strcmp(dr_exporter((enum dr_route)r), exp)
					      : r == DR_MEMFD ? !strncmp(link, "/memfd:", 7)
					      : r == DR_SECRETMEM && strstr(link, "secretmem"));
		if (match)
			return a;
		free(a);
	}
	return NULL;
}

/* CREATE_FOR a vivid capture node and vgem's card vs floor + direct export
 * of the allocator smafd picks for them + close. */
static void bench_createfor(void)
{
	const char *name = "CREATE_FOR vivid capture + vgem card + close";
	rows_header("CREATE_FOR with two devices, blocks");
	use_device(main_device);
	int devs[2] = { imp_v4l2_open("vivid-000-vid-cap"), imp_vgem_open() };
	if (devs[0] < 0 || devs[1] < 0) {
		rows_print(rows_missing("createfor", name, "<= 1.4", "no vivid or vgem"));
		goto out;
	}
	int fd;
	if (smaf_create_buffer_for(ALLOC_SIZE, SMAF_RDWR | SMAF_CLOEXEC, devs, 2, &fd) != 0)
		die("CREATE_FOR");
	char *picked = picked_allocator(fd);
	close(fd);
	int route = picked ? route_of(picked) : -1;
	int dev = route >= 0 ? direct_open((enum dr_route)route) : -2;
	if (dev < -1) {
		rows_print(rows_missing("createfor", name, "<= 1.4", "its allocator has no direct route"));
		free(picked);
		goto out;
	}
	char full[128];
	snprintf(full, sizeof(full), "CREATE_FOR vivid + vgem (%s) + close", picked);
	struct side smafd = { .cycle = smafd_for_cycle, .devices = devs, .n_devices = 2 };
	struct side direct = { .cycle = direct_cycle, .route = (enum dr_route)route, .route_dev = dev, .daemon_pid = baseline_pid };
	struct blocks r[2];
	compare_blocks(&smafd, &direct, r);
	block_row("createfor", full, r, "<= 1.4");
	if (dev >= 0)
		close(dev);
	free(picked);
out:
	for (int i = 0; i < 2; i++)
		if (devs[i] >= 0)
			close(devs[i]);
}

static void bench_secure(void)
{
	int n = shortrun ? 500 : 3000, fd;
	rows_header("SET/GET_SECURE");
	if (smaf_create_buffer(16384, SMAF_RDWR | SMAF_CLOEXEC, MEMFD, &fd) != 0)
		die("create");
	double *a = calloc((size_t)n, sizeof(double)), *b = calloc((size_t)n, sizeof(double));
	for (int i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		if (smaf_set_secure(fd, i & 1) != 0)
			die("set_secure");
		smaf_get_secure(fd);
		a[i] = (double)(now_ns() - t0) / 1e3;
		t0 = now_ns();
		time_getinfo(base);
		time_getinfo(base);
		b[i] = (double)(now_ns() - t0) / 1e3;
	}
	rows_print(rows_ratio("secure", "SET_SECURE + GET_SECURE vs two floor round trips", "us", quantile(a, n, 0.5),
			      quantile(b, n, 0.5), "report"));
	close(fd);
	free(a);
	free(b);
}

static double pass_mib_s(char *p, size_t size, int value)
{
	uint64_t t0 = now_ns();
	memset(p, value, size);
	uint64_t dt = now_ns() - t0;
	return (double)size / 1048576.0 / ((double)dt / 1e9);
}

static void bench_bandwidth(void)
{
	size_t size = (size_t)(shortrun ? 16 : 64) << 20;
	int fd;
	rows_header("mapped bandwidth vs anonymous memory");
	if (smaf_create_buffer((unsigned)size, SMAF_RDWR | SMAF_CLOEXEC, MEMFD, &fd) != 0)
		die("create bandwidth buffer");
	char *s = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED || a == MAP_FAILED)
		die("mmap");
	double s1 = pass_mib_s(s, size, 1), a1 = pass_mib_s(a, size, 1);
	double s2 = pass_mib_s(s, size, 2), a2 = pass_mib_s(a, size, 2);
	char name[80];
	snprintf(name, sizeof(name), "write %zu MiB mapped, first touch (MiB/s)", size >> 20);
	rows_print(rows_ratio("bandwidth", name, "MiB/s", s1, a1, "report"));
	snprintf(name, sizeof(name), "write %zu MiB mapped, second pass (MiB/s)", size >> 20);
	rows_print(rows_ratio("bandwidth", name, "MiB/s", s2, a2, ">= 0.95"));
	munmap(s, size);
	munmap(a, size);
	close(fd);
}

/* 10,000 live buffers (2,000 short) held on the memfd device: CREATE +
 * close there vs on an identical daemon holding none (the scale device),
 * blocks alternating; smafd's memory per live buffer. */
static void bench_live(void)
{
	int live = shortrun ? 2000 : 10000;
	rows_header("live buffers");
	int *held = calloc((size_t)live, sizeof(int));
	long rss0 = rss_kb(smafd_pid);
	for (int i = 0; i < live; i++)
		if (smaf_create_buffer(4096, SMAF_RDWR | SMAF_CLOEXEC, MEMFD, &held[i]) != 0)
			die("create held buffer");
	usleep(200000);
	long rss1 = rss_kb(smafd_pid);
	char name[96];
	snprintf(name, sizeof(name), "CREATE + close with %d live buffers vs none", live);
	if (!scale_device) {
		rows_print(rows_missing("live", name, "<= 1.10", "no second daemon"));
	} else {
		struct side with = { .cycle = smafd_cycle, .device = memfd_device ? memfd_device : main_device };
		struct side without = { .cycle = smafd_cycle, .device = scale_device };
		struct blocks r[2];
		compare_blocks(&with, &without, r);
		block_row("live", name, r, "<= 1.10");
	}
	use_device(memfd_device ? memfd_device : main_device);
	for (int i = 0; i < live; i++)
		close(held[i]);
	struct row *row = rows_value("live", "smafd memory per live buffer (bytes)", "bytes",
				     (double)(rss1 - rss0) * 1024.0 / live, "<= 1024");
	rows_print(row);
	printf("  (smafd VmRSS %ld kB with none, %ld kB with %d live buffers)\n", rss0, rss1, live);
	free(held);
	usleep(300000);
}

/* creates/s with k processes each doing m creates at once. */
static double throughput(int k, int m)
{
	int go[2];
	if (pipe(go) != 0)
		die("pipe");
	for (int i = 0; i < k; i++) {
		pid_t p = fork();
		if (p < 0)
			die("fork");
		if (p == 0) {
			char c;
			close(go[1]);
			if (read(go[0], &c, 1) < 0)
				_exit(2);
			smaf_close(); /* own channel */
			if (smaf_open() != 0)
				_exit(1);
			for (int j = 0; j < m; j++) {
				int fd;
				if (smaf_create_buffer(16384, SMAF_RDWR | SMAF_CLOEXEC, MEMFD, &fd) != 0)
					_exit(1);
				close(fd);
			}
			_exit(0);
		}
	}
	close(go[0]);
	uint64_t t0 = now_ns();
	close(go[1]); /* start them all */
	int bad = 0, st;
	while (wait(&st) > 0)
		bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	if (bad) {
		fprintf(stderr, "throughput: a client failed\n");
		exit(1);
	}
	return (double)(k * m) / ((double)(now_ns() - t0) / 1e9);
}

static void bench_throughput(void)
{
	int m = shortrun ? 100 : 500;
	double t[3];
	rows_header("throughput (memfd device, 16 KiB)");
	for (int i = 0, k = 1; k <= 4; i++, k *= 2) {
		char name[64];
		t[i] = throughput(k, m);
		snprintf(name, sizeof(name), "creates per second, %d process%s", k, k == 1 ? "" : "es");
		rows_print(rows_value("throughput", name, "/s", t[i], "report"));
	}
	rows_print(rows_value("throughput", "creates per second, 4 processes / 1 process", "x", t[2] / t[0], ">= 1.5"));
}

/* ---- scale: a crowd of clients, each with its own channel and buffers ---- */

static pid_t *crowd;
static int crowd_n;

static void crowd_kill(void)
{
	for (int i = 0; i < crowd_n; i++)
		if (crowd[i] > 0)
			kill(crowd[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	crowd_n = 0;
}

/* Waits for one byte from each of n children on fd; 0 if all said 'r'. */
static int crowd_wait(int fd, int n)
{
	char c;
	for (int i = 0; i < n; i++)
		if (read(fd, &c, 1) != 1 || c != 'r')
			return -1;
	return 0;
}

static void crowd_child(int ready, int go, int stop, int buffers)
{
	char c = 'x';
	int fd;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	smaf_close(); /* its own device fd and channel */
	if (smaf_open() == 0 && smaf_create_buffer(4096, SMAF_RDWR | SMAF_CLOEXEC, MEMFD, &fd) == 0) {
		close(fd);
		c = 'r';
	}
	if (write(ready, &c, 1) != 1 || c != 'r')
		_exit(1);
	if (read(go, &c, 1) < 0) /* EOF: hold the buffers */
		_exit(1);
	c = 'r';
	for (int i = 0; i < buffers; i++)
		if (smaf_create_buffer(4096, SMAF_RDWR | SMAF_CLOEXEC, MEMFD, &fd) != 0)
			c = 'x';
	if (write(ready, &c, 1) != 1)
		_exit(1);
	if (read(stop, &c, 1) < 0) /* EOF: exit, which closes them */
		_exit(1);
	_exit(0);
}

/* Waits for the crowd's n clients to report that they did `what`, lets the
 * daemon settle, and returns its VmRSS (kB); gives up on a failed client. */
static long crowd_settled(int ready, int n, int pid, const char *what)
{
	if (crowd_wait(ready, n) != 0) {
		fprintf(stderr, "scale: a client could not %s\n", what);
		crowd_kill();
		exit(1);
	}
	usleep(200000);
	return rss_kb(pid);
}

static void bench_scale(void)
{
	int n = shortrun ? 200 : 1000, per = 10;
	char name[96];
	rows_header("scale: client processes each with its own channel and buffers");
	if (scale_device)
		use_device(scale_device);
	usleep(200000);
	int pid = scale_device ? scale_pid : smafd_pid;
	long rss0 = rss_kb(pid);
	int ready[2], go[2], stop[2];
	if (pipe(ready) != 0 || pipe(go) != 0 || pipe(stop) != 0)
		die("pipe");
	crowd = calloc((size_t)n, sizeof(pid_t));
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0) {
			perror("scale: fork");
			crowd_kill();
			exit(1);
		}
		if (p == 0) {
			close(ready[0]);
			close(go[1]);
			close(stop[1]);
			crowd_child(ready[1], go[0], stop[0], per);
		}
		crowd[crowd_n++] = p;
	}
	close(ready[1]);
	close(go[0]);
	close(stop[0]);
	long rss1 = crowd_settled(ready[0], n, pid, "open its channel");
	close(go[1]); /* every client makes its buffers */
	long rss2 = crowd_settled(ready[0], n, pid, "make its buffers");
	/* The crowded daemon against an identical one without the crowd
	 * (the memfd device), blocks alternating. */
	struct side crowded = { .cycle = smafd_cycle, .device = scale_device ? scale_device : memfd_device };
	struct side alone = { .cycle = smafd_cycle, .device = memfd_device };
	struct blocks r[2];
	if (scale_device && memfd_device)
		compare_blocks(&crowded, &alone, r);
	close(stop[1]); /* every client exits */
	int bad = 0, st;
	for (int i = 0; i < crowd_n; i++)
		if (waitpid(crowd[i], &st, 0) != crowd[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = 1;
	crowd_n = 0;
	free(crowd);
	close(ready[0]);
	if (bad) {
		fprintf(stderr, "scale: a client failed\n");
		exit(1);
	}
	snprintf(name, sizeof(name), "CREATE + close with %d clients x %d buffers vs none", n, per);
	if (scale_device && memfd_device)
		block_row("scale", name, r, "<= 1.1");
	else
		rows_print(rows_missing("scale", name, "<= 1.1", "no second daemon"));
	rows_print(rows_value("scale", "smafd memory per channel (bytes)", "bytes", (double)(rss1 - rss0) * 1024.0 / n, "report"));
	rows_print(rows_value("scale", "smafd memory per buffer in the crowd (bytes)", "bytes",
			      (double)(rss2 - rss1) * 1024.0 / (n * per), "report"));
	printf("  (smafd VmRSS %ld kB alone, %ld kB with %d channels, %ld kB with their %d buffers)\n", rss0, rss1, n, rss2,
	       n * per);
	use_device(memfd_device ? memfd_device : main_device);
}

/* ---- what run-in-vm.sh measured: the storm and system calls --------------- */

/* The value of key in the extra file, or -1. */
static double extra_value(const char *path, const char *key)
{
	char line[256], k[128];
	double v, found = -1;
	FILE *f = path ? fopen(path, "re") : NULL;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %lf", k, &v) == 2 && !strcmp(k, key))
			found = v;
	fclose(f);
	return found;
}

static void bench_storm(const char *extra)
{
	rows_header("storm: storm-test's random ioctls against the release smafd");
	double rate = extra_value(extra, "storm.calls_per_s"), calls = extra_value(extra, "storm.calls");
	char name[96];
	snprintf(name, sizeof(name), "storm, %.0f calls (calls/s)", calls > 0 ? calls : 0);
	if (rate < 0)
		rows_print(rows_missing("storm", "storm calls per second", ">= 3000", "no storm figure"));
	else
		rows_print(rows_value("storm", name, "calls/s", rate, ">= 3000"));
}

static void bench_syscalls(const char *extra)
{
	static const struct {
		const char *key, *name;
	} keys[] = {
		{ "syscalls.smafd.client", "system calls per CREATE, client, smafd side" },
		{ "syscalls.smafd.daemon", "system calls per CREATE, smafd" },
		{ "syscalls.direct.client", "system calls per cycle, client, direct side" },
		{ "syscalls.direct.daemon", "system calls per cycle, cuse-baseline" },
	};
	rows_header("system calls per CREATE (strace -c, unnamed memfd, 64 KiB)");
	int missing = extra_value(extra, "syscalls.strace_missing") > 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		double v = extra_value(extra, keys[i].key);
		if (v < 0)
			rows_print(rows_missing("syscalls", keys[i].name, "report", missing ? "strace missing" : "no figure"));
		else
			rows_print(rows_value("syscalls", keys[i].name, "/cycle", v, "report"));
	}
}

/* ---- the other modes --------------------------------------------------- */

static int list_allocators(void)
{
	use_device(main_device);
	int count = smaf_allocator_count();
	if (count <= 0)
		die("GET_INFO: allocator count");
	for (int k = 0; k < count; k++) {
		char *a = smaf_get_allocator_name(k);
		if (!a)
			die("GET_INFO: allocator name");
		printf("%s\n", a);
		free(a);
	}
	smaf_close();
	return 0;
}

/* One warm-up cycle, then n of the unnamed memfd row's side. */
static int cycles(int n, const char *side)
{
	struct side s;
	memset(&s, 0, sizeof(s));
	if (!strcmp(side, "smafd")) {
		use_device(memfd_device ? memfd_device : main_device);
		s.cycle = smafd_cycle;
	} else if (!strcmp(side, "direct")) {
		s.cycle = direct_cycle;
		s.route = DR_MEMFD;
		s.route_dev = -1;
	} else {
		fprintf(stderr, "smaf_bench: --side smafd or direct\n");
		return 2;
	}
	for (int i = 0; i <= n; i++)
		s.cycle(&s);
	smaf_close();
	return 0;
}

int main(int argc, char **argv)
{
	const char *baseline = "/dev/smaf-baseline", *json_path = "/dev/null", *extra = NULL, *side = NULL;
	int list = 0, ncycles = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--short"))
			shortrun = 1;
		else if (!strcmp(argv[i], "--list-allocators"))
			list = 1;
		else if (!strcmp(argv[i], "--smafd-pid") && i + 1 < argc)
			smafd_pid = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--baseline-pid") && i + 1 < argc)
			baseline_pid = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--device") && i + 1 < argc)
			main_device = argv[++i];
		else if (!strcmp(argv[i], "--memfd-device") && i + 1 < argc)
			memfd_device = argv[++i];
		else if (!strcmp(argv[i], "--scale-device") && i + 1 < argc)
			scale_device = argv[++i];
		else if (!strcmp(argv[i], "--scale-pid") && i + 1 < argc)
			scale_pid = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--unnamed-prefix") && i + 1 < argc)
			unnamed_prefix = argv[++i];
		else if (!strcmp(argv[i], "--baseline") && i + 1 < argc)
			baseline = argv[++i];
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json_path = argv[++i];
		else if (!strcmp(argv[i], "--extra") && i + 1 < argc)
			extra = argv[++i];
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--cycles") && i + 1 < argc)
			ncycles = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--side") && i + 1 < argc)
			side = argv[++i];
		else {
			fprintf(stderr,
				"usage: %s --smafd-pid PID [--baseline-pid PID] [--device D] [--memfd-device D] [--unnamed-prefix P]\n"
				"          [--scale-device D --scale-pid PID] [--baseline B] [--extra FILE] [--json FILE] [--short] [--only SECTIONS]\n"
				"       %s --list-allocators [--device D]\n"
				"       %s --cycles N --side smafd|direct [--memfd-device D] [--baseline B]\n",
				argv[0], argv[0], argv[0]);
			return 2;
		}
	}
	if (list)
		return list_allocators();
	base = open(baseline, O_RDWR | O_CLOEXEC);
	if (base < 0)
		die(baseline);
	if (ncycles >= 0)
		return cycles(ncycles, side ? side : "");
	/* The live-buffer and scale rows hold thousands of fds. */
	struct rlimit rl = { 65536, 65536 };
	setrlimit(RLIMIT_NOFILE, &rl);
	block_cycles = shortrun ? 20 : 50;
	blocks_per_side = shortrun ? 10 : 40;
	warm_blocks = shortrun ? 1 : 3;
	FILE *json = fopen(json_path, "w");
	if (!json)
		die(json_path);
	int dev = open(main_device, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die(main_device);
	struct utsname u;
	uname(&u);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	printf("smaf_bench on kernel %s, %ld CPUs%s; CREATE blocks of %d cycles, %d blocks a side after %d warm-up\n",
	       u.release, cpus, shortrun ? " (short run)" : "", block_cycles, blocks_per_side, warm_blocks);
	printf("figure: the ratio smafd / denominator, or the value; p10 ratio: the same of the lower deciles\n");
	if (selected("getinfo")) {
		rows_header("GET_INFO");
		bench_getinfo(dev);
	}
	if (selected("create"))
		bench_create();
	if (selected("createfor"))
		bench_createfor();
	use_device(memfd_device ? memfd_device : main_device);
	if (selected("secure"))
		bench_secure();
	if (selected("bandwidth"))
		bench_bandwidth();
	if (selected("live"))
		bench_live();
	if (selected("throughput"))
		bench_throughput();
	if (selected("scale"))
		bench_scale();
	if (selected("storm"))
		bench_storm(extra);
	if (selected("syscalls"))
		bench_syscalls(extra);
	rows_summary();
	fprintf(json, "{\n  \"kernel\": \"%s\", \"cpus\": %ld, \"short\": %s,\n"
		      "  \"block_cycles\": %d, \"blocks_per_side\": %d, \"warm_up_blocks\": %d, \"size\": %u,\n",
		u.release, cpus, shortrun ? "true" : "false", block_cycles, blocks_per_side, warm_blocks, ALLOC_SIZE);
	rows_json(json);
	fprintf(json, "}\n");
	fclose(json);
	smaf_close();
	return 0;
}

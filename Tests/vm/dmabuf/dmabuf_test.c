/* SPDX-License-Identifier: MIT */
/*
 * dmabuf_test: smafd's buffers as the importers see them.  Run
 * by Tests/vm/dmabuf/dmabuf-tests.sh in a VM with vivid (n_devs=2 allocators=0,1)
 * and vgem loaded; prints "ok"/"FAIL" lines and "dmabuf-test ...: N passed,
 * M failed"; exit status 1 on any failure.
 *
 *   dmabuf_test --list
 *       prints the allocators GET_INFO lists, in rank order, one a line
 *   dmabuf_test --allocator NAME --via libsmaf|shim|unnamed
 *       one buffer of vivid's frame size (460800 bytes) from allocator NAME,
 *       made with smaf_create_buffer() (libsmaf), with a raw ioctl(CREATE)
 *       naming NAME (shim; run under LD_PRELOAD=libsmaf-preload.so), or
 *       with a raw ioctl(CREATE) naming no allocator, as a v10 program
 *       does (unnamed; NAME is then the allocator smafd must have chosen,
 *       which the script arranges).  A dma-buf allocator's buffer is a
 *       dma-buf of its exporter named smaf:<uid>:<serial>, maps read-write,
 *       syncs, vgem imports it and vivid instance 0 captures a frame into it
 *       that the CPU reads through its mapping.  smaf-memfd and
 *       smaf-secretmem buffers map but both importers refuse them.
 *   dmabuf_test --allocator NAME --via direct
 *       the same checks on a buffer made straight from the kernel by the
 *       route NAME stands for (dmabuf_routes.h) and named as smafd names
 *       its buffers: checks this program itself, without smafd
 *   dmabuf_test --contig-check
 *       a smaf-udmabuf-hugetlb buffer of 460800 bytes is accepted by vivid
 *       instance 1 (dma-contig); a smaf-udmabuf one of that size is refused
 *       there with EFAULT (--via direct: on buffers made without smafd)
 *   dmabuf_test --lifetime NAME
 *       a buffer whose last reference is a vgem handle: smafd counts it live
 *       after its fd and mapping are gone, and forgets it within a second of
 *       the handle's close
 *
 * The device is $SMAF_DEVICE or /dev/smaf.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "libsmaf.h"
#include "../vmtest.h"
#include "../importers.h"
#include "dmabuf_routes.h"
#include "buffer_checks.h"

#define FRAME_LENGTH 460800u /* vivid's 640x360 YUYV sizeimage */
#define FRAME_TIMEOUT_MS 20000

/* The exp_name fdinfo shows for an allocator's buffers; NULL: not a dma-buf. */
static const char *exporter_of(const char *allocator, char *buf, size_t cap)
{
	if (!strncmp(allocator, "smaf-heap-", 10)) {
		snprintf(buf, cap, "%s", allocator + 10);
		return buf;
	}
	if (!strcmp(allocator, "smaf-udmabuf") || !strcmp(allocator, "smaf-udmabuf-hugetlb"))
		return "udmabuf";
	if (!strcmp(allocator, "smaf-vgem"))
		return "drm";
	return NULL;
}

/* docs/allocators.md: on 6.12.117 in-kernel CPU writes through the vmap of a
 * hugetlb-backed udmabuf (how vivid draws) land only in its first page. */
static int vmap_bug_applies(const char *allocator)
{
	const char *k = getenv("SMAF_VM_KERNEL");
	struct utsname u;
	if ((!k || !*k) && uname(&u) == 0)
		k = u.release;
	return !strcmp(allocator, "smaf-udmabuf-hugetlb") && k && !strncmp(k, "6.12", 4);
}

/* A raw SMAF_IOC_CREATE, as a program written for the kernel driver makes
 * it (the shim gives it a real fd).  0 and *fd, or -errno. */
static int buffer_raw_create(const char *allocator, unsigned length, int *fd)
{
	int dev = open(vt_device_path(), O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	struct smaf_create_data c;
	memset(&c, 0, sizeof(c));
	c.length = length;
	c.flags = SMAF_RDWR | SMAF_CLOEXEC;
	c.fd = -1;
	if (allocator)
		snprintf((char *)c.name, sizeof(c.name), "%s", allocator);
	int r = ioctl(dev, SMAF_IOC_CREATE, &c) == 0 ? 0 : -errno;
	close(dev);
	if (r == 0)
		*fd = c.fd;
	return r;
}

static int lib_create(const char *allocator, unsigned length, int *fd)
{
	char name[MAX_NAME_LENGTH];
	snprintf(name, sizeof(name), "%s", allocator);
	*fd = -1;
	if (smaf_open() != 0)
		return -errno;
	int r = smaf_create_buffer(length, SMAF_RDWR | SMAF_CLOEXEC, name, fd) == 0 ? 0 : -errno;
	smaf_close();
	return r;
}

/* The kernel route an allocator name stands for, -1 if none. */
static int route_of(const char *allocator)
{
	static const char *const names[DR_COUNT] = {
		[DR_UDMABUF] = "smaf-udmabuf", [DR_UDMABUF_HUGETLB] = "smaf-udmabuf-hugetlb",
		[DR_HEAP_SYSTEM] = "smaf-heap-system", [DR_VGEM] = "smaf-vgem",
		[DR_MEMFD] = "smaf-memfd", [DR_SECRETMEM] = "smaf-secretmem",
	};
	for (int i = 0; i < DR_COUNT; i++)
		if (!strcmp(allocator, names[i]))
			return i;
	return -1;
}

/* What smafd would hand out, made here: the route's buffer, a dma-buf one
 * named smaf:<uid>:<serial>. */
static int direct_create(const char *allocator, unsigned length, int *fd)
{
	int route = route_of(allocator);
	if (route < 0)
		return -EINVAL;
	int r = dr_create((enum dr_route)route, length, fd);
	if (r == 0 && dr_is_dmabuf((enum dr_route)route)) {
		char name[32];
		snprintf(name, sizeof(name), "smaf:%u:1", (unsigned)getuid());
		r = imp_set_name(*fd, name);
		if (r) {
			close(*fd);
			*fd = -1;
		}
	}
	return r;
}

static int create_via(const char *via, const char *allocator, unsigned length, int *fd)
{
	if (!strcmp(via, "direct"))
		return direct_create(allocator, length, fd);
	if (!strcmp(via, "libsmaf"))
		return lib_create(allocator, length, fd);
	if (!strcmp(via, "shim"))
		return buffer_raw_create(allocator, length, fd);
	return buffer_raw_create(NULL, length, fd);
}

/* Pages (4 KiB) of the first n bytes of p holding a non-zero byte. */
/* "smaf:<uid>:<serial>" with uid this process's and serial a number. */
static int smaf_name_ok(const char *name)
{
	unsigned long uid;
	char *end;
	if (strncmp(name, "smaf:", 5))
		return 0;
	errno = 0;
	uid = strtoul(name + 5, &end, 10);
	if (errno || end == name + 5 || *end != ':' || uid != (unsigned long)getuid())
		return 0;
	const char *serial = end + 1;
	strtoull(serial, &end, 10);
	return end != serial && *end == '\0';
}

static int list_allocators(void)
{
	if (smaf_open() != 0) {
		fprintf(stderr, "dmabuf-test: cannot open %s: %s\n", vt_device_path(), strerror(errno));
		return 1;
	}
	int n = smaf_allocator_count();
	if (n < 0) {
		fprintf(stderr, "dmabuf-test: GET_INFO failed: %s\n", strerror(errno));
		smaf_close();
		return 1;
	}
	for (int i = 0; i < n; i++) {
		char *name = smaf_get_allocator_name(i);
		if (!name) {
			fprintf(stderr, "dmabuf-test: GET_INFO index %d failed\n", i);
			smaf_close();
			return 1;
		}
		printf("%s\n", name);
		free(name);
	}
	smaf_close();
	return 0;
}

static void check_buffer(const char *allocator, const char *via)
{
	char ebuf[64], exp[64], name[128];
	const char *want_exp = exporter_of(allocator, ebuf, sizeof(ebuf));
	int fd = -1;
	int r = create_via(via, allocator, FRAME_LENGTH, &fd);
	if (!vt_check(r == 0 && fd >= 0, "%s via %s: CREATE %u bytes gives an fd %s%s", allocator, via, FRAME_LENGTH,
		      r ? vt_errname(-r) : "",
		      r == -ENOTCONN && strcmp(via, "libsmaf") && strcmp(via, "direct") ? " (run under LD_PRELOAD=libsmaf-preload.so)" : ""))
		return;
	long size = imp_size(fd);
	vt_check(size >= (long)FRAME_LENGTH, "%s: the buffer has %ld bytes (>= %u)", allocator, size, FRAME_LENGTH);
	if (size < (long)FRAME_LENGTH)
		size = FRAME_LENGTH;

	r = imp_fdinfo(fd, exp, sizeof(exp), name, sizeof(name));
	if (want_exp) {
		vt_check(r == 0 && !strcmp(exp, want_exp), "%s: a real dma-buf, fdinfo exp_name '%s' (want '%s') %s", allocator, exp,
			 want_exp, r ? vt_errname(-r) : "");
		vt_check(smaf_name_ok(name), "%s: named smaf:<uid %u>:<serial> by smafd (fdinfo name '%s')", allocator,
			 (unsigned)getuid(), name);
	} else {
		vt_check(r == -ENOENT, "%s: not a dma-buf, no exp_name in fdinfo (%s)", allocator, r ? vt_errname(-r) : exp);
	}

	int drm = imp_vgem_open();
	vt_check(drm >= 0, "vgem's card node is there %s", drm < 0 ? vt_errname(-drm) : "");
	int vivid = imp_vivid_open(0);
	if (vt_check(vivid >= 0, "vivid instance 0's capture node is there %s", vivid < 0 ? vt_errname(-vivid) : "")) {
		long s = imp_vivid_format(vivid);
		vt_check(s == (long)FRAME_LENGTH, "vivid takes 640x360 YUYV, sizeimage %ld %s", s, s < 0 ? vt_errname((int)-s) : "");
	}
	bc_check_buffer(allocator, fd, (size_t)size, FRAME_LENGTH, want_exp != NULL, vmap_bug_applies(allocator), drm, vivid);
	if (drm >= 0)
		close(drm);
	if (vivid >= 0)
		close(vivid);
	close(fd);
}

/* imp_contig_refusal's maker: an smaf-udmabuf buffer of one frame, made the
 * way ctx (create_via's via) names. */
static int make_udmabuf_via(void *ctx, int *fd)
{
	return create_via((const char *)ctx, "smaf-udmabuf", FRAME_LENGTH, fd);
}

static void contig_check(const char *via)
{
	int vivid = imp_vivid_open(1);
	if (!vt_check(vivid >= 0, "vivid instance 1 (dma-contig) is there %s", vivid < 0 ? vt_errname(-vivid) : ""))
		return;
	long s = imp_vivid_format(vivid);
	vt_check(s == (long)FRAME_LENGTH, "vivid instance 1 takes 640x360 YUYV, sizeimage %ld %s", s,
		 s < 0 ? vt_errname((int)-s) : "");
	/* One huge page is contiguous by construction. */
	int fd = -1;
	int r = create_via(via, "smaf-udmabuf-hugetlb", FRAME_LENGTH, &fd);
	const char *step = "";
	if (vt_check(r == 0, "smaf-udmabuf-hugetlb: CREATE %u bytes %s", FRAME_LENGTH, r ? vt_errname(-r) : "")) {
		long size = imp_size(fd);
		r = imp_vivid_capture(vivid, fd, size > 0 ? (size_t)size : FRAME_LENGTH, FRAME_TIMEOUT_MS, &step);
		vt_check(r == 0, "smaf-udmabuf-hugetlb: vivid instance 1 (dma-contig) accepts it and captures: one huge page is contiguous %s %s",
			 step, r ? vt_errname(-r) : "");
		close(fd);
	}
	/* Shmem pages are contiguous now and then by chance: importers.h's
	 * imp_contig_refusal offers up to three buffers and wants one refused. */
	struct imp_contig_outcome o = imp_contig_refusal(vivid, FRAME_LENGTH, FRAME_TIMEOUT_MS, make_udmabuf_via, (void *)via);
	vt_check(o.refused, "smaf-udmabuf: vivid instance 1 (dma-contig) refuses it at QBUF with EFAULT: shmem pages are not "
		 "contiguous (%d accepted by chance before; last: %s %s)", o.accepted, o.step,
		 o.last ? vt_errname(-o.last) : "accepted");
	close(vivid);
}

static long live_buffers(void)
{
	struct smaf_ext_status st;
	if (vt_status(vt_device_path(), &st) != 0)
		return -1;
	return (long)st.live_buffers;
}

static void lifetime_check(const char *allocator)
{
	long before = live_buffers();
	vt_check(before >= 0, "SMAF_IOC_EXT_STATUS answers (live_buffers %ld) %s", before, vt_why(before < 0));
	int fd = -1;
	int r = lib_create(allocator, 65536, &fd);
	if (!vt_check(r == 0, "%s: CREATE 64 KiB %s", allocator, r ? vt_errname(-r) : ""))
		return;
	long during = live_buffers();
	vt_check(during == before + 1, "%s: smafd counts it live (live_buffers %ld -> %ld)", allocator, before, during);
	int drm = imp_vgem_open();
	if (!vt_check(drm >= 0, "vgem's card node is there %s", drm < 0 ? vt_errname(-drm) : "")) {
		close(fd);
		return;
	}
	void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED)
		memset(p, 0xA5, 65536);
	long h = imp_vgem_import(drm, fd);
	vt_check(h > 0, "%s: vgem imports it (handle %ld) %s", allocator, h, h < 0 ? vt_errname((int)-h) : "");
	close(fd);
	if (p != MAP_FAILED)
		munmap(p, 65536);
	vt_sleep_ms(1000);
	long held = live_buffers();
	vt_check(h > 0 && held == before + 1,
		 "%s: fd and mapping gone, the vgem handle still holds it: smafd still counts it live 1 s later (live_buffers %ld)",
		 allocator, held);
	if (h <= 0) {
		close(drm);
		return;
	}
	r = imp_gem_close(drm, (uint32_t)h);
	vt_check(r == 0, "%s: the GEM handle closes %s", allocator, r ? vt_errname(-r) : "");
	uint64_t t0 = vt_now_ns();
	long after = live_buffers();
	while (after != before && vt_now_ns() - t0 < 1000000000ull) {
		vt_sleep_ms(10);
		after = live_buffers();
	}
	vt_check(after == before, "%s: smafd forgets it within 1 s of the handle's close (live_buffers %ld after %llu ms)",
		 allocator, after, (unsigned long long)((vt_now_ns() - t0) / 1000000));
	close(drm);
}

/* N create/map/close cycles spread round-robin over every listed
 * allocator, each a 64 KiB read-write buffer (any allocator can make one). */
static void cycles_check(long n)
{
	char *names[32];
	int count = 0;
	if (!vt_check(smaf_open() == 0, "open %s", vt_device_path()))
		return;
	int listed = smaf_allocator_count();
	for (int i = 0; i < listed && count < 32; i++)
		if ((names[count] = smaf_get_allocator_name(i)))
			count++;
	if (!vt_check(count > 0, "GET_INFO lists %d allocators", count))
		return;
	long failures = 0, per[32] = { 0 };
	uint64_t t0 = vt_now_ns();
	for (long i = 0; i < n; i++) {
		int a = (int)(i % count), fd = -1;
		if (smaf_create_buffer(65536, SMAF_RDWR | SMAF_CLOEXEC, names[a], &fd) != 0) {
			if (failures++ == 0)
				vt_note("cycle %ld: %s: %s", i, names[a], strerror(errno));
			continue;
		}
		unsigned char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			failures++;
		} else {
			p[0] = (unsigned char)i;
			p[65535] = (unsigned char)~i;
			if (p[0] != (unsigned char)i)
				failures++;
			munmap(p, 65536);
		}
		close(fd);
		per[a]++;
	}
	double s = (double)(vt_now_ns() - t0) / 1e9;
	for (int a = 0; a < count; a++) {
		vt_note("%s: %ld cycles", names[a], per[a]);
		free(names[a]);
	}
	vt_check(failures == 0, "%ld create/map/close cycles over %d allocators in %.1f s: %ld failed", n, count, s, failures);
	smaf_close();
}

/* smafd opened vgem's primary node, which makes the first opener DRM
 * master; it must have given that up: a display server starting now (here:
 * this process, on a fresh open) can become master. */
static void drm_master_check(void)
{
	int drm = imp_vgem_open();
	if (!vt_check(drm >= 0, "open vgem's card node: %s", drm < 0 ? strerror(-drm) : "ok"))
		return;
	/* A fresh open is master at once if nobody was; SET_MASTER also
	 * succeeds then (it only fails while another file is master). */
	int r = ioctl(drm, DRM_IOCTL_SET_MASTER, 0);
	int e = errno;
	vt_check(r == 0, "a later opener can become DRM master of vgem while smafd holds it open (SET_MASTER: %s)",
		 r == 0 ? "ok" : strerror(e));
	close(drm);
}

static int usage(void)
{
	fprintf(stderr, "usage: dmabuf-test --list\n"
			"       dmabuf-test --allocator NAME --via libsmaf|shim|unnamed|direct\n"
			"       dmabuf-test --contig-check [--via direct]\n"
			"       dmabuf-test --lifetime NAME\n"
			"       dmabuf-test --cycles N\n"
			"       dmabuf-test --drm-master\n");
	return 2;
}

int main(int argc, char **argv)
{
	char title[160];
	if (argc == 2 && !strcmp(argv[1], "--list"))
		return list_allocators();
	if ((argc == 2 || (argc == 4 && !strcmp(argv[2], "--via") && !strcmp(argv[3], "direct"))) &&
	    !strcmp(argv[1], "--contig-check")) {
		const char *via = argc == 4 ? "direct" : "libsmaf";
		snprintf(title, sizeof(title), "dmabuf-test --contig-check via %s", via);
		vt_init(title);
		contig_check(via);
		return vt_finish();
	}
	if (argc == 3 && !strcmp(argv[1], "--cycles")) {
		vt_init("dmabuf-test --cycles");
		cycles_check(atol(argv[2]));
		return vt_finish();
	}
	if (argc == 2 && !strcmp(argv[1], "--drm-master")) {
		vt_init("dmabuf-test --drm-master");
		drm_master_check();
		return vt_finish();
	}
	if (argc == 3 && !strcmp(argv[1], "--lifetime")) {
		snprintf(title, sizeof(title), "dmabuf-test --lifetime %s", argv[2]);
		vt_init(title);
		lifetime_check(argv[2]);
		return vt_finish();
	}
	if (argc == 5 && !strcmp(argv[1], "--allocator") && !strcmp(argv[3], "--via") &&
	    (!strcmp(argv[4], "libsmaf") || !strcmp(argv[4], "shim") || !strcmp(argv[4], "unnamed") ||
	     !strcmp(argv[4], "direct"))) {
		snprintf(title, sizeof(title), "dmabuf-test %s via %s", argv[2], argv[4]);
		vt_init(title);
		check_buffer(argv[2], argv[4]);
		return vt_finish();
	}
	return usage();
}

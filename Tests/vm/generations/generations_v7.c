/* SPDX-License-Identifier: MIT */
/*
 * generations_v7: a program written against the v7 SMAF uapi (legacy/smaf_v7.h:
 * the v3-v6 CREATE with the allocator name, 80 bytes on LP64, 76 on ILP32;
 * the 8-byte secure flag; GET_INFO {int index; int count; char name[64]},
 * 72 bytes), run against smafd with raw ioctl() calls under
 * LD_PRELOAD=libsmaf-preload.so. With the generation enabled (smafd
 * --abi-generations v7 or all) it lists the allocators with GET_INFO until
 * EINVAL (they must be the --allocator NAMEs, in order, when given),
 * creates from each, maps, secures; see legacy/gen_common.h for the
 * options (--expect-refused, --expect-enotconn).
 *
 *   generations-v7 [--device PATH] [--allocator NAME]... [--expect-refused | --expect-enotconn]
 */
#include "legacy/smaf_v7.h"
#include "legacy/gen_common.h"
#include "legacy/gen_pre8.h"
#include "legacy/gen_named.h"

static char listed[32][ALLOCATOR_NAME_LENGTH];

/* GET_INFO from index 0 until EINVAL: the number of names in `listed`. */
static int enumerate(int dev, const struct gen_opts *o)
{
	int n = 0, count = -1, consistent = 1, terminated = 1, r, e;
	struct smaf_info info;
	for (;;) {
		memset(&info, 0, sizeof(info));
		memset(info.name, 0x5A, sizeof(info.name));
		info.index = n;
		errno = 0;
		r = ioctl(dev, SMAF_IOC_GET_INFO, &info);
		e = errno;
		if (r != 0 || n >= 32)
			break;
		if (count < 0)
			count = info.count;
		consistent &= info.count == count && info.index == n;
		terminated &= memchr(info.name, 0, sizeof(info.name)) != NULL && info.name[0];
		memcpy(listed[n], info.name, sizeof(info.name));
		listed[n][ALLOCATOR_NAME_LENGTH - 1] = '\0';
		vt_note("  GET_INFO index %d of %d: %s", n, info.count, listed[n]);
		n++;
	}
	vt_check(n > 0 && r == -1 && e == EINVAL && n == count,
		  "GET_INFO lists %d allocators, then EINVAL at index %d = count %d (%s)", n, n, count, gen_result(r, e));
	vt_check(consistent && terminated, "every GET_INFO gives the same count, echoes its index, a NUL-terminated name");
	if (o->n_allocators) {
		int same = n == o->n_allocators;
		for (int i = 0; same && i < n; i++)
			same = !strcmp(listed[i], o->allocators[i]);
		vt_check(same, "GET_INFO lists exactly the expected allocators, in rank order");
	}
	memset(&info, 0, sizeof(info));
	info.index = -1;
	gen_expect_errno(dev, SMAF_IOC_GET_INFO, &info, sizeof(info), EINVAL, "GET_INFO index -1");
	memset(&info, 0, sizeof(info));
	info.index = 1 << 30;
	gen_expect_errno(dev, SMAF_IOC_GET_INFO, &info, sizeof(info), EINVAL, "GET_INFO index 2^30");
	return n;
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	int u = gen_start(argc, argv, &o, "generations-v7");
	if (u)
		return u;
	vt_note("v7 ABI (%s): CREATE 0x%08X (%zu bytes), GET/SET_SECURE_FLAG 0x%08X/0x%08X (%zu), GET_INFO 0x%08X (%zu) on %s",
		 sizeof(long) == 8 ? "LP64" : "ILP32", (unsigned)SMAF_IOC_CREATE, sizeof(struct smaf_create_data),
		 (unsigned)SMAF_IOC_GET_SECURE_FLAG, (unsigned)SMAF_IOC_SET_SECURE_FLAG, sizeof(struct smaf_secure_flag),
		 (unsigned)SMAF_IOC_GET_INFO, sizeof(struct smaf_info), o.device);
	vt_check(SMAF_IOC_CREATE == (sizeof(long) == 8 ? 0xC0505300u : 0xC04C5300u) &&
			  sizeof(struct smaf_create_data) == (sizeof(long) == 8 ? 80u : 76u) &&
			  SMAF_IOC_GET_INFO == 0xC0485303u && sizeof(struct smaf_info) == 72,
		  "CREATE is 0x%08X (%zu bytes), GET_INFO 0x%08X (%zu), as docs/generations.md gives for this ABI",
		  (unsigned)SMAF_IOC_CREATE, sizeof(struct smaf_create_data), (unsigned)SMAF_IOC_GET_INFO,
		  sizeof(struct smaf_info));
	int dev = gen_open(&o);
	if (dev < 0)
		return vt_finish();
	if (o.mode == GEN_WORKS) {
		int n = enumerate(dev, &o);
		const char *names[32];
		for (int i = 0; i < n; i++)
			names[i] = listed[i];
		named_checks(dev, names, n);
	} else if (o.mode == GEN_REFUSED) {
		struct smaf_info info;
		memset(&info, 0, sizeof(info));
		gen_expect_errno(dev, SMAF_IOC_GET_INFO, &info, sizeof(info), EINVAL, "refused: GET_INFO index 0");
		named_refused(dev, &o);
	} else {
		struct smaf_info info;
		memset(&info, 0, sizeof(info));
		int r = ioctl(dev, SMAF_IOC_GET_INFO, &info);
		int e = errno;
		vt_check(r == 0 && info.count > 0 && info.name[0], "GET_INFO index 0 needs no channel (%s, count %d)",
			  gen_result(r, e), info.count);
		named_enotconn(dev);
	}
	close(dev);
	return vt_finish();
}

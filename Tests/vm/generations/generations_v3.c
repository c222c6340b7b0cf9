/* SPDX-License-Identifier: MIT */
/*
 * generations_v3: a program written against the v3-v6 SMAF uapi (legacy/smaf_v3.h:
 * CREATE with the allocator name, 80 bytes on LP64, 76 on ILP32; the 8-byte
 * secure flag; no way to list allocators), run against smafd with raw
 * ioctl() calls under LD_PRELOAD=libsmaf-preload.so. With the generation
 * enabled (smafd --abi-generations v3, or v7, or all) it creates, maps,
 * secures and names allocators (each --allocator NAME); see
 * legacy/gen_common.h for the options (--expect-refused, --expect-enotconn).
 *
 *   generations-v3 [--device PATH] [--allocator NAME]... [--expect-refused | --expect-enotconn]
 */
#include "legacy/smaf_v3.h"
#include "legacy/gen_common.h"
#include "legacy/gen_pre8.h"
#include "legacy/gen_named.h"

int main(int argc, char **argv)
{
	struct gen_opts o;
	int u = gen_start(argc, argv, &o, "generations-v3");
	if (u)
		return u;
	vt_note("v3-v6 ABI (%s): CREATE 0x%08X (%zu bytes), GET/SET_SECURE_FLAG 0x%08X/0x%08X (%zu) on %s",
		 sizeof(long) == 8 ? "LP64" : "ILP32", (unsigned)SMAF_IOC_CREATE, sizeof(struct smaf_create_data),
		 (unsigned)SMAF_IOC_GET_SECURE_FLAG, (unsigned)SMAF_IOC_SET_SECURE_FLAG, sizeof(struct smaf_secure_flag),
		 o.device);
	vt_check(SMAF_IOC_CREATE == (sizeof(long) == 8 ? 0xC0505300u : 0xC04C5300u) &&
			  sizeof(struct smaf_create_data) == (sizeof(long) == 8 ? 80u : 76u),
		  "CREATE is 0x%08X, %zu bytes, as docs/generations.md gives for this ABI", (unsigned)SMAF_IOC_CREATE,
		  sizeof(struct smaf_create_data));
	int dev = gen_open(&o);
	if (dev < 0)
		return vt_finish();
	if (o.mode == GEN_WORKS)
		named_checks(dev, o.allocators, o.n_allocators);
	else if (o.mode == GEN_REFUSED)
		named_refused(dev, &o);
	else
		named_enotconn(dev);
	close(dev);
	return vt_finish();
}

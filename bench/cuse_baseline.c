/* SPDX-License-Identifier: MIT */
/*
 * cuse_baseline: the floor CUSE itself sets. A minimal C CUSE server that
 * answers every 128-byte _IOWR ioctl with a fixed 128-byte reply (a valid
 * smaf_info for index 0) and nothing else: no decoding, no checks, no
 * logging. The benchmark compares smafd's round trips with this one's, in
 * the same VM run.
 *
 *   cuse_baseline [--devname NAME] [--single]   (default smaf-baseline,
 *                                                multi-threaded loop as smafd)
 */
#define FUSE_USE_VERSION 31
#include <fuse3/cuse_lowlevel.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smaf.h"

static struct smaf_info reply;

static void b_open(fuse_req_t req, struct fuse_file_info *fi)
{
	fuse_reply_open(req, fi);
}

static void b_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi, unsigned flags,
		    const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	(void)cmd, (void)arg, (void)fi, (void)flags, (void)in_buf, (void)in_bufsz;
	if (out_bufsz < sizeof(reply)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fuse_reply_ioctl(req, 0, &reply, sizeof(reply));
}

static void b_release(fuse_req_t req, struct fuse_file_info *fi)
{
	(void)fi;
	fuse_reply_err(req, 0);
}

int main(int argc, char **argv)
{
	const char *name = "smaf-baseline";
	int single = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--devname") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--single"))
			single = 1;
		else {
			fprintf(stderr, "usage: %s [--devname NAME] [--single]\n", argv[0]);
			return 2;
		}
	}
	reply.count = 1;
	strcpy((char *)reply.name, "baseline");

	char devinfo[128];
	snprintf(devinfo, sizeof(devinfo), "DEVNAME=%s", name);
	const char *info_argv[] = { devinfo };
	struct cuse_info ci = { .dev_info_argc = 1, .dev_info_argv = info_argv };
	struct cuse_lowlevel_ops ops = { .open = b_open, .ioctl = b_ioctl, .release = b_release };
	char *args_v[] = { argv[0], NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, args_v);

	struct fuse_session *se = cuse_lowlevel_new(&args, &ci, &ops, NULL);
	if (!se)
		return 1;
	int fd = open("/dev/cuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("/dev/cuse");
		return 1;
	}
	char mnt[32];
	snprintf(mnt, sizeof(mnt), "/dev/fd/%d", fd);
	if (fuse_session_mount(se, mnt) != 0 || fuse_set_signal_handlers(se) != 0)
		return 1;
	int r = single ? fuse_session_loop(se) : fuse_session_loop_mt(se, 0);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	return r < 0 ? 1 : 0;
}

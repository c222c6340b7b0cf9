/* SPDX-License-Identifier: MIT */
/*
 * container_unchroot: runs COMMAND in a new mount namespace in which the root
 * that vm/smaf-vm chroot()s its command into is the namespace's real root.
 *
 *   container-unchroot COMMAND [ARGS...]        (as root)
 *
 * Why: the kernel refuses to create a user namespace for a chrooted caller
 * (unshare(CLONE_NEWUSER) fails with EPERM when the caller's root is not
 * its mount namespace's root), so inside the test VM `unshare -U` fails
 * for a reason that has nothing to do with what the kernel allows
 * containers. How, as switch_root does it: unshare(CLONE_NEWNS), make every
 * mount private, remember the current (chroot) root, setns() into the new
 * namespace itself (which resets root and cwd to the namespace's root),
 * move the remembered root's mount, with everything below it, onto "/"
 * and chroot into it. Nothing outside the new namespace changes. If the
 * caller is not chrooted it just runs COMMAND in the new namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int die(const char *what)
{
	fprintf(stderr, "container-unchroot: %s: %s\n", what, strerror(errno));
	return 125;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s COMMAND [ARGS...]\n", argv[0]);
		return 2;
	}
	if (unshare(CLONE_NEWNS) != 0)
		return die("unshare(CLONE_NEWNS)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return die("making the mounts private");
	int old_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (old_root < 0 || ns < 0)
		return die("open / or /proc/self/ns/mnt");
	struct stat before, after;
	if (fstat(old_root, &before) != 0)
		return die("fstat /");
	if (setns(ns, CLONE_NEWNS) != 0)
		return die("setns into the new mount namespace");
	close(ns);
	if (stat("/", &after) != 0)
		return die("stat / after setns");
	if (after.st_dev != before.st_dev || after.st_ino != before.st_ino) {
		/* Chrooted: "/" is now the namespace's root, old_root a mount below it. */
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
			return die("making the namespace root private");
		if (fchdir(old_root) != 0)
			return die("fchdir to the old root");
		if (mount(".", "/", NULL, MS_MOVE, NULL) != 0)
			return die("moving the old root onto / (is it a mount point?)");
		if (chroot(".") != 0 || chdir("/") != 0)
			return die("chroot into the moved root");
	}
	close(old_root);
	execvp(argv[1], argv + 1);
	return die(argv[1]);
}

/* SPDX-License-Identifier: MIT */
/*
 * libsmaf-preload.so - lets programs that drive /dev/smaf with raw ioctl()s
 * (and never link libsmaf) receive real buffer fds from smafd:
 *
 *   LD_PRELOAD=libsmaf-preload.so program ...
 *
 * It defines ioctl(). Every request that hands over a buffer (SMAF_IOC_CREATE,
 * smafd's SMAF_IOC_EXT_CREATE_FOR, and the legacy v2, v3-v7 and S64 CREATEs
 * and v2 SELECT_BY_NAME of this build's ABI, which smafd translates: see
 * smaf__handoff_handles()) goes to smaf__handoff_ioctl(), which sets up
 * this process's handoff channel and puts the received buffer fd into the
 * struct's fd field, as the kernel driver would have. Every other request
 * goes straight to the kernel. errno behaves as with ioctl(2).
 *
 * The handoff code (smaf_handoff.c) is linked into this library, so it works
 * alone. If the program also uses libsmaf.so, the dynamic linker binds
 * libsmaf.so's calls to smaf__handoff_ioctl() to this library's copy (it
 * comes first in the lookup scope), so the process has a single channel
 * table: see smaf_handoff.h.
 *
 * When smafd is restarted (killed, crashed, upgraded), the program's fd on
 * the old device stays dead: every ioctl on it fails with ENOTCONN, exactly
 * as on an fd of a kernel driver that was unloaded. Unlike libsmaf, which
 * owns its device fd and reopens it (libsmaf.c), the shim does not put a new
 * device behind the program's fd: the fd is the program's, the shim cannot
 * know what path or flags it was opened with, and replacing the file behind
 * a number (dup2) would race with the program closing and reusing that
 * number in another thread. Once the program opens the device again, its
 * first CREATE there reconnects the handoff channel by itself (the new smafd
 * answers ENOTCONN to the stale channel, see smaf_handoff.c).
 *
 * Only the ioctl() symbol is wrapped: a program that issues the syscall
 * itself (syscall(SYS_ioctl, ...) or inline assembly) bypasses the shim,
 * and on 32-bit targets built with _TIME_BITS=64 glibc routes ioctl() to
 * __ioctl_time64, which is not wrapped.
 */
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "smaf.h"
#include "smaf_ext.h"
#include "smaf_handoff.h"

SMAF_HANDOFF_EXPORT int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	/* Every SMAF request takes a pointer; for others this is whatever the
	 * caller passed (or an unused register), handed on unchanged as glibc's
	 * own ioctl() does. */
	void *arg = va_arg(ap, void *);
	va_end(ap);
	/* The kernel looks at the low 32 bits of the request only. */
	if (smaf__handoff_handles((unsigned int)request))
		return smaf__handoff_ioctl(fd, request, arg);
	return (int)syscall(SYS_ioctl, fd, request, arg);
}

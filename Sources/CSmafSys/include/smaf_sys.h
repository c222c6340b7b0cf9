/* SPDX-License-Identifier: MIT */
/*
 * Thin wrappers for the syscalls and macros Swift cannot reach directly
 * (variadic syscall(), CMSG_* macros, GNU-only declarations). Each returns
 * -1 with errno set on failure, like the call it wraps.
 */
#ifndef SMAF_SYS_H
#define SMAF_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING) */
int smaf_sys_memfd(const char *name);
/* fcntl(fd, F_ADD_SEALS, seals); seals: the SMAF_SEAL_* values below. */
int smaf_sys_add_seals(int fd, unsigned int seals);
int smaf_sys_get_seals(int fd);
extern const unsigned int SMAF_SEAL_SHRINK, SMAF_SEAL_GROW, SMAF_SEAL_WRITE, SMAF_SEAL_SEAL;

/* sendmsg of `len` bytes plus, if fd >= 0, one SCM_RIGHTS descriptor;
 * MSG_DONTWAIT | MSG_NOSIGNAL so a stuck or gone peer never blocks or kills smafd. */
ssize_t smaf_sys_send_with_fd(int sock, const void *buf, size_t len, int fd);
/* recvmsg of one message; *fd_out is the SCM_RIGHTS fd or -1 (extra fds are closed). */
ssize_t smaf_sys_recv_with_fd(int sock, void *buf, size_t len, int *fd_out, int cloexec);

/* SO_PEERCRED of a connected unix socket. */
int smaf_sys_peer_cred(int sock, int32_t *pid, uint32_t *uid, uint32_t *gid);

/* A duplicate of fd `fd` of process `pid` (pidfd_open + pidfd_getfd; the
 * duplicate has FD_CLOEXEC). Needs ptrace access to pid (CAP_SYS_PTRACE).
 * -1 with errno: EBADF (not open there), ESRCH (no such process), EPERM,
 * ENOSYS (the kernel has no pidfd_getfd, before 5.6). */
int smaf_sys_take_fd(int32_t pid, int fd);

/* SO_DOMAIN and SO_TYPE of a socket. */
int smaf_sys_socket_kind(int sock, int *domain, int *type);
extern const int SMAF_AF_UNIX, SMAF_SOCK_SEQPACKET;

/* ioctl(fd, request, arg): Swift cannot call the variadic ioctl(2). */
int smaf_sys_ioctl(int fd, unsigned long request, void *arg);

/* sysinfo(2): free plus buffer memory in bytes (what is free without
 * reclaiming anything). */
int smaf_sys_free_memory(uint64_t *bytes);

/* The calling thread's id. */
pid_t smaf_sys_gettid(void);

#endif

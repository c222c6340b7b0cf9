/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "smaf_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

const unsigned int SMAF_SEAL_SHRINK = F_SEAL_SHRINK;
const unsigned int SMAF_SEAL_GROW = F_SEAL_GROW;
const unsigned int SMAF_SEAL_WRITE = F_SEAL_WRITE;
const unsigned int SMAF_SEAL_SEAL = F_SEAL_SEAL;

int smaf_sys_memfd(const char *name)
{
	return memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

int smaf_sys_add_seals(int fd, unsigned int seals)
{
	return fcntl(fd, F_ADD_SEALS, seals);
}

int smaf_sys_get_seals(int fd)
{
	return fcntl(fd, F_GET_SEALS);
}

ssize_t smaf_sys_send_with_fd(int sock, const void *buf, size_t len, int fd)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg;
	memset(&msg, 0, sizeof(msg));
	memset(&control, 0, sizeof(control));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

ssize_t smaf_sys_recv_with_fd(int sock, void *buf, size_t len, int *fd_out, int cloexec)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} control;
	struct msghdr msg;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	*fd_out = -1;
	ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT | (cloexec ? MSG_CMSG_CLOEXEC : 0));
	if (n < 0)
		return n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fd_out < 0)
				*fd_out = fd;
			else
				close(fd);
		}
	}
	return n;
}

int smaf_sys_peer_cred(int sock, int32_t *pid, uint32_t *uid, uint32_t *gid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return -1;
	*pid = cred.pid;
	*uid = cred.uid;
	*gid = cred.gid;
	return 0;
}

pid_t smaf_sys_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

int smaf_sys_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg);
}

int smaf_sys_free_memory(uint64_t *bytes)
{
	struct sysinfo si;
	if (sysinfo(&si) != 0)
		return -1;
	*bytes = ((uint64_t)si.freeram + (uint64_t)si.bufferram) * (si.mem_unit ? si.mem_unit : 1);
	return 0;
}

int smaf_sys_take_fd(int32_t pid, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pidfd < 0)
		return -1;
	int taken = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	int e = errno;
	close(pidfd);
	errno = e;
	return taken;
}

const int SMAF_AF_UNIX = AF_UNIX, SMAF_SOCK_SEQPACKET = SOCK_SEQPACKET;

int smaf_sys_socket_kind(int sock, int *domain, int *type)
{
	socklen_t n = sizeof(*domain);
	if (getsockopt(sock, SOL_SOCKET, SO_DOMAIN, domain, &n) != 0)
		return -1;
	n = sizeof(*type);
	return getsockopt(sock, SOL_SOCKET, SO_TYPE, type, &n);
}

/* SPDX-License-Identifier: MIT */
/*
 * libsmaf.c - the libsmaf API (libsmaf.h) over /dev/smaf.
 *
 * Return conventions are the original library's, including its
 * quirks: smaf_get_secure() reports errors as 0; smaf_create_buffer() leaves
 * *fd alone when the device is not open and sets it to -1 when CREATE fails.
 *
 * Unlike the original, the library is thread-safe: the device fd and its
 * open count sit behind a read-write lock; every request holds it for
 * reading (so requests run concurrently, and smaf_close() cannot close the
 * fd under one), open and close hold it for writing.
 *
 * CREATE goes through smaf__handoff_ioctl_node() (smaf_handoff.c), called
 * through the PLT on purpose: if libsmaf-preload.so is loaded too, its copy
 * of the handoff code and state is the one used (see smaf_handoff.h). The
 * device fd is fstat()ed once when it is opened, not per CREATE.
 *
 * Surviving a restart of smafd. When smafd dies (SIGKILL, a crash, a
 * restart), the kernel removes its CUSE device; an fd opened on it stays
 * open but every ioctl on it fails with ENOTCONN (the FUSE connection is
 * gone; so on 6.1 and 6.12; ENODEV, what a vanished device may give, is
 * treated the same). Buffers already handed out are unaffected:
 * they are memfds the kernel keeps alive. A restarted smafd serves a new
 * device under the same path. So that a long-running program keeps working
 * across that without calling smaf_close()/smaf_open(), every request goes
 * through device_ioctl(), which on ENOTCONN or ENODEV checks whether the
 * device fd is dead (see device_is_dead()) and if so reopens the device path
 * once, under the write lock, and retries the request once on the new fd.
 * The old fd's handoff channel is dropped with it (its smafd is gone); the
 * retried CREATE connects a new one to the new smafd. A request that fails
 * with ENOTCONN/ENODEV was never carried out (no buffer made, no flag
 * changed), so retrying it is safe. If the path cannot be opened (smafd not
 * back yet), the request fails with its original errno and the old fd is
 * kept; the next request tries again. Return conventions are unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libsmaf.h"
#include "smaf.h"
#include "smaf_ext.h"
#include "smaf_handoff.h"

static pthread_rwlock_t state_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static int device_fd = -1;
/* What fstat() said of device_fd when it was opened: a character device
 * (then device_rdev is its number) or not. Requests pass it on to the
 * handoff code, which so needs no fstat() per CREATE. */
static int device_is_chr;
static dev_t device_rdev;
static unsigned int open_count;
/* Bumped whenever device_fd changes (open, close, reopen), so a thread that
 * saw a request fail on one fd can tell whether another thread has already
 * replaced it (fd numbers are reused; a generation is not). */
static unsigned long device_generation;

/*
 * In a forked child only the forking thread exists; a lock another thread
 * held at fork() would never be released, so the child starts with a fresh
 * one. The state itself is inherited: the child may keep using the device
 * fd it shares with its parent (its buffers come over its own channel).
 */
static void after_fork_child(void)
{
	static const pthread_rwlock_t fresh = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
	memcpy(&state_lock, &fresh, sizeof(state_lock));
}

__attribute__((constructor)) static void libsmaf_init(void)
{
	pthread_atfork(NULL, NULL, after_fork_child);
}

static const char *device_path(void)
{
	const char *p = secure_getenv("SMAF_DEVICE");
	return p && *p ? p : "/dev/smaf";
}

/* Makes fd the device fd (the write lock held). */
static void set_device_fd(int fd)
{
	struct stat st;
	device_fd = fd;
	device_is_chr = fstat(fd, &st) == 0 && S_ISCHR(st.st_mode);
	device_rdev = device_is_chr ? st.st_rdev : 0;
	device_generation++;
}

/* ioctl() through the handoff code on the device fd (a lock held). */
static int handoff_ioctl(unsigned long request, void *arg)
{
	if (device_is_chr)
		return smaf__handoff_ioctl_node(device_fd, device_rdev, request, arg);
	return smaf__handoff_ioctl(device_fd, request, arg);
}

/* device_ioctl()'s result (errno EBADF) when the device is not open: each
 * API function has its own convention for that case. */
#define NOT_OPEN (-2)

/*
 * Is devfd's device gone? Only asked after a request failed with ENOTCONN or
 * ENODEV. Those are what the kernel answers on the fd of a CUSE device whose
 * daemon has died; but a live smafd also answers CREATE with ENOTCONN when
 * the process has no handoff channel. GET_INFO tells them apart: a live
 * smafd (or a kernel driver) answers it with success or EINVAL, never with
 * ENOTCONN or ENODEV.
 */
static int device_is_dead(int devfd)
{
	struct smaf_info info;
	memset(&info, 0, sizeof(info));
	return smaf__handoff_ioctl(devfd, SMAF_IOC_GET_INFO, &info) != 0 && (errno == ENOTCONN || errno == ENODEV);
}

/*
 * Called after a request on the device fd of generation `seen` failed with
 * ENOTCONN or ENODEV. Returns 1 if the request should be retried: another
 * thread has already reopened the device, or this call did. Returns 0 if
 * not: the device was closed meanwhile, it is alive (the errno was smafd's
 * real answer), or the path cannot be opened (yet). Takes the write lock, so
 * no request is in flight on the old fd while it is closed.
 */
static int device_reopen(unsigned long seen)
{
	int retry = 0;
	pthread_rwlock_wrlock(&state_lock);
	if (device_fd < 0) {
		retry = 0; /* smaf_close() closed it meanwhile */
	} else if (device_generation != seen) {
		retry = 1;
	} else if (device_is_dead(device_fd)) {
		int fd = open(device_path(), O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			/* The dead device's channel goes with it. A new smafd may
			 * serve the same device number; the next CREATE connects to
			 * it afresh. */
			smaf__handoff_disconnect(device_fd);
			close(device_fd);
			set_device_fd(fd);
			retry = 1;
		}
	}
	pthread_rwlock_unlock(&state_lock);
	return retry;
}

/*
 * ioctl(request, arg) on the open device, through the handoff code (which
 * handles CREATE and passes everything else through). Returns what ioctl(2)
 * returns (0, or -1 with errno), or NOT_OPEN if the device is not open. If
 * the device's smafd has gone away, the device path is reopened and the
 * request retried, once (see the top of this file). The state lock is held
 * for reading across each attempt, so smaf_close() or a reopen cannot close
 * the fd under it.
 */
static int device_ioctl(unsigned long request, void *arg)
{
	for (int attempt = 0;; attempt++) {
		pthread_rwlock_rdlock(&state_lock);
		if (device_fd < 0) {
			pthread_rwlock_unlock(&state_lock);
			errno = EBADF;
			return NOT_OPEN;
		}
		unsigned long generation = device_generation;
		int r = handoff_ioctl(request, arg);
		int e = errno;
		pthread_rwlock_unlock(&state_lock);
		if (r == 0 || attempt > 0 || (e != ENOTCONN && e != ENODEV) || !device_reopen(generation)) {
			errno = e;
			return r;
		}
	}
}

int smaf_open(void)
{
	int r = 0;
	pthread_rwlock_wrlock(&state_lock);
	if (open_count > 0) {
		open_count++;
	} else {
		int fd = open(device_path(), O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			r = -1;
		} else {
			set_device_fd(fd);
			open_count = 1;
		}
	}
	int e = errno;
	pthread_rwlock_unlock(&state_lock);
	errno = e;
	return r;
}

void smaf_close(void)
{
	int e = errno;
	pthread_rwlock_wrlock(&state_lock);
	if (open_count > 0 && --open_count == 0) {
		smaf__handoff_disconnect(device_fd);
		close(device_fd);
		device_fd = -1;
		device_generation++;
	}
	pthread_rwlock_unlock(&state_lock);
	errno = e;
}

int smaf_create_buffer_for(unsigned int length, unsigned int flags, const int *device_fds,
			   unsigned int n_devices, int *fd)
{
	struct smaf_ext_create_for req;
	memset(&req, 0, sizeof(req));
	req.create.length = length;
	req.create.flags = flags;
	if (!fd || (n_devices > 0 && !device_fds)) {
		pthread_rwlock_rdlock(&state_lock);
		int closed = device_fd < 0;
		pthread_rwlock_unlock(&state_lock);
		errno = closed ? EBADF : EINVAL;
		return -1;
	}
	/* Counted as given, so smafd says E2BIG for too many; only what fits
	 * is copied. */
	req.n_devices = n_devices;
	for (unsigned int i = 0; i < n_devices && i < SMAF_EXT_MAX_DEVICES; i++)
		req.device_fds[i] = device_fds[i];
	int r = device_ioctl(SMAF_IOC_EXT_CREATE_FOR, &req);
	if (r == NOT_OPEN)
		return -1; /* *fd untouched */
	if (r < 0) {
		*fd = -1;
		return -1;
	}
	*fd = req.create.fd;
	return 0;
}

int smaf_create_buffer(unsigned int length, unsigned int flags, char *name, int *fd)
{
	struct smaf_create_data data;
	memset(&data, 0, sizeof(data));
	data.length = length;
	data.flags = flags;
	if (name) {
		memcpy(data.name, name, strnlen(name, sizeof(data.name)));
		data.name[sizeof(data.name) - 1] = '\0';
	}
	if (!fd) {
		/* As before: EBADF if the device is not open, else EINVAL. */
		pthread_rwlock_rdlock(&state_lock);
		int closed = device_fd < 0;
		pthread_rwlock_unlock(&state_lock);
		errno = closed ? EBADF : EINVAL;
		return -1;
	}
	int r = device_ioctl(SMAF_IOC_CREATE, &data);
	if (r == NOT_OPEN)
		return -1; /* *fd untouched */
	if (r < 0) {
		*fd = -1;
		return -1;
	}
	*fd = data.fd;
	return 0;
}

int smaf_set_secure(int fd, int secure)
{
	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	s.secure = (__u32)secure;
	return device_ioctl(SMAF_IOC_SET_SECURE_FLAG, &s) < 0 ? -1 : 0;
}

int smaf_get_secure(int fd)
{
	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	/* As the original: the result is ignored; on failure (or when the
	 * device is not open) nothing is copied back and the zeroed field
	 * reads "not secure". */
	(void)device_ioctl(SMAF_IOC_GET_SECURE_FLAG, &s);
	return (int)s.secure;
}

int smaf_allocator_count(void)
{
	struct smaf_info info;
	memset(&info, 0, sizeof(info));
	return device_ioctl(SMAF_IOC_GET_INFO, &info) < 0 ? -1 : (int)info.count;
}

char *smaf_get_allocator_name(int index)
{
	struct smaf_info info;
	memset(&info, 0, sizeof(info));
	info.index = (__u32)index;
	if (device_ioctl(SMAF_IOC_GET_INFO, &info) < 0 || info.count == 0)
		return NULL;
	char *name = malloc(sizeof(info.name));
	if (!name)
		return NULL;
	memcpy(name, info.name, sizeof(info.name));
	name[sizeof(info.name) - 1] = '\0';
	return name;
}

/*
 * libsmaf.c - the libsmaf API (libsmaf.h) over /dev/smaf.
 *
 * Return conventions are the original library's (spec §4.3), including its
 * quirks: smaf_get_secure() reports errors as 0; smaf_create_buffer() leaves
 * *fd alone when the device is not open and sets it to -1 when CREATE fails.
 *
 * Unlike the original, the library is thread-safe: the device fd and its
 * open count sit behind a read-write lock; every request holds it for
 * reading (so requests run concurrently, and smaf_close() cannot close the
 * fd under one), open and close hold it for writing.
 *
 * CREATE goes through smaf__handoff_ioctl() (smaf_handoff.c), called through
 * the PLT on purpose: if libsmaf-preload.so is loaded too, its copy of the
 * handoff code and state is the one used (see smaf_handoff.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libsmaf.h"
#include "smaf.h"
#include "smaf_handoff.h"

static pthread_rwlock_t state_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static int device_fd = -1;
static unsigned int open_count;

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

/* The open device fd with the state lock held for reading, or -1 (EBADF)
 * without it when the device is not open. */
static int device_get(void)
{
	pthread_rwlock_rdlock(&state_lock);
	if (device_fd < 0) {
		pthread_rwlock_unlock(&state_lock);
		errno = EBADF;
		return -1;
	}
	return device_fd;
}

static void device_put(void)
{
	int e = errno;
	pthread_rwlock_unlock(&state_lock);
	errno = e;
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
			device_fd = fd;
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
	}
	pthread_rwlock_unlock(&state_lock);
	errno = e;
}

int smaf_create_buffer(unsigned int length, unsigned int flags, char *name, int *fd)
{
	int dev = device_get();
	if (dev < 0)
		return -1;
	if (!fd) {
		device_put();
		errno = EINVAL;
		return -1;
	}
	struct smaf_create_data data;
	memset(&data, 0, sizeof(data));
	data.length = length;
	data.flags = flags;
	if (name) {
		memcpy(data.name, name, strnlen(name, sizeof(data.name)));
		data.name[sizeof(data.name) - 1] = '\0';
	}
	int r = smaf__handoff_ioctl(dev, SMAF_IOC_CREATE, &data);
	device_put();
	if (r < 0) {
		*fd = -1;
		return -1;
	}
	*fd = data.fd;
	return 0;
}

int smaf_set_secure(int fd, int secure)
{
	int dev = device_get();
	if (dev < 0)
		return -1;
	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	s.secure = (__u32)secure;
	int r = smaf__handoff_ioctl(dev, SMAF_IOC_SET_SECURE_FLAG, &s);
	device_put();
	return r < 0 ? -1 : 0;
}

int smaf_get_secure(int fd)
{
	int dev = device_get();
	if (dev < 0)
		return 0;
	struct smaf_secure_flag s;
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	/* As the original: the result is ignored; on failure nothing is copied
	 * back and the zeroed field reads "not secure". */
	(void)smaf__handoff_ioctl(dev, SMAF_IOC_GET_SECURE_FLAG, &s);
	device_put();
	return (int)s.secure;
}

int smaf_allocator_count(void)
{
	int dev = device_get();
	if (dev < 0)
		return -1;
	struct smaf_info info;
	memset(&info, 0, sizeof(info));
	int r = smaf__handoff_ioctl(dev, SMAF_IOC_GET_INFO, &info);
	device_put();
	return r < 0 ? -1 : (int)info.count;
}

char *smaf_get_allocator_name(int index)
{
	int dev = device_get();
	if (dev < 0)
		return NULL;
	struct smaf_info info;
	memset(&info, 0, sizeof(info));
	info.index = (__u32)index;
	int r = smaf__handoff_ioctl(dev, SMAF_IOC_GET_INFO, &info);
	device_put();
	if (r < 0 || info.count == 0)
		return NULL;
	char *name = malloc(sizeof(info.name));
	if (!name)
		return NULL;
	memcpy(name, info.name, sizeof(info.name));
	name[sizeof(info.name) - 1] = '\0';
	return name;
}

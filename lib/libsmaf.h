/* SPDX-License-Identifier: MIT */
/*
 * libsmaf.h - the libsmaf API in its v8+ form (fc6a8b2 and later), served
 * by smafd's /dev/smaf. Same functions, arguments and return conventions as
 * the original library. smaf_create_buffer() receives the buffer's fd from
 * smafd out of band (the handoff protocol of smaf_ext.h), so it returns a
 * real, mappable fd as the kernel driver did.
 *
 * The device is /dev/smaf, or $SMAF_DEVICE when set (ignored in setuid
 * programs). Every function is thread-safe.
 *
 * The SMAF_* flags come from the uapi header: #include "smaf.h" as well
 * (lib/smaf.h, next to this file as in the original tree, is a link to it,
 * so "smaf.h" and "../lib/smaf.h" both work).
 */
#ifndef LIBSMAF_H
#define LIBSMAF_H

#include <fcntl.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opens the device, or counts one more user if it is open already.
 * 0, or -1 with errno from open(2). */
int smaf_open(void);

/* Counts one user less; the last one closes the device. Buffers already
 * created stay valid (they are independent file descriptors). */
void smaf_close(void);

/* Creates a buffer of `length` bytes (rounded up to pages) with `flags`
 * (SMAF_RDWR, SMAF_CLOEXEC) from the allocator `name`, or the preferred one
 * when name is NULL or empty. 0 with the buffer's fd in *fd; -1 with errno
 * and *fd = -1 when the request fails; -1 with *fd untouched when the device
 * is not open. */
int smaf_create_buffer(unsigned int length, unsigned int flags, char *name, int *fd);

/* smafd's extension: like smaf_create_buffer() with no name, but the
 * buffer comes from the first allocator, in rank order, that meets the
 * constraints of every device in device_fds (the caller's open fds of the
 * devices that will use the buffer: a V4L2 node, a DRM node, any character
 * device; O_PATH fds do). n_devices 0 behaves like an unnamed
 * smaf_create_buffer(). 0 with the buffer's fd in *fd; -1 with errno and
 * *fd = -1: EINVAL when no allocator meets them, E2BIG for more than
 * SMAF_EXT_MAX_DEVICES (16) devices, EBADF for an fd that is not open,
 * ENODEV for one that is not a character device, EINVAL on a device not
 * served by smafd; -1 with *fd untouched when the device is not open. */
int smaf_create_buffer_for(unsigned int length, unsigned int flags, const int *device_fds,
			   unsigned int n_devices, int *fd);

/* Makes the buffer `fd` secure (secure != 0) or not. 0, or -1 with errno
 * (EINVAL: no secure module, or fd is not a SMAF buffer); -1 if not open. */
int smaf_set_secure(int fd, int secure);

/* 1 if the buffer `fd` is secure; 0 if not, on any error, or if not open. */
int smaf_get_secure(int fd);

/* The number of allocators; -1 on error or if not open. */
int smaf_allocator_count(void);

/* A malloc'd copy of allocator `index`'s name (free it), in rank order;
 * NULL if index is out of range, on error, or if not open. */
char *smaf_get_allocator_name(int index);

#ifdef __cplusplus
}
#endif

#endif /* LIBSMAF_H */

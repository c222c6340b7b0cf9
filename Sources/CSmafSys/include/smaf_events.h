/* SPDX-License-Identifier: MIT */
/*
 * What smafd's event thread waits on: an epoll set (registered once per
 * descriptor, so a wait costs the same with 10 or 10,000 channels), the
 * inotify descriptor that reports buffers gone, and the eventfd doorbell.
 */
#ifndef SMAF_EVENTS_H
#define SMAF_EVENTS_H

#include <stdint.h>

/* epoll_create1(EPOLL_CLOEXEC) */
int smaf_events_create(void);

/* Adds fd to the set under `key` (level-triggered EPOLLIN; `oneshot`: the
 * fd is disarmed after one report until smaf_events_rearm). */
int smaf_events_add(int epfd, int fd, uint64_t key, int oneshot);
/* Arms a oneshot fd again. */
int smaf_events_rearm(int epfd, int fd, uint64_t key);
/* Removes fd from the set. */
int smaf_events_remove(int epfd, int fd);
/* epoll_wait: up to `max` ready keys, and for each whether the peer hung
 * up or the fd failed (EPOLLHUP | EPOLLERR). Returns the count, 0 on
 * timeout, -1 on error (EINTR included). */
int smaf_events_wait(int epfd, uint64_t *keys, uint8_t *hangup, int max, int timeout_ms);

/* eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK): the event thread's doorbell. */
int smaf_sys_eventfd(void);

/* inotify_init1(IN_NONBLOCK | IN_CLOEXEC) */
int smaf_sys_inotify_init(void);
/* Watch the inode `path` resolves to for its deletion (IN_DELETE_SELF; the
 * kernel adds IN_IGNORED when the watch goes). Returns the watch descriptor. */
int smaf_sys_inotify_watch_deletion(int ifd, const char *path);
/* Watch the file `path` resolves to for its last close (IN_CLOSE_WRITE |
 * IN_CLOSE_NOWRITE): for files that exist once and are shared by every fd
 * and mapping (a dma-buf, a memfd_secret), that event is the buffer's end.
 * IN_ONESHOT: the kernel removes the watch with that event (which would
 * otherwise pin the inode), even when the event itself is lost to an
 * overflowing queue, so the watch list shows the end either way. */
int smaf_sys_inotify_watch_last_close(int ifd, const char *path);
/* One read of pending events (the epoll set reports the descriptor again
 * while more are queued, so there is no second read that only returns
 * EAGAIN); calls gone(wd, ctx) for each IN_IGNORED and each close event
 * (only last-close watches ask for those). Sets *overflow when the kernel
 * dropped events (IN_Q_OVERFLOW). Returns the number of events read, 0 if
 * none were pending, -1 on error. */
int smaf_sys_inotify_drain(int ifd, void (*gone)(int wd, void *ctx), void *ctx, int *overflow);
/* Calls each(wd, ctx) for every watch the kernel still has on `ifd`
 * (/proc/self/fdinfo lists them): after an overflow, a watch missing here
 * has ended. Returns the number of watches, -1 if fdinfo cannot be read. */
int smaf_sys_inotify_each_watch(int ifd, void (*each)(int wd, void *ctx), void *ctx);

#endif

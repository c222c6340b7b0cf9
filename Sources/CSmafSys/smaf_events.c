/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "smaf_events.h"

#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

int smaf_events_create(void)
{
	return epoll_create1(EPOLL_CLOEXEC);
}

static int control(int epfd, int op, int fd, uint64_t key, int oneshot)
{
	struct epoll_event ev = { .events = EPOLLIN | (oneshot ? EPOLLONESHOT : 0), .data.u64 = key };
	return epoll_ctl(epfd, op, fd, &ev);
}

int smaf_events_add(int epfd, int fd, uint64_t key, int oneshot)
{
	return control(epfd, EPOLL_CTL_ADD, fd, key, oneshot);
}

int smaf_events_rearm(int epfd, int fd, uint64_t key)
{
	return control(epfd, EPOLL_CTL_MOD, fd, key, 1);
}

int smaf_events_remove(int epfd, int fd)
{
	return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

int smaf_events_wait(int epfd, uint64_t *keys, uint8_t *hangup, int max, int timeout_ms)
{
	struct epoll_event ev[64];
	if (max > 64)
		max = 64;
	int n = epoll_wait(epfd, ev, max, timeout_ms);
	for (int i = 0; i < n; i++) {
		keys[i] = ev[i].data.u64;
		hangup[i] = (ev[i].events & (EPOLLHUP | EPOLLERR)) != 0;
	}
	return n;
}

int smaf_sys_eventfd(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

int smaf_sys_inotify_init(void)
{
	return inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
}

int smaf_sys_inotify_watch_deletion(int ifd, const char *path)
{
	return inotify_add_watch(ifd, path, IN_DELETE_SELF);
}

int smaf_sys_inotify_watch_last_close(int ifd, const char *path)
{
	return inotify_add_watch(ifd, path, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_ONESHOT);
}

int smaf_sys_inotify_drain(int ifd, void (*gone)(int wd, void *ctx), void *ctx, int *overflow)
{
	/* Watches on files carry no name: 16 bytes an event, 1,024 a read. */
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(ifd, buf, sizeof(buf));
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
	int events = 0;
	for (char *p = buf; p < buf + n;) {
		struct inotify_event *e = (struct inotify_event *)p;
		if (e->mask & IN_Q_OVERFLOW)
			*overflow = 1;
		/* IN_IGNORED closes every watch's life, whatever ended it;
		 * a close event ends a last-close watch's buffer. */
		else if (e->mask & (IN_IGNORED | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE))
			gone(e->wd, ctx);
		events++;
		p += sizeof(struct inotify_event) + e->len;
	}
	return events;
}

int smaf_sys_inotify_each_watch(int ifd, void (*each)(int wd, void *ctx), void *ctx)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ifd);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int count = 0, wd;
	/* "inotify wd:3 ino:... sdev:... mask:... ignored_mask:..." */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "inotify wd:%x", &wd) == 1) {
			each(wd, ctx);
			count++;
		}
	fclose(f);
	return count;
}

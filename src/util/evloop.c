// SPDX-License-Identifier: MIT
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && !defined(EVLOOP_USE_POLL)
#define EVLOOP_EPOLL 1
#include <sys/epoll.h>
#else
#define EVLOOP_EPOLL 0
#endif

#include "util/event.h"
#include "util/evloop.h"
#include "util/thread.h"

/* One per user-mode NIC (libslirp), up to MAX_NETS, and a few more. */
#define EVLOOP_MAX_HOOKS 12
#define EVLOOP_BATCH	 64

struct ev_handler {
	ev_fd_fn fn;
	void *opaque;
	unsigned events;
	bool used;
};

struct ev_timer {
	struct evloop *loop;
	struct ev_timer *next;
	ev_fn fn;
	void *opaque;
	int64_t deadline; /* -1: disarmed */
};

struct ev_bh {
	struct evloop *loop;
	struct ev_bh *next;
	ev_fn fn;
	void *opaque;
	bool scheduled;
};

struct ev_hook {
	ev_prepare_fn prepare;
	ev_fn check;
	void *opaque;
};

struct evloop {
	/* Indexed by fd: descriptors are small integers and this is looked up on every event. */
	struct ev_handler *handlers;
	int nr_handlers;
	int nr_used;
#if EVLOOP_EPOLL
	int epfd;
#else
	struct pollfd *pfds;
	int nr_pfds;
#endif
	struct event wake;
	struct ev_hook hooks[EVLOOP_MAX_HOOKS];
	unsigned nr_hooks;

	/* lock guards the timer and bottom-half lists, which any thread may touch. */
	pthread_mutex_t lock;
	struct ev_timer *timers;
	struct ev_bh *bhs;
	bool bh_pending;

	pthread_t thread;
	bool started;
	atomic_bool stop;
};

int64_t evloop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int evloop_create(struct evloop **out, struct errbuf *e)
{
	struct evloop *loop = calloc(1, sizeof(*loop));
	int r;

	if (!loop)
		return err_set(e, -ENOMEM, "event loop: out of memory");
	pthread_mutex_init(&loop->lock, NULL);
	r = event_init(&loop->wake);
	if (r < 0) {
		free(loop);
		return err_set(e, r, "event loop: cannot create its wake-up: %s", strerror(-r));
	}
#if EVLOOP_EPOLL
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		r = -errno;
		event_close(&loop->wake);
		free(loop);
		return err_set(e, r, "event loop: epoll_create1: %s", strerror(-r));
	}
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = -1 };

		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, event_fd(&loop->wake), &ev) < 0) {
			r = -errno;
			close(loop->epfd);
			event_close(&loop->wake);
			free(loop);
			return err_set(e, r, "event loop: epoll_ctl: %s", strerror(-r));
		}
	}
#endif
	*out = loop;
	return 0;
}

static void evloop_wake(struct evloop *loop)
{
	if (!evloop_on_loop_thread(loop))
		event_signal(&loop->wake);
}

bool evloop_on_loop_thread(const struct evloop *loop)
{
	return loop->started && pthread_equal(pthread_self(), loop->thread);
}

static int evloop_grow(struct evloop *loop, int fd)
{
	int n = loop->nr_handlers ? loop->nr_handlers : 64;
	struct ev_handler *h;

	while (n <= fd)
		n *= 2;
	if (n == loop->nr_handlers)
		return 0;
	h = realloc(loop->handlers, (size_t)n * sizeof(*h));
	if (!h)
		return -ENOMEM;
	memset(h + loop->nr_handlers, 0, (size_t)(n - loop->nr_handlers) * sizeof(*h));
	loop->handlers = h;
	loop->nr_handlers = n;
	return 0;
}

int evloop_add_fd(struct evloop *loop, int fd, unsigned events, ev_fd_fn fn, void *opaque)
{
	int r;

	if (fd < 0 || !fn)
		return -EINVAL;
	r = evloop_grow(loop, fd);
	if (r < 0)
		return r;
	if (loop->handlers[fd].used)
		return -EEXIST;
#if EVLOOP_EPOLL
	{
		struct epoll_event ev = { .events = 0, .data.fd = fd };

		ev.events = (events & EV_IN ? EPOLLIN : 0) | (events & EV_OUT ? EPOLLOUT : 0);
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
	}
#endif
	loop->handlers[fd] =
		(struct ev_handler){ .fn = fn, .opaque = opaque, .events = events, .used = true };
	loop->nr_used++;
	return 0;
}

int evloop_mod_fd(struct evloop *loop, int fd, unsigned events)
{
	if (fd < 0 || fd >= loop->nr_handlers || !loop->handlers[fd].used)
		return -ENOENT;
	if (loop->handlers[fd].events == events)
		return 0;
#if EVLOOP_EPOLL
	{
		struct epoll_event ev = { .events = 0, .data.fd = fd };

		ev.events = (events & EV_IN ? EPOLLIN : 0) | (events & EV_OUT ? EPOLLOUT : 0);
		if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
			return -errno;
	}
#endif
	loop->handlers[fd].events = events;
	return 0;
}

void evloop_del_fd(struct evloop *loop, int fd)
{
	if (fd < 0 || fd >= loop->nr_handlers || !loop->handlers[fd].used)
		return;
#if EVLOOP_EPOLL
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
#endif
	loop->handlers[fd] = (struct ev_handler){ 0 };
	loop->nr_used--;
}

struct ev_timer *evloop_timer_new(struct evloop *loop, ev_fn fn, void *opaque)
{
	struct ev_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	*t = (struct ev_timer){ .loop = loop, .fn = fn, .opaque = opaque, .deadline = -1 };
	pthread_mutex_lock(&loop->lock);
	t->next = loop->timers;
	loop->timers = t;
	pthread_mutex_unlock(&loop->lock);
	return t;
}

void ev_timer_arm(struct ev_timer *t, int64_t deadline_ms)
{
	struct evloop *loop = t->loop;

	pthread_mutex_lock(&loop->lock);
	t->deadline = deadline_ms < 0 ? 0 : deadline_ms;
	pthread_mutex_unlock(&loop->lock);
	evloop_wake(loop);
}

void ev_timer_disarm(struct ev_timer *t)
{
	pthread_mutex_lock(&t->loop->lock);
	t->deadline = -1;
	pthread_mutex_unlock(&t->loop->lock);
}

void ev_timer_free(struct ev_timer *t)
{
	struct evloop *loop;
	struct ev_timer **pp;

	if (!t)
		return;
	loop = t->loop;
	pthread_mutex_lock(&loop->lock);
	for (pp = &loop->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	pthread_mutex_unlock(&loop->lock);
	free(t);
}

struct ev_bh *evloop_bh_new(struct evloop *loop, ev_fn fn, void *opaque)
{
	struct ev_bh *bh = calloc(1, sizeof(*bh));

	if (!bh)
		return NULL;
	*bh = (struct ev_bh){ .loop = loop, .fn = fn, .opaque = opaque };
	pthread_mutex_lock(&loop->lock);
	bh->next = loop->bhs;
	loop->bhs = bh;
	pthread_mutex_unlock(&loop->lock);
	return bh;
}

void ev_bh_schedule(struct ev_bh *bh)
{
	struct evloop *loop = bh->loop;
	bool wake;

	pthread_mutex_lock(&loop->lock);
	wake = !bh->scheduled;
	bh->scheduled = true;
	loop->bh_pending = true;
	pthread_mutex_unlock(&loop->lock);
	if (wake)
		evloop_wake(loop);
}

void ev_bh_free(struct ev_bh *bh)
{
	struct evloop *loop;
	struct ev_bh **pp;

	if (!bh)
		return;
	loop = bh->loop;
	pthread_mutex_lock(&loop->lock);
	for (pp = &loop->bhs; *pp; pp = &(*pp)->next) {
		if (*pp == bh) {
			*pp = bh->next;
			break;
		}
	}
	pthread_mutex_unlock(&loop->lock);
	free(bh);
}

int evloop_add_hook(struct evloop *loop, ev_prepare_fn prepare, ev_fn check, void *opaque)
{
	if (loop->nr_hooks == EVLOOP_MAX_HOOKS)
		return -ENOSPC;
	loop->hooks[loop->nr_hooks++] = (struct ev_hook){ prepare, check, opaque };
	return 0;
}

/* The next timer deadline as a wait in ms, bounded by `timeout` (-1: none). */
static int evloop_timeout(struct evloop *loop, int timeout)
{
	int64_t now = evloop_now_ms(), next = -1;

	pthread_mutex_lock(&loop->lock);
	if (loop->bh_pending)
		next = now;
	for (struct ev_timer *t = loop->timers; t; t = t->next)
		if (t->deadline >= 0 && (next < 0 || t->deadline < next))
			next = t->deadline;
	pthread_mutex_unlock(&loop->lock);
	if (next >= 0) {
		int64_t wait = next > now ? next - now : 0;

		if (timeout < 0 || wait < timeout)
			timeout = wait > 60000 ? 60000 : (int)wait;
	}
	return timeout;
}

/* Runs due timers and scheduled bottom halves, one at a time, without the lock held. */
static void evloop_run_deferred(struct evloop *loop)
{
	for (;;) {
		int64_t now = evloop_now_ms();
		ev_fn fn = NULL;
		void *opaque = NULL;

		pthread_mutex_lock(&loop->lock);
		if (loop->bh_pending) {
			struct ev_bh *bh;

			for (bh = loop->bhs; bh && !bh->scheduled; bh = bh->next)
				;
			if (bh) {
				bh->scheduled = false;
				fn = bh->fn;
				opaque = bh->opaque;
			} else {
				loop->bh_pending = false;
			}
		}
		if (!fn) {
			for (struct ev_timer *t = loop->timers; t; t = t->next) {
				if (t->deadline >= 0 && t->deadline <= now) {
					t->deadline = -1;
					fn = t->fn;
					opaque = t->opaque;
					break;
				}
			}
		}
		pthread_mutex_unlock(&loop->lock);
		if (!fn)
			return;
		fn(opaque);
	}
}

static void evloop_dispatch(struct evloop *loop, int fd, unsigned revents)
{
	struct ev_handler *h;

	if (fd < 0 || fd >= loop->nr_handlers)
		return;
	h = &loop->handlers[fd];
	if (!h->used)
		return; /* deleted by an earlier callback of this batch */
	revents &= h->events | EV_HUP;
	if (revents)
		h->fn(h->opaque, fd, revents);
}

#if EVLOOP_EPOLL
static int evloop_wait(struct evloop *loop, int timeout)
{
	struct epoll_event evs[EVLOOP_BATCH];
	int n = epoll_wait(loop->epfd, evs, EVLOOP_BATCH, timeout);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		unsigned ev = evs[i].events, revents;

		if (evs[i].data.fd < 0) {
			event_drain(&loop->wake);
			continue;
		}
		revents = (ev & (EPOLLIN | EPOLLPRI) ? EV_IN : 0) | (ev & EPOLLOUT ? EV_OUT : 0) |
			  (ev & (EPOLLERR | EPOLLHUP) ? EV_HUP : 0);
		evloop_dispatch(loop, evs[i].data.fd, revents);
	}
	return 0;
}
#else
static unsigned ev_to_poll(unsigned ev)
{
	return (ev & EV_IN ? POLLIN : 0) | (ev & EV_OUT ? POLLOUT : 0);
}

static unsigned ev_from_poll(unsigned pev)
{
	return (pev & (POLLIN | POLLPRI) ? EV_IN : 0) | (pev & POLLOUT ? EV_OUT : 0) |
	       (pev & (POLLERR | POLLHUP | POLLNVAL) ? EV_HUP : 0);
}

static int evloop_wait(struct evloop *loop, int timeout)
{
	int n = 1, r;

	if (loop->nr_pfds < loop->nr_used + 1) {
		struct pollfd *p = realloc(loop->pfds, (size_t)(loop->nr_used + 1) * sizeof(*p));

		if (!p)
			return -ENOMEM;
		loop->pfds = p;
		loop->nr_pfds = loop->nr_used + 1;
	}
	loop->pfds[0] = (struct pollfd){ .fd = event_fd(&loop->wake), .events = POLLIN };
	for (int fd = 0; fd < loop->nr_handlers && n < loop->nr_pfds; fd++)
		if (loop->handlers[fd].used)
			loop->pfds[n++] = (struct pollfd){
				.fd = fd, .events = (short)ev_to_poll(loop->handlers[fd].events)
			};
	r = poll(loop->pfds, (nfds_t)n, timeout);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (loop->pfds[0].revents)
		event_drain(&loop->wake);
	for (int i = 1; i < n && r > 0; i++)
		if (loop->pfds[i].revents)
			evloop_dispatch(loop, loop->pfds[i].fd,
					ev_from_poll((unsigned)loop->pfds[i].revents));
	return 0;
}
#endif

int evloop_run_once(struct evloop *loop, int timeout)
{
	int r;

	for (unsigned i = 0; i < loop->nr_hooks; i++) {
		int t = loop->hooks[i].prepare ? loop->hooks[i].prepare(loop->hooks[i].opaque) : -1;

		if (t >= 0 && (timeout < 0 || t < timeout))
			timeout = t;
	}
	timeout = evloop_timeout(loop, timeout);
	r = evloop_wait(loop, timeout);
	for (unsigned i = 0; i < loop->nr_hooks; i++)
		if (loop->hooks[i].check)
			loop->hooks[i].check(loop->hooks[i].opaque);
	evloop_run_deferred(loop);
	return r;
}

static void *evloop_thread(void *arg)
{
	struct evloop *loop = arg;

	while (!atomic_load(&loop->stop))
		if (evloop_run_once(loop, -1) < 0)
			break;
	return NULL;
}

int evloop_start(struct evloop *loop, struct errbuf *e)
{
	sigset_t old;
	int r;

	/* Set before the thread exists, so evloop_on_loop_thread() is right from its first call. */
	loop->started = true;
	thread_block_async_signals(&old);
	r = thread_create(&loop->thread, evloop_thread, loop);
	thread_restore_signals(&old);
	if (r) {
		loop->started = false;
		return err_set(e, -r, "event loop: cannot start its thread: %s", strerror(r));
	}
	return 0;
}

void evloop_stop(struct evloop *loop)
{
	if (!loop || !loop->started)
		return;
	atomic_store(&loop->stop, true);
	event_signal(&loop->wake);
	pthread_join(loop->thread, NULL);
	loop->started = false;
}

void evloop_destroy(struct evloop *loop)
{
	if (!loop)
		return;
	evloop_stop(loop);
	while (loop->timers)
		ev_timer_free(loop->timers);
	while (loop->bhs)
		ev_bh_free(loop->bhs);
#if EVLOOP_EPOLL
	close(loop->epfd);
#else
	free(loop->pfds);
#endif
	event_close(&loop->wake);
	free(loop->handlers);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}

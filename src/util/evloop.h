/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_UTIL_EVLOOP_H
#define IGNITION_UTIL_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/*
 * The one event loop for host-side I/O of devices that talk to the outside world (network
 * backends, vsock's unix sockets): one thread waits on every registered descriptor with epoll on
 * Linux, poll(2) elsewhere, and runs callbacks, timers and bottom halves on that thread. Nothing
 * spins: an idle loop sleeps in the kernel until a descriptor, a timer or a bottom half is due.
 *
 * Threading:
 * - fd registration (add/mod/del) happens before evloop_start() or on the loop thread (from a
 *   callback); other threads ask the loop thread through a bottom half.
 * - timers and bottom halves may be armed, scheduled and cancelled from any thread.
 * - callbacks must tolerate spurious readiness (read until EAGAIN, expect EAGAIN).
 */
struct evloop;
struct ev_timer;
struct ev_bh;

enum {
	EV_IN = 1u << 0,
	EV_OUT = 1u << 1,
	EV_HUP = 1u << 2, /* error or hang-up: always reported, whatever was asked for */
};

typedef void (*ev_fd_fn)(void *opaque, int fd, unsigned revents);
typedef void (*ev_fn)(void *opaque);
/* Before each wait: the longest the loop may sleep for this hook, in ms (-1: no limit). */
typedef int (*ev_prepare_fn)(void *opaque);

int evloop_create(struct evloop **loop, struct errbuf *e);
/* Starts the loop's thread. */
int evloop_start(struct evloop *loop, struct errbuf *e);
/* Makes the thread return after its current callback and joins it. Idempotent. */
void evloop_stop(struct evloop *loop);
/* After evloop_stop(); frees what is still registered (callers free their own opaque data). */
void evloop_destroy(struct evloop *loop);
bool evloop_on_loop_thread(const struct evloop *loop);

/* One iteration on the calling thread, sleeping at most timeout_ms (-1: no limit). For tests. */
int evloop_run_once(struct evloop *loop, int timeout_ms);

int evloop_add_fd(struct evloop *loop, int fd, unsigned events, ev_fd_fn fn, void *opaque);
int evloop_mod_fd(struct evloop *loop, int fd, unsigned events);
/* Safe from any callback, its own included: fn is not called for fd afterwards. */
void evloop_del_fd(struct evloop *loop, int fd);

/* Monotonic milliseconds, the clock of timer deadlines. */
int64_t evloop_now_ms(void);

struct ev_timer *evloop_timer_new(struct evloop *loop, ev_fn fn, void *opaque);
/* One shot at deadline_ms (evloop_now_ms() clock); re-arming replaces the deadline. */
void ev_timer_arm(struct ev_timer *t, int64_t deadline_ms);
void ev_timer_disarm(struct ev_timer *t);
void ev_timer_free(struct ev_timer *t);

/* A bottom half runs fn once on the loop thread after any number of schedules before it ran. */
struct ev_bh *evloop_bh_new(struct evloop *loop, ev_fn fn, void *opaque);
void ev_bh_schedule(struct ev_bh *bh);
void ev_bh_free(struct ev_bh *bh);

/*
 * A hook around every wait, for libraries with their own poll model (libslirp): prepare runs
 * before the wait and may shorten it, check runs after the descriptors' callbacks.
 */
int evloop_add_hook(struct evloop *loop, ev_prepare_fn prepare, ev_fn check, void *opaque);

#endif

// SPDX-License-Identifier: MIT
/*
 * The event loop: descriptors, timers and bottom halves run on its thread, nothing spins while
 * idle, and a callback may remove descriptors (its own included). Built twice: epoll and poll.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/sock_compat.h"
#include "util/evloop.h"

struct reader {
	struct evloop *loop;
	int fd;
	atomic_int bytes;
	atomic_int calls;
	bool del_self;
	pthread_t thread;
};

static void reader_cb(void *opaque, int fd, unsigned revents)
{
	struct reader *r = opaque;
	char buf[64];
	ssize_t n;

	r->thread = pthread_self();
	atomic_fetch_add(&r->calls, 1);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		atomic_fetch_add(&r->bytes, (int)n);
	if (r->del_self || (revents & EV_HUP) || n == 0)
		evloop_del_fd(r->loop, fd);
}

static void wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 2000 && atomic_load(v) < want; i++)
		usleep(1000);
}

static void test_fd_on_loop_thread(void **state)
{
	struct reader r = { 0 };
	struct errbuf e;
	int sv[2];

	assert_int_equal(tsock_socketpair(AF_UNIX, SOCK_STREAM | TSOCK_NONBLOCK, sv), 0);
	assert_int_equal(evloop_create(&r.loop, &e), 0);
	assert_int_equal(evloop_add_fd(r.loop, sv[0], EV_IN, reader_cb, &r), 0);
	assert_int_equal(evloop_add_fd(r.loop, sv[0], EV_IN, reader_cb, &r), -EEXIST);
	assert_int_equal(evloop_start(r.loop, &e), 0);
	assert_int_equal(write(sv[1], "hello", 5), 5);
	wait_for(&r.bytes, 5);
	assert_int_equal(atomic_load(&r.bytes), 5);
	assert_false(pthread_equal(r.thread, pthread_self()));
	evloop_stop(r.loop);
	evloop_destroy(r.loop);
	close(sv[0]);
	close(sv[1]);
}

/* Removing a descriptor inside a callback of the same batch: no call after it is gone. */
static void test_del_in_callback(void **state)
{
	struct reader a = { 0 }, b = { 0 };
	struct errbuf e;
	struct evloop *loop;
	int sa[2], sb[2];

	assert_int_equal(evloop_create(&loop, &e), 0);
	a.loop = b.loop = loop;
	a.del_self = b.del_self = true;
	assert_int_equal(tsock_socketpair(AF_UNIX, SOCK_STREAM | TSOCK_NONBLOCK, sa), 0);
	assert_int_equal(tsock_socketpair(AF_UNIX, SOCK_STREAM | TSOCK_NONBLOCK, sb), 0);
	assert_int_equal(evloop_add_fd(loop, sa[0], EV_IN, reader_cb, &a), 0);
	assert_int_equal(evloop_add_fd(loop, sb[0], EV_IN, reader_cb, &b), 0);
	assert_int_equal(write(sa[1], "x", 1), 1);
	assert_int_equal(write(sb[1], "y", 1), 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(evloop_run_once(loop, 10), 0);
	assert_int_equal(write(sa[1], "x", 1), 1);
	assert_int_equal(evloop_run_once(loop, 10), 0);
	assert_int_equal(atomic_load(&a.calls), 1);
	assert_int_equal(atomic_load(&b.calls), 1);
	assert_int_equal(evloop_mod_fd(loop, sa[0], EV_OUT), -ENOENT);
	evloop_destroy(loop);
	for (int i = 0; i < 2; i++) {
		close(sa[i]);
		close(sb[i]);
	}
}

static void counter_cb(void *opaque)
{
	atomic_fetch_add((atomic_int *)opaque, 1);
}

static void test_timers(void **state)
{
	atomic_int early = 0, late = 0, off = 0;
	struct errbuf e;
	struct evloop *loop;
	struct ev_timer *t1, *t2, *t3;
	int64_t start;

	assert_int_equal(evloop_create(&loop, &e), 0);
	t1 = evloop_timer_new(loop, counter_cb, &early);
	t2 = evloop_timer_new(loop, counter_cb, &late);
	t3 = evloop_timer_new(loop, counter_cb, &off);
	assert_int_equal(evloop_start(loop, &e), 0);
	start = evloop_now_ms();
	ev_timer_arm(t2, start + 200);
	ev_timer_arm(t1, start + 20);
	ev_timer_arm(t3, start + 30);
	ev_timer_disarm(t3);
	wait_for(&early, 1);
	assert_int_equal(atomic_load(&early), 1);
	assert_int_equal(atomic_load(&late), 0);
	assert_true(evloop_now_ms() - start >= 20);
	wait_for(&late, 1);
	assert_int_equal(atomic_load(&late), 1);
	assert_true(evloop_now_ms() - start >= 200);
	usleep(50000);
	/* one shot each, and a disarmed timer never fires */
	assert_int_equal(atomic_load(&early), 1);
	assert_int_equal(atomic_load(&off), 0);
	evloop_stop(loop);
	ev_timer_free(t1);
	evloop_destroy(loop); /* frees t2 and t3 */
}

struct bh_probe {
	atomic_int runs;
	pthread_t thread;
};

static void bh_cb(void *opaque)
{
	struct bh_probe *p = opaque;

	p->thread = pthread_self();
	atomic_fetch_add(&p->runs, 1);
}

static void *bh_hammer(void *opaque)
{
	for (int i = 0; i < 1000; i++)
		ev_bh_schedule(opaque);
	return NULL;
}

static void test_bottom_halves(void **state)
{
	struct bh_probe p = { 0 };
	struct errbuf e;
	struct evloop *loop;
	struct ev_bh *bh;
	pthread_t th[2];

	assert_int_equal(evloop_create(&loop, &e), 0);
	bh = evloop_bh_new(loop, bh_cb, &p);
	/* scheduled any number of times before it runs: it runs once */
	ev_bh_schedule(bh);
	ev_bh_schedule(bh);
	assert_int_equal(evloop_run_once(loop, 100), 0);
	assert_int_equal(atomic_load(&p.runs), 1);
	assert_int_equal(evloop_run_once(loop, 0), 0);
	assert_int_equal(atomic_load(&p.runs), 1);
	/* from other threads, while the loop thread runs: at least one run, never lost */
	assert_int_equal(evloop_start(loop, &e), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, bh_hammer, bh), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	wait_for(&p.runs, 2);
	assert_true(atomic_load(&p.runs) >= 2);
	assert_false(pthread_equal(p.thread, pthread_self()));
	evloop_stop(loop);
	ev_bh_free(bh);
	evloop_destroy(loop);
}

struct hook_probe {
	int prepared;
	int checked;
};

static int hook_prepare(void *opaque)
{
	((struct hook_probe *)opaque)->prepared++;
	return 5;
}

static void hook_check(void *opaque)
{
	((struct hook_probe *)opaque)->checked++;
}

/* A hook's timeout bounds the wait, as libslirp's poll model needs. */
static void test_hooks(void **state)
{
	struct hook_probe h = { 0 };
	struct errbuf e;
	struct evloop *loop;
	int64_t start;

	assert_int_equal(evloop_create(&loop, &e), 0);
	assert_int_equal(evloop_add_hook(loop, hook_prepare, hook_check, &h), 0);
	start = evloop_now_ms();
	assert_int_equal(evloop_run_once(loop, 5000), 0);
	assert_true(evloop_now_ms() - start < 1000);
	assert_int_equal(h.prepared, 1);
	assert_int_equal(h.checked, 1);
	evloop_destroy(loop);
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* An idle loop with descriptors and a far timer sleeps: well under 5% of a CPU. */
static void test_idle_costs_nothing(void **state)
{
	struct reader r = { 0 };
	atomic_int never = 0;
	struct errbuf e;
	struct ev_timer *t;
	double before, used;
	int sv[2];

	assert_int_equal(tsock_socketpair(AF_UNIX, SOCK_STREAM | TSOCK_NONBLOCK, sv), 0);
	assert_int_equal(evloop_create(&r.loop, &e), 0);
	assert_int_equal(evloop_add_fd(r.loop, sv[0], EV_IN, reader_cb, &r), 0);
	t = evloop_timer_new(r.loop, counter_cb, &never);
	ev_timer_arm(t, evloop_now_ms() + 3600 * 1000);
	assert_int_equal(evloop_start(r.loop, &e), 0);
	before = cpu_seconds();
	usleep(300 * 1000);
	used = cpu_seconds() - before;
	print_message("idle loop: %.4f s of CPU in 0.3 s\n", used);
	assert_true(used < 0.015);
	assert_int_equal(atomic_load(&r.calls), 0);
	evloop_stop(r.loop);
	evloop_destroy(r.loop);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_on_loop_thread),
		cmocka_unit_test(test_del_in_callback),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_bottom_halves),
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_idle_costs_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * The unix-socket backends against a peer of the test's own: stream (QEMU's length framing:
 * frames split across reads, several per read, a length over the limit, backpressure both ways,
 * a peer that goes and comes back) and dgram (vfkit's hello, one frame per datagram, a peer
 * restarted on the same path). The event loop runs on the test thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/net/net_backend.h"
#include "tests/unit/sock_compat.h"
#include "util/log.h"

struct peer_port {
	uint8_t *last;
	size_t last_len;
	unsigned frames;
	int receive_ret;
	unsigned tx_resumes;
	int link; /* -1 never said, 0 down, 1 up */
	unsigned links;
};

struct t {
	char dir[64];
	char path[128];
	struct evloop *loop;
	int listener; /* stream: listening; dgram: the peer's bound socket */
	int peer; /* stream: the accepted connection */
	struct net_backend *b;
	struct peer_port port;
	struct net_config cfg;
};

static unsigned warnings;
static char last_warning[512];

static void log_capture(enum log_level level, const char *line, void *opaque)
{
	if (level <= LOG_WARN) {
		warnings++;
		snprintf(last_warning, sizeof(last_warning), "%s", line);
	}
}

static int port_receive(void *dev, const void *frame, size_t len)
{
	struct peer_port *p = dev;

	if (p->receive_ret)
		return p->receive_ret;
	memcpy(p->last, frame, len);
	p->last_len = len;
	p->frames++;
	return 0;
}

static void port_tx_resume(void *dev)
{
	((struct peer_port *)dev)->tx_resumes++;
}

static void port_link(void *dev, bool up)
{
	struct peer_port *p = dev;

	p->link = up;
	p->links++;
}

static void run(struct t *t, int ms)
{
	int64_t end = evloop_now_ms() + ms;

	do
		evloop_run_once(t->loop, 10);
	while (evloop_now_ms() < end);
}

static int listen_stream(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = tsock_socket(AF_UNIX, SOCK_STREAM | TSOCK_CLOEXEC);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static int bind_dgram(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = tsock_socket(AF_UNIX, SOCK_DGRAM | TSOCK_CLOEXEC);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static struct t *t_new(enum net_mode mode)
{
	struct t *t = calloc(1, sizeof(*t));
	struct errbuf e;

	snprintf(t->dir, sizeof(t->dir), "/tmp/ign-net-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/peer.sock", t->dir);
	assert_int_equal(evloop_create(&t->loop, &e), 0);
	t->port.last = malloc(NET_FRAME_MAX + 16);
	t->port.link = -1;
	t->cfg = (struct net_config){ .mode = mode, .target = t->path };
	t->peer = -1;
	t->listener = mode == NET_STREAM ? listen_stream(t->path) : bind_dgram(t->path);
	return t;
}

static int t_open(struct t *t, struct errbuf *e)
{
	int r = net_backend_open(&t->cfg, 0, t->loop, &t->b, e);

	if (r < 0)
		return r;
	t->b->port = (struct net_port){ .receive = port_receive,
					.tx_resume = port_tx_resume,
					.link = port_link,
					.dev = &t->port };
	return t->b->ops->start(t->b, e);
}

static int setup_stream(void **state)
{
	struct t *t = t_new(NET_STREAM);
	struct errbuf e;

	assert_int_equal(t_open(t, &e), 0);
	t->peer = tsock_accept(t->listener, TSOCK_CLOEXEC);
	assert_true(t->peer >= 0);
	warnings = 0;
	*state = t;
	return 0;
}

static int setup_dgram(void **state)
{
	struct t *t = t_new(NET_DGRAM);
	struct errbuf e;

	assert_int_equal(t_open(t, &e), 0);
	warnings = 0;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	char cmd[160];

	if (t->b)
		t->b->ops->destroy(t->b);
	evloop_destroy(t->loop);
	if (t->peer >= 0)
		close(t->peer);
	close(t->listener);
	free(t->port.last);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	if (system(cmd)) {
		/* a left-over temporary directory is no test failure */
	}
	free(t);
	return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13 + (i >> 7));
}

static void peer_write(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* ---- stream ---- */

static void test_stream_split_reads(void **state)
{
	struct t *t = *state;
	uint8_t msg[4 + 1500];

	fill(msg + 4, 1500, 1);
	put_be32(msg, 1500);
	/* the prefix a byte at a time, the frame in three pieces, the loop running in between */
	for (int i = 0; i < 4; i++) {
		peer_write(t->peer, msg + i, 1);
		run(t, 5);
		assert_int_equal(t->port.frames, 0);
	}
	peer_write(t->peer, msg + 4, 700);
	run(t, 5);
	peer_write(t->peer, msg + 704, 799);
	run(t, 5);
	assert_int_equal(t->port.frames, 0);
	peer_write(t->peer, msg + 1503, 1);
	run(t, 5);
	assert_int_equal(t->port.frames, 1);
	assert_int_equal(t->port.last_len, 1500);
	assert_memory_equal(t->port.last, msg + 4, 1500);
}

static void test_stream_many_per_read(void **state)
{
	struct t *t = *state;
	uint8_t buf[10 * (4 + 64)];

	for (unsigned i = 0; i < 10; i++) {
		put_be32(buf + i * 68, 64);
		fill(buf + i * 68 + 4, 64, i);
	}
	peer_write(t->peer, buf, sizeof(buf));
	run(t, 10);
	assert_int_equal(t->port.frames, 10);
	assert_memory_equal(t->port.last, buf + 9 * 68 + 4, 64);
}

static void test_stream_send(void **state)
{
	struct t *t = *state;
	uint8_t a[20], b[40], got[64];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };

	fill(a, sizeof(a), 3);
	fill(b, sizeof(b), 4);
	assert_int_equal(t->b->ops->send(t->b, iov, 2), 0);
	assert_int_equal(read(t->peer, got, sizeof(got)), 64);
	assert_int_equal(got[0] << 24 | got[1] << 16 | got[2] << 8 | got[3], 60);
	assert_memory_equal(got + 4, a, sizeof(a));
	assert_memory_equal(got + 24, b, sizeof(b));
}

static void test_stream_over_limit(void **state)
{
	struct t *t = *state;
	uint8_t msg[8], c;

	put_be32(msg, NET_FRAME_MAX + 1);
	peer_write(t->peer, msg, sizeof(msg));
	run(t, 10);
	/* dropped with one line, link down, nothing delivered */
	assert_int_equal(warnings, 1);
	assert_non_null(strstr(last_warning, "65551"));
	assert_int_equal(t->port.link, 0);
	assert_int_equal(t->port.frames, 0);
	assert_int_equal(read(t->peer, &c, 1), 0);
	close(t->peer);
	/* the listener is still there: the backend comes back within about a second */
	run(t, 1300);
	t->peer = tsock_accept(t->listener, TSOCK_CLOEXEC | TSOCK_NONBLOCK);
	assert_true(t->peer >= 0);
	assert_int_equal(t->port.link, 1);
	put_be32(msg, 4);
	memcpy(msg + 4, "abcd", 4);
	peer_write(t->peer, msg, 8);
	run(t, 10);
	assert_int_equal(t->port.frames, 1);
	assert_memory_equal(t->port.last, "abcd", 4);
	assert_int_equal(warnings, 1);
}

static void test_stream_peer_goes_and_comes_back(void **state)
{
	struct t *t = *state;
	uint8_t f[60] = { 0 };
	struct iovec iov = { f, sizeof(f) };

	close(t->peer);
	t->peer = -1;
	close(t->listener);
	unlink(t->path);
	run(t, 20);
	assert_int_equal(t->port.link, 0);
	assert_int_equal(warnings, 1);
	/* while it is away the guest's frames are dropped, not queued */
	assert_true(t->b->ops->send(t->b, &iov, 1) < 0);
	run(t, 1200);
	assert_int_equal(t->port.link, 0);
	assert_int_equal(warnings, 1); /* one line, not one per retry */
	t->listener = listen_stream(t->path);
	run(t, 1300);
	assert_int_equal(t->port.link, 1);
	t->peer = tsock_accept(t->listener, TSOCK_CLOEXEC);
	assert_true(t->peer >= 0);
	assert_int_equal(t->b->ops->send(t->b, &iov, 1), 0);
}

static void test_stream_rx_backpressure(void **state)
{
	struct t *t = *state;
	uint8_t msg[3 * 14];

	for (int i = 0; i < 3; i++) {
		put_be32(msg + i * 14, 10);
		memset(msg + i * 14 + 4, 'a' + i, 10);
	}
	t->port.receive_ret = -EAGAIN;
	peer_write(t->peer, msg, sizeof(msg));
	run(t, 10);
	assert_int_equal(t->port.frames, 0);
	t->port.receive_ret = 0;
	t->b->ops->rx_resume(t->b);
	run(t, 10);
	/* all three, in order, none lost */
	assert_int_equal(t->port.frames, 3);
	assert_int_equal(t->port.last[0], 'c');
}

static void test_stream_tx_backpressure(void **state)
{
	struct t *t = *state;
	static uint8_t frame[60000];
	struct iovec iov = { frame, sizeof(frame) };
	unsigned sent = 0, got = 0;
	uint8_t *in = malloc(1 << 20);
	size_t have = 0;
	int r;

	/* the peer reads nothing: the socket fills, a tail is kept, then -EAGAIN */
	while ((r = t->b->ops->send(t->b, &iov, 1)) == 0) {
		frame[0] = (uint8_t)++sent;
		assert_true(sent < 1000);
	}
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(t->port.tx_resumes, 0);
	/* the peer drains; the backend finishes its frame and says so */
	fcntl(t->peer, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 200 && !t->port.tx_resumes; i++) {
		ssize_t n;

		while ((n = read(t->peer, in + have, (1 << 20) - have)) > 0) {
			have += (size_t)n;
			while (have >= 4 && have >= 4 + (size_t)(in[0] << 24 | in[1] << 16 |
								 in[2] << 8 | in[3])) {
				size_t len =
					(size_t)(in[0] << 24 | in[1] << 16 | in[2] << 8 | in[3]);

				/* every frame whole, in order: the framing survived */
				assert_int_equal(len, sizeof(frame));
				assert_int_equal(in[4], (uint8_t)got);
				got++;
				memmove(in, in + 4 + len, have - 4 - len);
				have -= 4 + len;
			}
		}
		run(t, 2);
	}
	assert_int_equal(t->port.tx_resumes, 1);
	for (int i = 0; i < 20; i++) {
		ssize_t n;

		while ((n = read(t->peer, in + have, (1 << 20) - have)) > 0)
			have += (size_t)n;
		run(t, 2);
	}
	while (have >= 4 + sizeof(frame)) {
		assert_int_equal(in[4], (uint8_t)got);
		got++;
		memmove(in, in + 4 + sizeof(frame), have - 4 - sizeof(frame));
		have -= 4 + sizeof(frame);
	}
	assert_int_equal(have, 0);
	assert_int_equal(got, sent);
	free(in);
}

static void test_stream_missing_path(void **state)
{
	struct net_config cfg = { .mode = NET_STREAM, .target = "/nonexistent/ign.sock" };
	struct net_backend *b = NULL;
	struct evloop *loop;
	struct errbuf e;

	assert_int_equal(evloop_create(&loop, &e), 0);
	assert_true(net_backend_open(&cfg, 0, loop, &b, &e) < 0);
	assert_non_null(strstr(e.msg, "--net stream=/nonexistent/ign.sock: cannot connect"));
	assert_null(strchr(e.msg, '\n'));
	evloop_destroy(loop);
}

/* ---- dgram ---- */

static ssize_t peer_recv(struct t *t, void *buf, size_t n, struct sockaddr_un *from)
{
	socklen_t fl = sizeof(*from);

	return recvfrom(t->listener, buf, n, MSG_DONTWAIT, (struct sockaddr *)from, &fl);
}

static void test_dgram_hello_and_frames(void **state)
{
	struct t *t = *state;
	struct sockaddr_un from;
	uint8_t buf[2000], f[1500];
	struct iovec iov[2] = { { f, 100 }, { f + 100, 1400 } };

	/* vfkit's greeting, from an address of our own next to the peer's */
	assert_int_equal(peer_recv(t, buf, sizeof(buf), &from), 4);
	assert_memory_equal(buf, "VFKT", 4);
	assert_non_null(strstr(from.sun_path, t->dir));
	/* one datagram per frame, both ways */
	fill(f, sizeof(f), 5);
	assert_int_equal(t->b->ops->send(t->b, iov, 2), 0);
	assert_int_equal(peer_recv(t, buf, sizeof(buf), &from), 1500);
	assert_memory_equal(buf, f, 1500);
	assert_int_equal(sendto(t->listener, f, 700, 0, (struct sockaddr *)&from, sizeof(from)),
			 700);
	assert_int_equal(sendto(t->listener, f, 60, 0, (struct sockaddr *)&from, sizeof(from)), 60);
	run(t, 10);
	assert_int_equal(t->port.frames, 2);
	assert_int_equal(t->port.last_len, 60);
}

static void test_dgram_rx_backpressure(void **state)
{
	struct t *t = *state;
	struct sockaddr_un from;
	uint8_t buf[64];

	assert_int_equal(peer_recv(t, buf, sizeof(buf), &from), 4);
	t->port.receive_ret = -EAGAIN;
	for (int i = 0; i < 3; i++) {
		memset(buf, 'a' + i, 20);
		sendto(t->listener, buf, 20, 0, (struct sockaddr *)&from, sizeof(from));
	}
	run(t, 10);
	assert_int_equal(t->port.frames, 0);
	t->port.receive_ret = 0;
	t->b->ops->rx_resume(t->b);
	run(t, 10);
	assert_int_equal(t->port.frames, 3);
	assert_int_equal(t->port.last[0], 'c');
}

static void test_dgram_peer_restarts(void **state)
{
	struct t *t = *state;
	struct sockaddr_un from;
	uint8_t buf[64], f[60] = { 1 };
	struct iovec iov = { f, sizeof(f) };

	assert_int_equal(peer_recv(t, buf, sizeof(buf), &from), 4);
	close(t->listener);
	unlink(t->path);
	/* a datagram peer never hangs up: the next send finds out */
	assert_true(t->b->ops->send(t->b, &iov, 1) < 0);
	assert_int_equal(t->port.link, 0);
	assert_int_equal(warnings, 1);
	run(t, 1200);
	assert_int_equal(warnings, 1);
	t->listener = bind_dgram(t->path);
	run(t, 1300);
	assert_int_equal(t->port.link, 1);
	/* greeted again, so the new peer knows where we are */
	assert_int_equal(peer_recv(t, buf, sizeof(buf), &from), 4);
	assert_memory_equal(buf, "VFKT", 4);
	assert_int_equal(t->b->ops->send(t->b, &iov, 1), 0);
	assert_int_equal(peer_recv(t, buf, sizeof(buf), &from), 60);
}

static void test_dgram_missing_path(void **state)
{
	struct net_config cfg = { .mode = NET_DGRAM, .target = "/tmp/ign-no-such-peer.sock" };
	struct net_backend *b = NULL;
	struct evloop *loop;
	struct errbuf e;

	assert_int_equal(evloop_create(&loop, &e), 0);
	assert_true(net_backend_open(&cfg, 0, loop, &b, &e) < 0);
	assert_non_null(strstr(e.msg, "--net dgram=/tmp/ign-no-such-peer.sock: cannot reach"));
	evloop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stream_split_reads, setup_stream, teardown),
		cmocka_unit_test_setup_teardown(test_stream_many_per_read, setup_stream, teardown),
		cmocka_unit_test_setup_teardown(test_stream_send, setup_stream, teardown),
		cmocka_unit_test_setup_teardown(test_stream_over_limit, setup_stream, teardown),
		cmocka_unit_test_setup_teardown(test_stream_peer_goes_and_comes_back, setup_stream,
						teardown),
		cmocka_unit_test_setup_teardown(test_stream_rx_backpressure, setup_stream,
						teardown),
		cmocka_unit_test_setup_teardown(test_stream_tx_backpressure, setup_stream,
						teardown),
		cmocka_unit_test(test_stream_missing_path),
		cmocka_unit_test_setup_teardown(test_dgram_hello_and_frames, setup_dgram, teardown),
		cmocka_unit_test_setup_teardown(test_dgram_rx_backpressure, setup_dgram, teardown),
		cmocka_unit_test_setup_teardown(test_dgram_peer_restarts, setup_dgram, teardown),
		cmocka_unit_test(test_dgram_missing_path),
	};

	log_set_hook(log_capture, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

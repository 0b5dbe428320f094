// SPDX-License-Identifier: MIT
/*
 * virtio-vsock and its unix-socket host side, driven by the tests' virtio driver: connections
 * both ways, data both ways, credit, shutdowns, RSTs, 1,024 connections, and a hostile guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio/virtio.h"
#include "tests/unit/virtio/vsock_harness.h"

static struct vt T;

static int setup_opts(void **state, const struct vt_opts *o)
{
	vt_setup(&T, o);
	*state = &T;
	return 0;
}

static int setup(void **state)
{
	struct vt_opts o = { .rx_buffers = 128 };

	return setup_opts(state, &o);
}

static int setup_fast_timeout(void **state)
{
	struct vt_opts o = { .rx_buffers = 128, .timeout_ms = 200 };

	return setup_opts(state, &o);
}

static int teardown(void **state)
{
	vt_teardown(&T);
	return 0;
}

/* Next packet for the guest, pumping the loop as needed; 0 when none comes. */
static int rx_next(struct vsock_hdr *h, void *data, size_t cap)
{
	for (int i = 0; i < 20; i++) {
		if (vt_rx(&T, h, data, cap))
			return 1;
		vt_pump(&T, 1);
	}
	return 0;
}

static void rx_expect(uint16_t op, struct vsock_hdr *h, void *data, size_t cap)
{
	assert_int_equal(rx_next(h, data, cap), 1);
	assert_int_equal(h->op, op);
	assert_int_equal(h->src_cid, 2);
	assert_int_equal(h->dst_cid, VT_CID);
	assert_int_equal(h->type, 1);
}

static void rx_none(void)
{
	struct vsock_hdr h;

	vt_pump(&T, 4);
	if (vt_rx(&T, &h, NULL, 0))
		fail_msg("unexpected packet op %u to port %u", h.op, h.dst_port);
}

/* Reads exactly len bytes from a host socket (waiting up to a second for each piece). */
static ssize_t host_read(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 1000) <= 0)
			break;
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return got ? (ssize_t)got : n;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* True when the host socket reads as ended (EOF or reset) within a second. */
static bool host_sees_end(int fd)
{
	char c;

	return host_read(fd, &c, 1) <= 0;
}

static void host_write(int fd, const void *buf, size_t len)
{
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
}

/* A guest connect() to host port `port` from guest port src; returns the accepted host end. */
static int guest_connect(int listener, uint32_t src, uint32_t port)
{
	struct vsock_hdr h = vt_hdr(src, port, VSOCK_OP_REQUEST, 0);
	int fd;

	vt_tx(&T, &h, NULL, 0);
	rx_expect(VSOCK_OP_RESPONSE, &h, NULL, 0);
	assert_int_equal(h.src_port, port);
	assert_int_equal(h.dst_port, src);
	fd = accept(listener, NULL, NULL);
	assert_true(fd >= 0);
	return fd;
}

/* A host connect through PATH to guest port `port`; returns the host socket, the host port. */
static int host_connect(uint32_t port, uint32_t *host_port, const char *extra)
{
	char line[64], want[64];
	struct vsock_hdr h;
	int fd = vt_unix_connect(T.path);
	int len;

	assert_true(fd >= 0);
	len = snprintf(line, sizeof(line), "CONNECT %u\n%s", port, extra ? extra : "");
	host_write(fd, line, (size_t)len);
	rx_expect(VSOCK_OP_REQUEST, &h, NULL, 0);
	assert_int_equal(h.dst_port, port);
	assert_true(h.src_port >= (1u << 30));
	assert_int_equal(h.buf_alloc, 256 * 1024);
	*host_port = h.src_port;
	h = vt_hdr(port, h.src_port, VSOCK_OP_RESPONSE, 0);
	vt_tx(&T, &h, NULL, 0);
	vt_pump(&T, 2);
	len = snprintf(want, sizeof(want), "OK %u\n", *host_port);
	memset(line, 0, sizeof(line));
	assert_int_equal(host_read(fd, line, (size_t)len), len);
	assert_string_equal(line, want);
	return fd;
}

static void test_config(void **state)
{
	uint8_t raw[44];
	struct vsock_hdr h;

	assert_int_equal(vdrv_read(&T.d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_VSOCK);
	assert_int_equal(vdrv_read_w(&T.d, VIRTIO_MMIO_CONFIG, 8), VT_CID);
	assert_int_equal(vdrv_read_w(&T.d, VIRTIO_MMIO_CONFIG, 4), VT_CID);
	assert_int_equal(vdrv_read_w(&T.d, VIRTIO_MMIO_CONFIG + 4, 4), 0);
	/* No SEQPACKET (feature bit 1): stream sockets only. */
	assert_false(vdrv_device_features(&T.d) & 2);
	/* Our encoding of the header agrees with the device's decoder field by field. */
	h = (struct vsock_hdr){ 0x1122334455667788ull,
				0x99aabbccddeeff00ull,
				0x01020304,
				0x05060708,
				0x090a0b0c,
				0x0d0e,
				0x0f10,
				0x11121314,
				0x15161718,
				0x191a1b1c };
	vt_hdr_put(raw, &h);
	{
		struct vsock_hdr back;

		vsock_hdr_decode(&back, raw);
		assert_memory_equal(&back, &h, sizeof(h));
		vsock_hdr_encode(raw, &back);
		vt_hdr_get(&back, raw);
		assert_memory_equal(&back, &h, sizeof(h));
	}
}

static void test_host_connect_and_data(void **state)
{
	char buf[64];
	uint32_t hp;
	struct vsock_hdr h;
	int fd = host_connect(1234, &hp, "hello");

	/* Bytes written right after the CONNECT line are data, not part of the line. */
	rx_expect(VSOCK_OP_RW, &h, buf, sizeof(buf));
	assert_int_equal(h.len, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(h.src_port, hp);
	assert_int_equal(h.dst_port, 1234);
	h = vt_hdr(1234, hp, VSOCK_OP_RW, 5);
	h.len = 6;
	vt_tx(&T, &h, "world!", 6);
	vt_pump(&T, 2);
	assert_int_equal(host_read(fd, buf, 6), 6);
	assert_memory_equal(buf, "world!", 6);
	/* Header and data in one descriptor work as well as in two. */
	T.tx_one_desc = true;
	h.len = 3;
	vt_tx(&T, &h, "abc", 3);
	vt_pump(&T, 2);
	assert_int_equal(host_read(fd, buf, 3), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(vt_mux_stats(&T).accepted, 1);
	close(fd);
}

static void test_host_connect_split_line(void **state)
{
	struct vsock_hdr h;
	int fd = vt_unix_connect(T.path);

	host_write(fd, "CONN", 4);
	vt_pump(&T, 2);
	rx_none();
	host_write(fd, "ECT 77\r\n", 8);
	rx_expect(VSOCK_OP_REQUEST, &h, NULL, 0);
	assert_int_equal(h.dst_port, 77);
	close(fd);
}

static void test_host_connect_bad_line(void **state)
{
	const char *bad[] = { "CONNECT\n",     "CONNECT x\n",
			      "connect 5\n",   "CONNECT 4294967296\n",
			      "CONNECT 5 6\n", "CONNECT 123456789012345678\n" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int fd = vt_unix_connect(T.path);

		host_write(fd, bad[i], strlen(bad[i]));
		vt_pump(&T, 3);
		assert_true(host_sees_end(fd));
		close(fd);
	}
	rx_none();
	assert_int_equal(vt_mux_stats(&T).bad_line, sizeof(bad) / sizeof(*bad));
	assert_int_equal(vt_mux_stats(&T).conns, 0);
}

static void test_host_connect_refused(void **state)
{
	struct vsock_hdr h;
	int fd = vt_unix_connect(T.path);
	char c;

	host_write(fd, "CONNECT 99\n", 11);
	rx_expect(VSOCK_OP_REQUEST, &h, NULL, 0);
	h = vt_hdr(99, h.src_port, VSOCK_OP_RST, 0);
	vt_tx(&T, &h, NULL, 0);
	vt_pump(&T, 2);
	/* No listener in the guest: closed, no reply. */
	assert_int_equal(host_read(fd, &c, 1), 0);
	assert_int_equal(vt_mux_stats(&T).conns, 0);
	close(fd);
}

static void test_guest_connect_and_data(void **state)
{
	char path[160], buf[64];
	struct vsock_hdr h;
	int lfd, fd;

	vt_port_path(&T, 5000, path, sizeof(path));
	lfd = vt_unix_listen(path);
	assert_true(lfd >= 0);
	fd = guest_connect(lfd, 40000, 5000);
	h = vt_hdr(40000, 5000, VSOCK_OP_RW, 0);
	h.len = 4;
	vt_tx(&T, &h, "ping", 4);
	vt_pump(&T, 2);
	assert_int_equal(host_read(fd, buf, 4), 4);
	assert_memory_equal(buf, "ping", 4);
	host_write(fd, "pong!", 5);
	rx_expect(VSOCK_OP_RW, &h, buf, sizeof(buf));
	assert_int_equal(h.len, 5);
	assert_memory_equal(buf, "pong!", 5);
	assert_int_equal(h.src_port, 5000);
	assert_int_equal(h.dst_port, 40000);
	assert_int_equal(h.fwd_cnt, 4); /* what reached the host socket */
	assert_int_equal(vt_mux_stats(&T).connected, 1);
	close(fd);
	close(lfd);
}

static void test_guest_connect_refused(void **state)
{
	char path[160];
	struct vsock_hdr h;
	int f;

	/* Nothing there; a regular file there: the guest gets ECONNRESET (an RST). */
	h = vt_hdr(40001, 5001, VSOCK_OP_REQUEST, 0);
	vt_tx(&T, &h, NULL, 0);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	assert_int_equal(h.src_port, 5001);
	assert_int_equal(h.dst_port, 40001);
	vt_port_path(&T, 5002, path, sizeof(path));
	f = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(f >= 0);
	close(f);
	h = vt_hdr(40002, 5002, VSOCK_OP_REQUEST, 0);
	vt_tx(&T, &h, NULL, 0);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	assert_int_equal(vt_mux_stats(&T).refused, 2);
	assert_int_equal(vt_mux_stats(&T).conns, 0);
}

/* Host to guest: never more than the guest's window; a CREDIT_UPDATE lets the rest through. */
static void test_credit_host_to_guest(void **state)
{
	static uint8_t out[20000], in[20000];
	char path[160];
	struct vsock_hdr h;
	uint32_t got = 0;
	bool asked = false;
	int lfd, fd;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 3);
	vt_port_path(&T, 5003, path, sizeof(path));
	lfd = vt_unix_listen(path);
	h = vt_hdr(40003, 5003, VSOCK_OP_REQUEST, 0);
	h.buf_alloc = 8192;
	vt_tx(&T, &h, NULL, 0);
	rx_expect(VSOCK_OP_RESPONSE, &h, NULL, 0);
	fd = accept(lfd, NULL, NULL);
	host_write(fd, out, sizeof(out));
	for (int round = 0; round < 3; round++) {
		while (rx_next(&h, in + got, sizeof(in) - got)) {
			if (h.op == VSOCK_OP_CREDIT_REQUEST) {
				asked = true;
				continue;
			}
			assert_int_equal(h.op, VSOCK_OP_RW);
			got += h.len;
		}
		/* The window is 8192 bytes and the guest forwarded `got` of them. */
		assert_int_equal(got, round < 2 ? 8192u * (round + 1) : sizeof(out));
		h = vt_hdr(40003, 5003, VSOCK_OP_CREDIT_UPDATE, got);
		h.buf_alloc = 8192;
		vt_tx(&T, &h, NULL, 0);
	}
	assert_true(asked);
	assert_memory_equal(in, out, sizeof(out));
	close(fd);
	close(lfd);
}

/*
 * Guest to host with a host peer that does not read: a guest keeping to its credit stops, the
 * VMM holds no more than the window it granted, and reading on the host brings credit back.
 */
static void test_credit_guest_to_host(void **state)
{
	static uint8_t chunk[32768], sink[65536];
	char path[160];
	struct vsock_hdr h;
	uint32_t sent = 0, host_fwd = 0, buf_alloc = 256 * 1024;
	uint64_t drained = 0;
	int lfd, fd, sndbuf = 16384;

	memset(chunk, 0x5a, sizeof(chunk));
	vt_port_path(&T, 5004, path, sizeof(path));
	lfd = vt_unix_listen(path);
	fd = guest_connect(lfd, 40004, 5004);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf));
	for (int i = 0; i < 200; i++) {
		uint32_t credit = buf_alloc - (sent - host_fwd);

		if (credit < sizeof(chunk))
			break;
		h = vt_hdr(40004, 5004, VSOCK_OP_RW, 0);
		h.len = sizeof(chunk);
		vt_tx(&T, &h, chunk, sizeof(chunk));
		sent += sizeof(chunk);
		vt_pump(&T, 2);
		while (vt_rx(&T, &h, NULL, 0))
			host_fwd = h.fwd_cnt;
	}
	/* The guest ran out of credit: the host socket holds some, the VMM the rest (<= window). */
	assert_true(sent - host_fwd <= buf_alloc);
	assert_true(sent - host_fwd > buf_alloc - sizeof(chunk));
	assert_true(sent < 8u * 1024 * 1024);
	/* The host reads: credit comes back as CREDIT_UPDATEs, and every byte arrives. */
	while (drained < sent) {
		ssize_t n = host_read(
			fd, sink, sizeof(sink) < sent - drained ? sizeof(sink) : sent - drained);

		assert_true(n > 0);
		for (ssize_t i = 0; i < n; i++)
			assert_int_equal(sink[i], 0x5a);
		drained += (uint64_t)n;
		vt_pump(&T, 2);
		while (vt_rx(&T, &h, NULL, 0))
			host_fwd = h.fwd_cnt;
	}
	/* Updates came as the window half-emptied; a CREDIT_REQUEST gets the exact count. */
	assert_true(sent - host_fwd <= buf_alloc / 2);
	h = vt_hdr(40004, 5004, VSOCK_OP_CREDIT_REQUEST, 0);
	vt_tx(&T, &h, NULL, 0);
	rx_expect(VSOCK_OP_CREDIT_UPDATE, &h, NULL, 0);
	assert_int_equal(h.fwd_cnt, sent);
	assert_int_equal(h.buf_alloc, buf_alloc);
	assert_int_equal(vt_mux_stats(&T).conn.credit_overrun, 0);
	/*
	 * A guest ignoring its credit: the window is counted against what really reached the
	 * socket, so beyond socket buffer + window it is reset, counted.
	 */
	for (uint32_t i = 0; i < 32; i++) {
		h = vt_hdr(40004, 5004, VSOCK_OP_RW, 0);
		h.len = sizeof(chunk);
		vt_tx(&T, &h, chunk, sizeof(chunk));
	}
	vt_pump(&T, 4);
	assert_int_equal(vt_mux_stats(&T).conn.credit_overrun, 1);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	assert_int_equal(vt_mux_stats(&T).conns, 0);
	close(fd);
	close(lfd);
}

/* Guest SHUTDOWN(SEND): the host reads the end but can still write; then the host closes. */
static void test_shutdown_guest_send(void **state)
{
	char path[160], buf[16];
	struct vsock_hdr h;
	int lfd, fd;

	vt_port_path(&T, 5005, path, sizeof(path));
	lfd = vt_unix_listen(path);
	fd = guest_connect(lfd, 40005, 5005);
	h = vt_hdr(40005, 5005, VSOCK_OP_RW, 0);
	h.len = 3;
	vt_tx(&T, &h, "bye", 3);
	h = vt_hdr(40005, 5005, VSOCK_OP_SHUTDOWN, 0);
	h.flags = VSOCK_SHUTDOWN_SEND;
	vt_tx(&T, &h, NULL, 0);
	vt_pump(&T, 2);
	assert_int_equal(host_read(fd, buf, 3), 3);
	assert_true(host_sees_end(fd));
	host_write(fd, "late", 4);
	rx_expect(VSOCK_OP_RW, &h, buf, sizeof(buf));
	assert_memory_equal(buf, "late", 4);
	close(fd);
	rx_expect(VSOCK_OP_SHUTDOWN, &h, NULL, 0);
	assert_int_equal(h.flags, VSOCK_SHUTDOWN_BOTH);
	h = vt_hdr(40005, 5005, VSOCK_OP_RST, 0);
	vt_tx(&T, &h, NULL, 0);
	vt_pump(&T, 2);
	assert_int_equal(vt_mux_stats(&T).conns, 0);
	rx_none();
	close(lfd);
}

/* Host shutdown(SHUT_WR): the guest hears SHUTDOWN(SEND), still sends; then the guest closes. */
static void test_shutdown_host_send(void **state)
{
	char buf[16];
	struct vsock_hdr h;
	uint32_t hp;
	int fd = host_connect(6000, &hp, NULL);

	host_write(fd, "req", 3);
	shutdown(fd, SHUT_WR);
	rx_expect(VSOCK_OP_RW, &h, buf, sizeof(buf));
	assert_int_equal(h.len, 3);
	rx_expect(VSOCK_OP_SHUTDOWN, &h, NULL, 0);
	assert_int_equal(h.flags, VSOCK_SHUTDOWN_SEND);
	h = vt_hdr(6000, hp, VSOCK_OP_RW, 3);
	h.len = 5;
	vt_tx(&T, &h, "reply", 5);
	h = vt_hdr(6000, hp, VSOCK_OP_SHUTDOWN, 3);
	h.flags = VSOCK_SHUTDOWN_BOTH;
	vt_tx(&T, &h, NULL, 0);
	/* Closing completes with our RST once the data reached the socket. */
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	assert_int_equal(h.dst_port, 6000);
	assert_int_equal(host_read(fd, buf, 5), 5);
	assert_memory_equal(buf, "reply", 5);
	assert_true(host_sees_end(fd));
	assert_int_equal(vt_mux_stats(&T).conns, 0);
	close(fd);
}

/* The host closes outright; the guest never answers: the deadline resets it. */
static void test_host_close_unanswered(void **state)
{
	struct vsock_hdr h;
	uint32_t hp;
	int fd = host_connect(6001, &hp, NULL);

	close(fd);
	rx_expect(VSOCK_OP_SHUTDOWN, &h, NULL, 0);
	assert_int_equal(h.flags, VSOCK_SHUTDOWN_BOTH);
	assert_int_equal(vt_mux_stats(&T).conns, 1);
	vt_run_for(&T, 500);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	assert_int_equal(vt_mux_stats(&T).conns, 0);
	assert_int_equal(vt_mux_stats(&T).expired, 1);
}

/* A guest that half-closes and never finishes, and a host peer that never sends CONNECT. */
static void test_unfinished_expire(void **state)
{
	char path[160];
	struct vsock_hdr h;
	int lfd, fd, idle;

	vt_port_path(&T, 5006, path, sizeof(path));
	lfd = vt_unix_listen(path);
	fd = guest_connect(lfd, 40006, 5006);
	idle = vt_unix_connect(T.path);
	/* Guest closes while the host peer does not read what it sent: no RST until flushed. */
	{
		static uint8_t big[65536];
		int small = 4096;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		/* The whole window: more than the socket's own buffer takes. */
		for (int i = 0; i < 4; i++) {
			h = vt_hdr(40006, 5006, VSOCK_OP_RW, 0);
			h.len = sizeof(big);
			vt_tx(&T, &h, big, sizeof(big));
		}
	}
	h = vt_hdr(40006, 5006, VSOCK_OP_SHUTDOWN, 0);
	h.flags = VSOCK_SHUTDOWN_BOTH;
	vt_tx(&T, &h, NULL, 0);
	vt_pump(&T, 4);
	while (vt_rx(&T, &h, NULL, 0))
		assert_int_not_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(vt_mux_stats(&T).conns, 2);
	vt_run_for(&T, 600);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	assert_int_equal(vt_mux_stats(&T).conns, 0);
	assert_int_equal(vt_mux_stats(&T).expired, 2);
	assert_true(host_sees_end(idle));
	close(idle);
	close(fd);
	close(lfd);
}

static void test_rst_unknown(void **state)
{
	struct vsock_hdr h;

	h = vt_hdr(41000, 7000, VSOCK_OP_RW, 0);
	h.len = 2;
	vt_tx(&T, &h, "xy", 2);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	assert_int_equal(h.src_port, 7000);
	assert_int_equal(h.dst_port, 41000);
	h = vt_hdr(41001, 7001, VSOCK_OP_SHUTDOWN, 0);
	vt_tx(&T, &h, NULL, 0);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	h = vt_hdr(41002, 7002, VSOCK_OP_CREDIT_UPDATE, 0);
	vt_tx(&T, &h, NULL, 0);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	h = vt_hdr(41003, 7003, VSOCK_OP_RESPONSE, 0);
	vt_tx(&T, &h, NULL, 0);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	/* An RST is never answered. */
	h = vt_hdr(41004, 7004, VSOCK_OP_RST, 0);
	vt_tx(&T, &h, NULL, 0);
	rx_none();
	assert_int_equal(vt_mux_stats(&T).no_conn, 4);
}

#define MANY 1024

static void test_1024_connections(void **state)
{
	static int fds[MANY];
	char path[160], buf[16];
	struct vsock_hdr h;
	int lfd;

	assert_true(vsock_mux_max_conns(T.mux) >= MANY);
	vt_port_path(&T, 8000, path, sizeof(path));
	lfd = vt_unix_listen(path);
	for (int i = 0; i < MANY; i++) {
		h = vt_hdr(20000 + i, 8000, VSOCK_OP_REQUEST, 0);
		vt_tx(&T, &h, NULL, 0);
		if (i % 64 == 63)
			vt_pump(&T, 2);
		while (vt_rx(&T, &h, NULL, 0)) {
			assert_int_equal(h.op, VSOCK_OP_RESPONSE);
			fds[h.dst_port - 20000] = accept(lfd, NULL, NULL);
		}
	}
	for (int k = 0; k < 20; k++) {
		vt_pump(&T, 2);
		while (vt_rx(&T, &h, NULL, 0)) {
			assert_int_equal(h.op, VSOCK_OP_RESPONSE);
			fds[h.dst_port - 20000] = accept(lfd, NULL, NULL);
		}
	}
	assert_int_equal(vt_mux_stats(&T).conns, MANY);
	/* Every connection carries its own bytes both ways. */
	for (int i = 0; i < MANY; i++) {
		int n = snprintf(buf, sizeof(buf), "g%d", i);

		assert_true(fds[i] > 0);
		h = vt_hdr(20000 + i, 8000, VSOCK_OP_RW, 0);
		h.len = (uint32_t)n;
		vt_tx(&T, &h, buf, (uint32_t)n);
	}
	vt_pump(&T, 16);
	for (int i = 0; i < MANY; i++) {
		char want[16], got[16] = { 0 };
		int n = snprintf(want, sizeof(want), "g%d", i);

		assert_int_equal(host_read(fds[i], got, (size_t)n), n);
		assert_string_equal(got, want);
		n = snprintf(want, sizeof(want), "h%d", i);
		host_write(fds[i], want, (size_t)n);
	}
	{
		int seen = 0;

		for (int k = 0; k < 64 && seen < MANY; k++) {
			char got[16] = { 0 }, want[16];

			vt_pump(&T, 1);
			while (vt_rx(&T, &h, got, sizeof(got) - 1)) {
				assert_int_equal(h.op, VSOCK_OP_RW);
				snprintf(want, sizeof(want), "h%u", h.dst_port - 20000);
				assert_string_equal(got, want);
				memset(got, 0, sizeof(got));
				seen++;
			}
		}
		assert_int_equal(seen, MANY);
	}
	for (int i = 0; i < MANY; i++)
		close(fds[i]);
	close(lfd);
}

/* The connection limit: beyond it, RST, counted, and nothing else changes. */
static int setup_small_limit(void **state)
{
	struct vt_opts o = { .rx_buffers = 128, .max_conns = 4 };

	return setup_opts(state, &o);
}

static void test_conn_limit(void **state)
{
	char path[160];
	struct vsock_hdr h;
	int lfd, fds[4];

	vt_port_path(&T, 8001, path, sizeof(path));
	lfd = vt_unix_listen(path);
	for (int i = 0; i < 4; i++)
		fds[i] = guest_connect(lfd, 30000 + i, 8001);
	h = vt_hdr(30004, 8001, VSOCK_OP_REQUEST, 0);
	vt_tx(&T, &h, NULL, 0);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	assert_int_equal(vt_mux_stats(&T).over_limit, 1);
	{
		int fd = vt_unix_connect(T.path);

		vt_pump(&T, 2);
		assert_true(host_sees_end(fd));
		close(fd);
	}
	assert_int_equal(vt_mux_stats(&T).over_limit, 2);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	close(lfd);
}

/* Everything a hostile guest can put in a header. */
static void test_hostile_headers(void **state)
{
	struct vsock_dev_stats ds;
	struct vsock_hdr h;
	uint8_t raw[44 + 16] = { 0 };

	/* Not our CID: dropped without a word. */
	h = vt_hdr(42000, 7100, VSOCK_OP_REQUEST, 0);
	h.src_cid = 4;
	vt_tx(&T, &h, NULL, 0);
	rx_none();
	/* Not the host: RST from the CID it asked for. */
	h = vt_hdr(42001, 7101, VSOCK_OP_REQUEST, 0);
	h.dst_cid = 7;
	vt_tx(&T, &h, NULL, 0);
	assert_int_equal(rx_next(&h, NULL, 0), 1);
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(h.src_cid, 7);
	/* Not a stream, unknown ops, lengths beyond the chain or the largest packet. */
	h = vt_hdr(42002, 7102, VSOCK_OP_REQUEST, 0);
	h.type = 2;
	vt_tx(&T, &h, NULL, 0);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	h = vt_hdr(42003, 7103, 0, 0);
	vt_tx(&T, &h, NULL, 0);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	h = vt_hdr(42004, 7104, 9, 0);
	vt_tx(&T, &h, NULL, 0);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	h = vt_hdr(42005, 7105, VSOCK_OP_RW, 0);
	h.len = 100;
	vt_tx(&T, &h, "only ten..", 10);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	h = vt_hdr(42006, 7106, VSOCK_OP_RW, 0);
	h.len = 0xffffffffu;
	vt_tx(&T, &h, "x", 1);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	/* Shorter than a header: dropped. */
	vt_tx_raw(&T, raw, 20);
	rx_none();
	ds = vt_dev_stats(&T);
	assert_int_equal(ds.bad_src_cid, 1);
	assert_int_equal(ds.bad_dst_cid, 1);
	assert_int_equal(ds.bad_type, 1);
	assert_int_equal(ds.bad_op, 2);
	assert_int_equal(ds.bad_len, 2);
	assert_int_equal(ds.short_header, 1);
	assert_int_equal(vt_mux_stats(&T).conns, 0);
}

/* Protocol violations on a live connection reset it. */
static void test_hostile_on_connection(void **state)
{
	char path[160];
	struct vsock_hdr h;
	int lfd, fd;

	vt_port_path(&T, 5007, path, sizeof(path));
	lfd = vt_unix_listen(path);
	/* A second REQUEST for a live connection. */
	fd = guest_connect(lfd, 40007, 5007);
	h = vt_hdr(40007, 5007, VSOCK_OP_REQUEST, 0);
	vt_tx(&T, &h, NULL, 0);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	assert_true(host_sees_end(fd));
	close(fd);
	/* Data after saying it would send no more. */
	fd = guest_connect(lfd, 40008, 5007);
	h = vt_hdr(40008, 5007, VSOCK_OP_SHUTDOWN, 0);
	h.flags = VSOCK_SHUTDOWN_SEND;
	vt_tx(&T, &h, NULL, 0);
	h = vt_hdr(40008, 5007, VSOCK_OP_RW, 0);
	h.len = 1;
	vt_tx(&T, &h, "z", 1);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	close(fd);
	/* A bad length on a live connection resets it at both ends. */
	fd = guest_connect(lfd, 40009, 5007);
	h = vt_hdr(40009, 5007, VSOCK_OP_RW, 0);
	h.len = 70000;
	vt_tx(&T, &h, "z", 1);
	rx_expect(VSOCK_OP_RST, &h, NULL, 0);
	assert_true(host_sees_end(fd));
	close(fd);
	assert_int_equal(vt_mux_stats(&T).conn.proto_error, 2);
	assert_int_equal(vt_mux_stats(&T).conns, 0);
	close(lfd);
}

/*
 * A flood of REQUESTs to ports nobody listens on, with no rx buffers: the answers queue up to
 * a bound and the rest are dropped (counted); afterwards the device works normally.
 */
static int setup_no_rx(void **state)
{
	struct vt_opts o = { 0 };

	return setup_opts(state, &o);
}

static void test_request_flood(void **state)
{
	struct vsock_hdr h;
	unsigned rsts = 0;
	char path[160];
	int lfd, fd;

	for (uint32_t i = 0; i < 20000; i++) {
		h = vt_hdr(50000 + i, 9000 + i % 100, VSOCK_OP_REQUEST, 0);
		vt_tx(&T, &h, NULL, 0);
	}
	vt_pump(&T, 8);
	assert_true(vt_mux_stats(&T).refused >= 20000);
	assert_true(vt_mux_stats(&T).rst_dropped + vt_dev_stats(&T).rst_dropped > 0);
	assert_int_equal(vt_mux_stats(&T).conns, 0);
	vt_rx_post(&T, 128);
	for (int k = 0; k < 200; k++) {
		vt_pump(&T, 1);
		while (vt_rx(&T, &h, NULL, 0)) {
			assert_int_equal(h.op, VSOCK_OP_RST);
			rsts++;
		}
	}
	assert_true(rsts >= 256 && rsts <= 20000);
	vt_port_path(&T, 5008, path, sizeof(path));
	lfd = vt_unix_listen(path);
	fd = guest_connect(lfd, 40010, 5008);
	close(fd);
	close(lfd);
}

/* No rx buffers: host bytes wait in the socket, whose writer then blocks; buffers drain it. */
static void test_no_rx_buffers(void **state)
{
	static uint8_t blob[1 << 20], in[1 << 20];
	char path[160];
	struct vsock_hdr h;
	size_t wrote = 0, got = 0;
	int lfd, fd;

	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i ^ (i >> 9));
	vt_rx_post(&T, 8);
	vt_port_path(&T, 5009, path, sizeof(path));
	lfd = vt_unix_listen(path);
	fd = guest_connect(lfd, 40011, 5009);
	T.rx_refill = false;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int k = 0; k < 50; k++) {
		ssize_t n = write(fd, blob + wrote, sizeof(blob) - wrote);

		if (n > 0)
			wrote += (size_t)n;
		vt_pump(&T, 2);
	}
	while (vt_rx(&T, &h, in + got, sizeof(in) - got))
		got += h.len;
	/* The 8 posted buffers took 8 * 4 KiB; the socket holds the rest and pushes back. */
	assert_int_equal(got, 8 * VT_RX_DATA);
	assert_true(wrote < sizeof(blob));
	T.rx_refill = true;
	vt_rx_post(&T, 128);
	for (int k = 0; k < 100000 && got < sizeof(blob); k++) {
		ssize_t n = write(fd, blob + wrote, sizeof(blob) - wrote);
		size_t before = got;

		if (n > 0)
			wrote += (size_t)n;
		vt_pump(&T, 1);
		while (vt_rx(&T, &h, in + got, sizeof(in) - got)) {
			assert_int_equal(h.op, VSOCK_OP_RW);
			got += h.len;
		}
		if (got != before) {
			/* The guest read it all: its window opens again. */
			h = vt_hdr(40011, 5009, VSOCK_OP_CREDIT_UPDATE, (uint32_t)got);
			vt_tx(&T, &h, NULL, 0);
		}
	}
	assert_int_equal(got, sizeof(blob));
	assert_memory_equal(in, blob, sizeof(blob));
	close(fd);
	close(lfd);
}

/* A driver reset forgets every connection: host peers see their end. */
static void test_reset(void **state)
{
	char path[160];
	uint32_t hp;
	int lfd, a, b;

	vt_port_path(&T, 5010, path, sizeof(path));
	lfd = vt_unix_listen(path);
	a = guest_connect(lfd, 40012, 5010);
	b = host_connect(6002, &hp, NULL);
	assert_int_equal(vt_mux_stats(&T).conns, 2);
	vdrv_write(&T.d, VIRTIO_MMIO_STATUS, 0);
	vt_pump(&T, 2);
	assert_int_equal(vt_mux_stats(&T).conns, 0);
	assert_true(host_sees_end(a));
	assert_true(host_sees_end(b));
	close(a);
	close(b);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_connect_and_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_connect_split_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_connect_bad_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_connect_and_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_host_to_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_guest_to_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_guest_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_host_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_close_unanswered, setup_fast_timeout,
						teardown),
		cmocka_unit_test_setup_teardown(test_unfinished_expire, setup_fast_timeout,
						teardown),
		cmocka_unit_test_setup_teardown(test_rst_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_1024_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conn_limit, setup_small_limit, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_on_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_flood, setup_no_rx, teardown),
		cmocka_unit_test_setup_teardown(test_no_rx_buffers, setup_no_rx, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

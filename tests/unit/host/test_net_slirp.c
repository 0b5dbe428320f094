// SPDX-License-Identifier: MIT
/*
 * --net user (libslirp) driven with hand-made guest frames: ARP for the gateway, DHCP gives
 * 10.0.2.15, a hostfwd port in use fails at start-up with one line, a connection to a hostfwd
 * port reaches the guest side (ARP for 10.0.2.15, then a SYN to the guest port), and an idle
 * NAT lets the loop sleep. The event loop runs on the test thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/net/net_backend.h"
#include "tests/unit/sock_compat.h"
#include "util/log.h"

#define MAX_FRAMES 16

struct t {
	struct evloop *loop;
	struct net_backend *b;
	struct net_config cfg;
	uint8_t frames[MAX_FRAMES][2048];
	size_t lens[MAX_FRAMES];
	unsigned nr;
	bool full; /* the device says -EAGAIN */
};

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static int port_receive(void *dev, const void *frame, size_t len)
{
	struct t *t = dev;

	if (t->full)
		return -EAGAIN;
	if (t->nr < MAX_FRAMES && len <= sizeof(t->frames[0])) {
		memcpy(t->frames[t->nr], frame, len);
		t->lens[t->nr++] = len;
	}
	return 0;
}

static void port_tx_resume(void *dev)
{
}

static void port_link(void *dev, bool up)
{
}

static int t_open(struct t *t, struct errbuf *e)
{
	int r = net_backend_open(&t->cfg, 0, t->loop, &t->b, e);

	if (r < 0)
		return r;
	t->b->port = (struct net_port){
		.receive = port_receive, .tx_resume = port_tx_resume, .link = port_link, .dev = t
	};
	return t->b->ops->start(t->b, e);
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct errbuf e;

	assert_int_equal(evloop_create(&t->loop, &e), 0);
	t->cfg.mode = NET_USER;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	if (t->b)
		t->b->ops->destroy(t->b);
	evloop_destroy(t->loop);
	free(t);
	return 0;
}

static void run(struct t *t, int ms)
{
	int64_t end = evloop_now_ms() + ms;

	do
		evloop_run_once(t->loop, 10);
	while (evloop_now_ms() < end);
}

static int send_frame(struct t *t, const uint8_t *f, size_t len)
{
	struct iovec iov = { (void *)f, len };

	return t->b->ops->send(t->b, &iov, 1);
}

static size_t eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
	return 14;
}

static size_t arp(uint8_t *f, uint16_t op, const uint8_t *tha, const char *spa, const char *tpa)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *a = f + eth(f, op == 1 ? bcast : tha, 0x0806);
	static const uint8_t head[8] = { 0, 1, 8, 0, 6, 4, 0, 0 };

	memcpy(a, head, 8);
	a[7] = (uint8_t)op;
	memcpy(a + 8, guest_mac, 6);
	inet_pton(AF_INET, spa, a + 14);
	memcpy(a + 18, tha, 6);
	inet_pton(AF_INET, tpa, a + 24);
	return 14 + 28;
}

static uint16_t ip_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The MSS option of a TCP header, or 0. */
static unsigned tcp_mss(const uint8_t *tcp)
{
	size_t len = (size_t)(tcp[12] >> 4) * 4;

	for (size_t i = 20; i < len;) {
		if (tcp[i] == 0)
			break;
		if (tcp[i] == 1) {
			i++;
			continue;
		}
		if (tcp[i] == 2 && tcp[i + 1] == 4)
			return (unsigned)(tcp[i + 2] << 8 | tcp[i + 3]);
		if (tcp[i + 1] < 2)
			break;
		i += tcp[i + 1];
	}
	return 0;
}

/* A frame for the guest's MAC (or broadcast) of the given ethertype, or -1. */
static int find_frame(struct t *t, uint16_t type, unsigned from)
{
	for (unsigned i = from; i < t->nr; i++)
		if ((t->frames[i][12] << 8 | t->frames[i][13]) == type)
			return (int)i;
	return -1;
}

static void test_arp_gateway(void **state)
{
	struct t *t = *state;
	static const uint8_t zero[6];
	uint8_t f[64] = { 0 }, ip[4];
	struct errbuf e;
	int i;

	assert_int_equal(t_open(t, &e), 0);
	assert_int_equal(send_frame(t, f, arp(f, 1, zero, "10.0.2.15", "10.0.2.2")), 0);
	run(t, 10);
	i = find_frame(t, 0x0806, 0);
	assert_true(i >= 0);
	/* a reply (op 2) from 10.0.2.2 to us */
	assert_int_equal(t->frames[i][14 + 7], 2);
	inet_pton(AF_INET, "10.0.2.2", ip);
	assert_memory_equal(t->frames[i] + 14 + 14, ip, 4);
	assert_memory_equal(t->frames[i], guest_mac, 6);
}

static void test_device_full_drops(void **state)
{
	struct t *t = *state;
	static const uint8_t zero[6];
	uint8_t f[64] = { 0 };
	struct errbuf e;

	assert_int_equal(t_open(t, &e), 0);
	t->full = true;
	/* the NAT cannot wait: the answer is dropped and counted, TCP would retransmit */
	assert_int_equal(send_frame(t, f, arp(f, 1, zero, "10.0.2.15", "10.0.2.2")), 0);
	run(t, 10);
	assert_int_equal(t->b->rx_dropped, 1);
	t->full = false;
	assert_int_equal(send_frame(t, f, arp(f, 1, zero, "10.0.2.15", "10.0.2.2")), 0);
	run(t, 10);
	assert_true(find_frame(t, 0x0806, 0) >= 0);
}

static void test_dhcp_gives_10_0_2_15(void **state)
{
	struct t *t = *state;
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t f[14 + 576] = { 0 }, *ip = f + 14, *udp = ip + 20, *bp = udp + 8, want[4];
	struct errbuf e;
	int i;

	assert_int_equal(t_open(t, &e), 0);
	eth(f, bcast, 0x0800);
	ip[0] = 0x45;
	ip[2] = 576 >> 8;
	ip[3] = 576 & 0xff;
	ip[8] = 64;
	ip[9] = 17;
	memset(ip + 16, 0xff, 4);
	{
		uint16_t c = ip_csum(ip, 20);

		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
	}
	udp[1] = 68;
	udp[3] = 67;
	udp[4] = (576 - 20) >> 8;
	udp[5] = (576 - 20) & 0xff;
	bp[0] = 1; /* BOOTREQUEST */
	bp[1] = 1;
	bp[2] = 6;
	memcpy(bp + 4, "\x12\x34\x56\x78", 4);
	memcpy(bp + 28, guest_mac, 6);
	memcpy(bp + 236, "\x63\x82\x53\x63", 4);
	memcpy(bp + 240, "\x35\x01\x01\xff", 4); /* DHCPDISCOVER, end */
	assert_int_equal(send_frame(t, f, sizeof(f)), 0);
	run(t, 10);
	i = find_frame(t, 0x0800, 0);
	assert_true(i >= 0);
	ip = t->frames[i] + 14;
	assert_int_equal(ip[9], 17);
	udp = ip + (ip[0] & 15) * 4;
	assert_int_equal(udp[0] << 8 | udp[1], 67);
	assert_int_equal(udp[2] << 8 | udp[3], 68);
	/* yiaddr */
	inet_pton(AF_INET, "10.0.2.15", want);
	assert_memory_equal(udp + 8 + 16, want, 4);
}

static uint16_t free_port(int *keep)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = tsock_socket(AF_INET, SOCK_STREAM | TSOCK_CLOEXEC);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	if (keep) {
		assert_int_equal(listen(fd, 1), 0);
		*keep = fd;
	} else {
		close(fd);
	}
	return ntohs(sa.sin_port);
}

static void test_hostfwd_port_in_use(void **state)
{
	struct t *t = *state;
	int busy;
	uint16_t port = free_port(&busy);
	struct errbuf e;
	char want[64];

	t->cfg.nr_hostfwd = 1;
	t->cfg.hostfwd[0] = (struct net_hostfwd){ .host_port = port, .guest_port = 22 };
	snprintf(t->cfg.hostfwd[0].host_addr, sizeof(t->cfg.hostfwd[0].host_addr), "127.0.0.1");
	assert_true(t_open(t, &e) < 0);
	t->b = NULL;
	snprintf(want, sizeof(want), "hostfwd=tcp:127.0.0.1:%u: cannot listen", port);
	assert_non_null(strstr(e.msg, want));
	assert_null(strchr(e.msg, '\n'));
	close(busy);
}

static void test_hostfwd_bad_address(void **state)
{
	struct t *t = *state;
	struct errbuf e;

	t->cfg.nr_hostfwd = 1;
	t->cfg.hostfwd[0] = (struct net_hostfwd){ .host_port = 1, .guest_port = 22 };
	snprintf(t->cfg.hostfwd[0].host_addr, sizeof(t->cfg.hostfwd[0].host_addr), "localhost");
	assert_true(t_open(t, &e) < 0);
	t->b = NULL;
	assert_non_null(strstr(e.msg, "not an IPv4 address"));
}

static void test_hostfwd_reaches_guest(void **state)
{
	struct t *t = *state;
	uint16_t port = free_port(NULL);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	uint8_t f[64] = { 0 }, want[4], *ip, *tcp;
	struct errbuf e;
	int fd, i, k;

	t->cfg.nr_hostfwd = 1;
	t->cfg.hostfwd[0] = (struct net_hostfwd){ .host_port = port, .guest_port = 2222 };
	snprintf(t->cfg.hostfwd[0].host_addr, sizeof(t->cfg.hostfwd[0].host_addr), "127.0.0.1");
	assert_int_equal(t_open(t, &e), 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = tsock_socket(AF_INET, SOCK_STREAM | TSOCK_NONBLOCK | TSOCK_CLOEXEC);
	connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	/* the NAT accepts on the loop and looks for the guest: ARP who-has 10.0.2.15 */
	for (k = 0; k < 100 && find_frame(t, 0x0806, 0) < 0; k++)
		run(t, 10);
	i = find_frame(t, 0x0806, 0);
	assert_true(i >= 0);
	inet_pton(AF_INET, "10.0.2.15", want);
	assert_int_equal(t->frames[i][14 + 7], 1);
	assert_memory_equal(t->frames[i] + 14 + 24, want, 4);
	/* we answer; the SYN to guest port 2222 follows */
	assert_int_equal(send_frame(t, f, arp(f, 2, t->frames[i] + 6, "10.0.2.15", "10.0.2.2")), 0);
	for (k = 0; k < 100 && find_frame(t, 0x0800, 0) < 0; k++)
		run(t, 10);
	i = find_frame(t, 0x0800, 0);
	assert_true(i >= 0);
	ip = t->frames[i] + 14;
	assert_int_equal(ip[9], 6);
	assert_memory_equal(ip + 16, want, 4);
	tcp = ip + (ip[0] & 15) * 4;
	assert_int_equal(tcp[2] << 8 | tcp[3], 2222);
	assert_true(tcp[13] & 0x02); /* SYN */
	/* the NAT offers segments as large as the backend's MTU (16384 - 40), not 1460 */
	assert_int_equal(t->b->mtu, 16384);
	assert_int_equal(tcp_mss(tcp), 16384 - 40);
	close(fd);
}

static void test_idle_sleeps(void **state)
{
	struct t *t = *state;
	struct errbuf e;
	int64_t t0;
	unsigned wakeups = 0;

	assert_int_equal(t_open(t, &e), 0);
	run(t, 50);
	/* an idle NAT wakes the loop at most about once a second (libslirp's timers) */
	t0 = evloop_now_ms();
	while (evloop_now_ms() - t0 < 2500) {
		evloop_run_once(t->loop, -1);
		wakeups++;
	}
	assert_true(wakeups <= 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_arp_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_full_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dhcp_gives_10_0_2_15, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostfwd_port_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostfwd_bad_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostfwd_reaches_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_sleeps, setup, teardown),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

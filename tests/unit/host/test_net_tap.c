// SPDX-License-Identifier: MIT
/*
 * --net tap against a real tap interface the test creates (root or CAP_NET_ADMIN; skipped with a
 * message otherwise): the kernel's ARP request for an address behind the tap reaches the port
 * with a virtio-net header in front, a frame we send is counted by the interface, offloads are
 * accepted, and a missing interface is one line before anything is created.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include <cmocka.h>

#include "devices/virtio/net.h"
#include "devices/virtio/virtio.h"
#include "host/net/net_backend.h"
#include "util/log.h"

struct t {
	char name[IFNAMSIZ];
	struct evloop *loop;
	struct net_backend *b;
	struct net_config cfg;
	uint8_t last[NET_VNET_HDR_LEN + 2048];
	size_t last_len;
	unsigned frames, arps;
};

static unsigned warnings;

static void log_capture(enum log_level level, const char *line, void *opaque)
{
	if (level <= LOG_WARN)
		warnings++;
}

static int port_receive(void *dev, const void *frame, size_t len)
{
	struct t *t = dev;
	const uint8_t *f = frame;

	t->frames++;
	if (len >= NET_VNET_HDR_LEN + 14 && f[NET_VNET_HDR_LEN + 12] == 0x08 &&
	    f[NET_VNET_HDR_LEN + 13] == 0x06) {
		t->arps++;
		t->last_len = len < sizeof(t->last) ? len : sizeof(t->last);
		memcpy(t->last, frame, t->last_len);
	}
	return 0;
}

static void port_tx_resume(void *dev)
{
}

static void port_link(void *dev, bool up)
{
}

/* A persistent tap of our own; false (and why) when this host does not let us. */
static bool tap_make(const char *name, bool persist, char *why, size_t whylen)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, whylen, "/dev/net/tun: %s", strerror(errno));
		return false;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, persist ? 1 : 0) < 0) {
		snprintf(why, whylen, "cannot create a tap: %s", strerror(errno));
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

static int if_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	r = ioctl(s, req, ifr);
	close(s);
	return r;
}

/* 10.99.<n>.1/24 on the tap, up. */
static void tap_address(const char *name, const char *addr)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin->sin_addr);
	assert_int_equal(if_ioctl(SIOCSIFADDR, &ifr), 0);
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	assert_int_equal(if_ioctl(SIOCSIFNETMASK, &ifr), 0);
	assert_int_equal(if_ioctl(SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(if_ioctl(SIOCSIFFLAGS, &ifr), 0);
}

static unsigned long tap_rx_packets(const char *name)
{
	char path[128];
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/rx_packets", name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%lu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	char why[128];
	struct errbuf e;

	snprintf(t->name, sizeof(t->name), "igntap%u", (unsigned)getpid() % 10000);
	if (!tap_make(t->name, true, why, sizeof(why))) {
		print_message("tap tests skipped: %s (needs root or CAP_NET_ADMIN)\n", why);
		free(t);
		*state = NULL;
		return 0;
	}
	assert_int_equal(evloop_create(&t->loop, &e), 0);
	t->cfg = (struct net_config){ .mode = NET_TAP, .target = t->name };
	assert_int_equal(net_backend_open(&t->cfg, 0, t->loop, &t->b, &e), 0);
	t->b->port = (struct net_port){
		.receive = port_receive, .tx_resume = port_tx_resume, .link = port_link, .dev = t
	};
	assert_int_equal(t->b->ops->start(t->b, &e), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	char why[128];

	if (!t)
		return 0;
	t->b->ops->destroy(t->b);
	evloop_destroy(t->loop);
	tap_make(t->name, false, why, sizeof(why));
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

static void test_tap_rx_arp_with_header(void **state)
{
	struct t *t = *state;
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(9) };
	int s;

	if (!t)
		skip();
	assert_true(t->b->vnet_hdr);
	tap_address(t->name, "10.99.77.1");
	inet_pton(AF_INET, "10.99.77.2", &dst.sin_addr);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	/* the kernel must resolve 10.99.77.2 first: an ARP request out of the tap */
	sendto(s, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&dst, sizeof(dst));
	for (int i = 0; i < 100 && !t->arps; i++)
		run(t, 10);
	close(s);
	assert_true(t->arps >= 1);
	/* a plain header (no offload) in front of a broadcast ARP request for 10.99.77.2 */
	assert_int_equal(t->last[0], 0);
	assert_int_equal(t->last[1], 0);
	assert_memory_equal(t->last + NET_VNET_HDR_LEN, "\xff\xff\xff\xff\xff\xff", 6);
	assert_memory_equal(t->last + NET_VNET_HDR_LEN + 14 + 24, "\x0a\x63\x4d\x02", 4);
}

static void test_tap_tx(void **state)
{
	struct t *t = *state;
	uint8_t hdr[NET_VNET_HDR_LEN] = { 0 }, frame[60] = { 0 };
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { frame, sizeof(frame) } };
	unsigned long before;

	if (!t)
		skip();
	tap_address(t->name, "10.99.78.1");
	memset(frame, 0xff, 6);
	memcpy(frame + 6, "\x52\x54\x00\x12\x34\x56", 6);
	frame[12] = 0x88;
	frame[13] = 0xb5; /* local experimental ethertype: the kernel counts and drops it */
	before = tap_rx_packets(t->name);
	for (int i = 0; i < 3; i++)
		assert_int_equal(t->b->ops->send(t->b, iov, 2), 0);
	assert_int_equal(tap_rx_packets(t->name), before + 3);
}

static void test_tap_offloads(void **state)
{
	struct t *t = *state;

	if (!t)
		skip();
	warnings = 0;
	t->b->ops->set_features(t->b, VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
					      VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) |
					      VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6));
	t->b->ops->set_features(t->b, 0);
	assert_int_equal(warnings, 0);
	assert_true(t->b->offloads & VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4));
}

static void test_tap_missing(void **state)
{
	struct net_config cfg = { .mode = NET_TAP, .target = "ignnosuch0" };
	struct net_backend *b;
	struct evloop *loop;
	struct errbuf e;

	assert_int_equal(evloop_create(&loop, &e), 0);
	assert_true(net_backend_open(&cfg, 0, loop, &b, &e) < 0);
	assert_non_null(strstr(e.msg, "--net tap=ignnosuch0: no such interface"));
	/* and nothing was created by trying */
	assert_int_equal(if_nametoindex("ignnosuch0"), 0);
	evloop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tap_rx_arp_with_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tap_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tap_offloads, setup, teardown),
		cmocka_unit_test(test_tap_missing),
	};

	log_set_hook(log_capture, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

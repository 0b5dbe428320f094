// SPDX-License-Identifier: MIT
/*
 * Each backend at work under the seccomp sandbox with exactly the rules net_backend_syscalls()
 * and net_backend_ioctls() give its mode (as vm.c installs them): a forbidden system call kills
 * the child with SIGSYS, so these are how the lists were found and how they stay right.
 * Each run forks: the filter cannot be taken off again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/if_tun.h>

#include "build_config.h"
#include "devices/virtio/net.h"
#include "devices/virtio/virtio.h"
#include "host/net/net_backend.h"
#include "util/log.h"
#include "vmm/sandbox.h"

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct child {
	struct evloop *loop;
	struct net_backend *b;
	unsigned frames;
	bool link;
};

static int c_receive(void *dev, const void *frame, size_t len)
{
	((struct child *)dev)->frames++;
	return 0;
}

static void c_tx_resume(void *dev)
{
}

static void c_link(void *dev, bool up)
{
	((struct child *)dev)->link = up;
}

static void run(struct child *c, int ms)
{
	int64_t end = evloop_now_ms() + ms;

	do
		evloop_run_once(c->loop, 10);
	while (evloop_now_ms() < end);
}

static int c_open(struct child *c, const struct net_config *cfg)
{
	struct errbuf e;

	if (evloop_create(&c->loop, &e) < 0 || net_backend_open(cfg, 0, c->loop, &c->b, &e) < 0)
		return -1;
	c->b->port = (struct net_port){
		.receive = c_receive, .tx_resume = c_tx_resume, .link = c_link, .dev = c
	};
	c->link = true;
	return c->b->ops->start(c->b, &e);
}

/* The backend's rules, plus what the test's own peer does in the child (test_extra). */
static int c_sandbox(enum net_mode mode, const char *const *test_extra)
{
	struct sandbox_rules rules = { .nr_syscalls = 0 };
	struct errbuf e;

	if (sandbox_allow_syscalls(&rules, net_backend_syscalls(mode)) < 0 ||
	    sandbox_allow_syscalls(&rules, test_extra) < 0 ||
	    sandbox_allow_ioctls(&rules, net_backend_ioctls(mode)) < 0)
		return -1;
	return sandbox_install(&rules, &e);
}

static int c_send(struct child *c, const uint8_t *f, size_t len)
{
	struct iovec iov = { (void *)f, len };

	return c->b->ops->send(c->b, &iov, 1);
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* A UDP datagram from the guest (10.0.2.15) to dst:port, as a frame to the gateway. */
static size_t udp_frame(uint8_t *f, const char *dst, uint16_t port, const void *data, size_t n)
{
	uint8_t *ip = f + 14, *udp = ip + 20;
	size_t iplen = 20 + 8 + n;
	uint16_t c;

	memset(f, 0, 14 + iplen);
	memcpy(f, "\x52\x55\x0a\x00\x02\x02", 6); /* libslirp's gateway MAC */
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, "10.0.2.15", ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[0] = 0x30;
	udp[1] = 0x39;
	udp[2] = (uint8_t)(port >> 8);
	udp[3] = (uint8_t)port;
	udp[4] = (uint8_t)((8 + n) >> 8);
	udp[5] = (uint8_t)(8 + n);
	memcpy(udp + 8, data, n);
	return 14 + iplen;
}

/* A TCP SYN from the guest to dst:port, checksummed over the pseudo-header. */
static size_t syn_frame(uint8_t *f, const char *dst, uint16_t port)
{
	uint8_t *ip = f + 14, *tcp = ip + 20, pseudo[12 + 20];
	uint16_t c;

	udp_frame(f, dst, port, "", 0);
	ip[3] = 40;
	ip[9] = 6;
	ip[10] = ip[11] = 0;
	c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	memset(tcp, 0, 20);
	tcp[0] = 0x30;
	tcp[1] = 0x3a;
	tcp[2] = (uint8_t)(port >> 8);
	tcp[3] = (uint8_t)port;
	tcp[7] = 1; /* seq */
	tcp[12] = 5 << 4;
	tcp[13] = 0x02; /* SYN */
	tcp[14] = 0xff;
	tcp[15] = 0xff;
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	pseudo[10] = 0;
	pseudo[11] = 20;
	memcpy(pseudo + 12, tcp, 20);
	c = csum(pseudo, sizeof(pseudo));
	tcp[16] = (uint8_t)(c >> 8);
	tcp[17] = (uint8_t)c;
	return 14 + 40;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	getsockname(fd, (struct sockaddr *)&sa, &sl);
	return ntohs(sa.sin_port);
}

static int inet_socket(int type)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd =
		socket(AF_INET, type | SOCK_CLOEXEC | (type == SOCK_STREAM ? SOCK_NONBLOCK : 0), 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

/* libslirp: ARP, DHCP-less UDP out through 10.0.2.2, DNS through 10.0.2.3, a hostfwd accept. */
static int child_user(void)
{
	struct net_config cfg = { .mode = NET_USER, .nr_hostfwd = 1 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct child c = { 0 };
	uint8_t f[256], got[16];
	int udp = inet_socket(SOCK_DGRAM), tmp = inet_socket(SOCK_STREAM), cl, srv, conn = -1;
	uint16_t fwd = bound_port(tmp);

	close(tmp);
	cfg.hostfwd[0] = (struct net_hostfwd){ .host_port = fwd, .guest_port = 22 };
	snprintf(cfg.hostfwd[0].host_addr, sizeof(cfg.hostfwd[0].host_addr), "127.0.0.1");
	srv = inet_socket(SOCK_STREAM);
	if (udp < 0 || srv < 0 || listen(srv, 2) < 0 || c_open(&c, &cfg) < 0 ||
	    c_sandbox(NET_USER, NULL) < 0)
		return 10;
	/* TCP from the guest to a server on the host's loopback, which then hangs up */
	if (c_send(&c, f, syn_frame(f, "10.0.2.2", bound_port(srv))) < 0)
		return 14;
	for (int i = 0; i < 50 && conn < 0; i++) {
		run(&c, 10);
		conn = accept(srv, NULL, NULL);
	}
	if (conn < 0)
		return 15;
	close(conn);
	run(&c, 100);
	/* UDP out to the host's loopback */
	if (c_send(&c, f, udp_frame(f, "10.0.2.2", bound_port(udp), "hello", 5)) < 0)
		return 11;
	run(&c, 100);
	{
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		unsigned before;

		if (recvfrom(udp, got, sizeof(got), MSG_DONTWAIT, (struct sockaddr *)&from, &fl) !=
			    5 ||
		    memcmp(got, "hello", 5))
			return 12;
		/* and the answer back into the guest */
		before = c.frames;
		sendto(udp, "world", 5, 0, (struct sockaddr *)&from, fl);
		run(&c, 100);
		if (c.frames == before)
			return 16;
	}
	/* a DNS query: forwarded to the host's resolver (no answer needed) */
	c_send(&c, f,
	       udp_frame(f, "10.0.2.3", 53,
			 "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00"
			 "\x00\x00\x01x\x00\x00\x01\x00\x01",
			 19));
	run(&c, 100);
	/* a host connection to the forwarded port: accepted, the guest is looked for */
	sa.sin_port = htons(fwd);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cl = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	connect(cl, (struct sockaddr *)&sa, sizeof(sa));
	run(&c, 200);
	if (!c.frames)
		return 13;
	close(cl);
	run(&c, 100);
	c.b->ops->destroy(c.b);
	return 0;
}

static int listen_unix(const char *path, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	if (type == SOCK_STREAM && listen(fd, 4) < 0)
		return -1;
	return fd;
}

/* stream: frames both ways, the peer goes away and comes back (a new socket, connect). */
static int child_stream(const char *path)
{
	struct net_config cfg = { .mode = NET_STREAM, .target = path };
	struct child c = { 0 };
	uint8_t f[64] = { 0 }, buf[128];
	int l = listen_unix(path, SOCK_STREAM), p;

	if (l < 0 || c_open(&c, &cfg) < 0)
		return 10;
	static const char *const peer_calls[] = { "accept", "accept4", NULL };

	p = accept(l, NULL, NULL);
	if (p < 0 || c_sandbox(NET_STREAM, peer_calls) < 0)
		return 11;
	if (c_send(&c, f, sizeof(f)) < 0 || read(p, buf, sizeof(buf)) != 68)
		return 12;
	buf[0] = buf[1] = 0;
	buf[2] = 0;
	buf[3] = 60;
	if (write(p, buf, 64) != 64)
		return 13;
	run(&c, 20);
	if (c.frames != 1)
		return 14;
	close(p);
	run(&c, 50);
	if (c.link)
		return 15;
	run(&c, 1200);
	p = accept(l, NULL, NULL);
	if (p < 0 || !c.link)
		return 16;
	c.b->ops->destroy(c.b);
	return 0;
}

/* dgram: hello, frames both ways, the peer restarts on its path, the bound path is removed. */
static int child_dgram(const char *path)
{
	struct net_config cfg = { .mode = NET_DGRAM, .target = path };
	struct sockaddr_un from;
	socklen_t fl = sizeof(from);
	struct child c = { 0 };
	uint8_t f[64] = { 0 }, buf[128];
	static const char *const peer_calls[] = { "recvfrom",  "sendto",     "bind", "access",
						  "faccessat", "faccessat2", NULL };
	int p = listen_unix(path, SOCK_DGRAM), p2 = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (p < 0 || p2 < 0 || c_open(&c, &cfg) < 0 || c_sandbox(NET_DGRAM, peer_calls) < 0)
		return 10;
	if (recvfrom(p, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) != 4)
		return 11;
	if (c_send(&c, f, sizeof(f)) < 0 || read(p, buf, sizeof(buf)) != 64)
		return 12;
	if (sendto(p, f, 60, 0, (struct sockaddr *)&from, fl) != 60)
		return 13;
	run(&c, 20);
	if (c.frames != 1)
		return 14;
	close(p);
	unlink(path);
	c_send(&c, f, sizeof(f));
	if (c.link)
		return 15;
	if (bind(p2, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 18;
	run(&c, 1200);
	if (!c.link)
		return 16;
	c.b->ops->destroy(c.b);
	return access(from.sun_path, F_OK) == 0 ? 17 : 0;
}

/* A persistent tap of our own (or its removal); false when this host does not let us. */
static bool tap_make(const char *name, bool persist)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ok = ioctl(fd, TUNSETIFF, &ifr) == 0 && ioctl(fd, TUNSETPERSIST, persist ? 1 : 0) == 0;
	close(fd);
	return ok;
}

/* tap: offloads switched on and off, a frame written, the loop reading. */
static int child_tap(const char *name)
{
	struct net_config cfg = { .mode = NET_TAP, .target = name };
	struct child c = { 0 };
	uint8_t f[NET_VNET_HDR_LEN + 60] = { 0 };

	if (c_open(&c, &cfg) < 0 || c_sandbox(NET_TAP, NULL) < 0)
		return 10;
	c.b->ops->set_features(c.b, VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
					    VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4));
	c.b->ops->set_features(c.b, 0);
	memset(f + NET_VNET_HDR_LEN, 0xff, 6);
	if (c_send(&c, f, sizeof(f)) < 0 && errno != EIO)
		return 11;
	run(&c, 20);
	c.b->ops->destroy(c.b);
	return 0;
}

static int run_child(int (*fn)(const char *), const char *arg)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		log_set_level(LOG_ERROR);
		_exit(fn(arg));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int user_wrap(const char *unused)
{
	return child_user();
}

static void expect_clean_exit(int status)
{
	if (WIFSIGNALED(status))
		fail_msg("child killed by signal %d (%s)", WTERMSIG(status),
			 WTERMSIG(status) == SIGSYS ? "a system call the list lacks" : "crash");
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_user_in_sandbox(void **state)
{
	if (!HAVE_SLIRP)
		skip();
	expect_clean_exit(run_child(user_wrap, NULL));
}

static void test_stream_in_sandbox(void **state)
{
	char path[64];

	snprintf(path, sizeof(path), "/tmp/ign-sbx-stream-%d.sock", (int)getpid());
	expect_clean_exit(run_child(child_stream, path));
	unlink(path);
}

static void test_dgram_in_sandbox(void **state)
{
	char path[64];

	snprintf(path, sizeof(path), "/tmp/ign-sbx-dgram-%d.sock", (int)getpid());
	expect_clean_exit(run_child(child_dgram, path));
	unlink(path);
}

static void test_tap_in_sandbox(void **state)
{
	char name[IFNAMSIZ];

	snprintf(name, sizeof(name), "ignsbx%u", (unsigned)getpid() % 10000);
	if (!tap_make(name, true)) {
		print_message("tap case skipped: cannot create a tap (needs CAP_NET_ADMIN)\n");
		skip();
	}
	expect_clean_exit(run_child(child_tap, name));
	tap_make(name, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_in_sandbox),
		cmocka_unit_test(test_stream_in_sandbox),
		cmocka_unit_test(test_dgram_in_sandbox),
		cmocka_unit_test(test_tap_in_sandbox),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

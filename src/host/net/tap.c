// SPDX-License-Identifier: MIT
/*
 * --net tap=IFNAME (Linux): an existing tap interface, opened IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR so frames carry the virtio-net header both ways and the guest's checksum and
 * segmentation offloads pass straight through. The header is 12 bytes (TUNSETVNETHDRSZ), the
 * size of virtio 1.x's; what the tap may hand us (TUNSETOFFLOAD) follows what the driver
 * accepted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/net/net_backend.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>

#include "devices/virtio/net.h"
#include "devices/virtio/virtio.h"
#include "util/log.h"

#define TAP_READS 64
#define TAP_BUF	  (NET_VNET_HDR_LEN + NET_FRAME_MAX)

struct net_tap {
	struct net_backend b;
	int fd;
	uint8_t *rbuf;
	size_t held; /* a frame the device said -EAGAIN to */
	bool tx_waiting;
};

static unsigned tap_events(const struct net_tap *t)
{
	return (t->held ? 0 : EV_IN) | (t->tx_waiting ? EV_OUT : 0);
}

static void tap_read(struct net_tap *t)
{
	for (int i = 0; i < TAP_READS && !t->held; i++) {
		ssize_t n = read(t->fd, t->rbuf, TAP_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				pr_warn_once("%s: read: %s", t->b.name, strerror(errno));
			return;
		}
		if ((size_t)n <= NET_VNET_HDR_LEN)
			continue;
		if (t->b.port.receive(t->b.port.dev, t->rbuf, (size_t)n) == -EAGAIN) {
			t->held = (size_t)n;
			evloop_mod_fd(t->b.loop, t->fd, tap_events(t));
		}
	}
}

static void tap_io(void *opaque, int fd, unsigned revents)
{
	struct net_tap *t = opaque;

	if ((revents & EV_OUT) && t->tx_waiting) {
		t->tx_waiting = false;
		evloop_mod_fd(t->b.loop, t->fd, tap_events(t));
		t->b.port.tx_resume(t->b.port.dev);
	}
	if (revents & (EV_IN | EV_HUP))
		tap_read(t);
}

static int tap_send(struct net_backend *b, const struct iovec *iov, unsigned iovcnt)
{
	struct net_tap *t = (struct net_tap *)b;
	ssize_t n;

	do {
		n = writev(t->fd, iov, (int)iovcnt);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return 0;
	if (errno == EAGAIN) {
		t->tx_waiting = true;
		evloop_mod_fd(t->b.loop, t->fd, tap_events(t));
		return -EAGAIN;
	}
	/* EIO while the interface is down, EINVAL for a header the kernel refuses: dropped. */
	return -errno;
}

static void tap_rx_resume(struct net_backend *b)
{
	struct net_tap *t = (struct net_tap *)b;

	if (!t->held || t->b.port.receive(t->b.port.dev, t->rbuf, t->held) == -EAGAIN)
		return;
	t->held = 0;
	evloop_mod_fd(t->b.loop, t->fd, tap_events(t));
}

static unsigned tap_offload_flags(uint64_t features)
{
	unsigned f = 0;

	if (!(features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	f |= TUN_F_CSUM;
	if (features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	return f;
}

/* What the guest accepts is what the tap may give us: partial checksums, large segments. */
static void tap_set_features(struct net_backend *b, uint64_t features)
{
	struct net_tap *t = (struct net_tap *)b;

	if (ioctl(t->fd, TUNSETOFFLOAD, tap_offload_flags(features)) < 0)
		pr_warn("%s: TUNSETOFFLOAD: %s", b->name, strerror(errno));
}

static int tap_start(struct net_backend *b, struct errbuf *e)
{
	struct net_tap *t = (struct net_tap *)b;
	int r = evloop_add_fd(b->loop, t->fd, EV_IN, tap_io, t);

	if (r < 0)
		return err_set(e, r, "%s: event loop: %s", b->name, strerror(-r));
	return 0;
}

static void tap_destroy(struct net_backend *b)
{
	struct net_tap *t = (struct net_tap *)b;

	if (t->fd >= 0) {
		evloop_del_fd(b->loop, t->fd);
		close(t->fd);
	}
	free(t->rbuf);
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.start = tap_start,
	.send = tap_send,
	.rx_resume = tap_rx_resume,
	.set_features = tap_set_features,
	.destroy = tap_destroy,
};

static int tap_setup(struct net_tap *t, const char *name, struct errbuf *e)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr = NET_VNET_HDR_LEN;

	if (strlen(name) >= IFNAMSIZ)
		return err_set(e, -EINVAL, "--net tap=%s: interface name too long", name);
	/* TUNSETIFF would create a missing tap for root: a typo must not make a new interface. */
	if (!if_nametoindex(name))
		return err_set(e, -ENODEV,
			       "--net tap=%s: no such interface (ip tuntap add dev %s mode tap "
			       "user $USER)",
			       name, name);
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0)
		return err_set(e, -errno, "--net tap=%s: /dev/net/tun: %s", name, strerror(errno));
	memcpy(ifr.ifr_name, name, strlen(name) + 1);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		int r = -errno;

		if (r == -EPERM || r == -EACCES)
			return err_set(e, r,
				       "--net tap=%s: no permission (the tap must belong to you: "
				       "ip tuntap add dev %s mode tap user $USER)",
				       name, name);
		return err_set(e, r, "--net tap=%s: %s (is it a tap, not a tun?)", name,
			       strerror(-r));
	}
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(t->fd, TUNSETOFFLOAD, 0) < 0)
		return err_set(e, -errno, "--net tap=%s: virtio-net headers: %s", name,
			       strerror(errno));
	return 0;
}

int net_tap_open(const struct net_config *cfg, struct evloop *loop, struct net_backend **bp,
		 struct errbuf *e)
{
	struct net_tap *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return err_set(e, -ENOMEM, "out of memory");
	t->b = (struct net_backend){
		.ops = &tap_ops,
		.loop = loop,
		.name = "tap",
		.vnet_hdr = true,
		.offloads =
			VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
			VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) |
			VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6),
	};
	t->fd = -1;
	t->rbuf = malloc(TAP_BUF);
	if (!t->rbuf) {
		tap_destroy(&t->b);
		return err_set(e, -ENOMEM, "out of memory");
	}
	r = tap_setup(t, cfg->target, e);
	if (r < 0) {
		tap_destroy(&t->b);
		return r;
	}
	*bp = &t->b;
	return 0;
}

/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_HOST_NET_BACKEND_H
#define IGNITION_HOST_NET_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "util/err.h"
#include "util/evloop.h"
#include "vmm/config.h"

/*
 * The host end of a NIC (slirp.c, tap.c, stream.c, dgram.c) and the device end (virtio/net.c)
 * meet here. The device never knows which backend it has; a backend never touches a ring.
 *
 * Everything below runs on the VM's event loop thread: the backend's descriptors, timers and
 * libslirp's polling are served there, and the device hands its guest->host frames over there
 * too (net.c explains why), so a backend needs no lock of its own.
 */

/* The largest Ethernet frame either way (64 KiB IP packet + header), virtio-net header excluded. */
#define NET_FRAME_MAX 65550u
/* struct virtio_net_hdr_v1: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers */
#define NET_VNET_HDR_LEN 12u

/* The device as a backend sees it. */
struct net_port {
	/*
	 * A frame for the guest; it starts with a virtio-net header when the backend has
	 * vnet_hdr. 0: taken (delivered, queued or dropped and counted by the device); -EAGAIN:
	 * not taken, the device's queue is full: keep the frame, stop reading, and offer it
	 * again when ops->rx_resume is called.
	 */
	int (*receive)(void *dev, const void *frame, size_t len);
	/* A send that returned -EAGAIN may be retried now. */
	void (*tx_resume)(void *dev);
	/* The peer went away (false) or came back (true). */
	void (*link)(void *dev, bool up);
	void *dev;
};

struct net_backend;

struct net_backend_ops {
	/*
	 * Starts I/O once b->port is set (registers descriptors with b->loop). Called before the
	 * loop thread runs.
	 */
	int (*start)(struct net_backend *b, struct errbuf *e);
	/*
	 * A guest frame (with the virtio-net header first when vnet_hdr). 0: sent, or dropped
	 * by the host; -EAGAIN: not taken, the host side is full: port.tx_resume follows.
	 */
	int (*send)(struct net_backend *b, const struct iovec *iov, unsigned iovcnt);
	/* The device takes frames again after receive returned -EAGAIN. */
	void (*rx_resume)(struct net_backend *b);
	/* The driver accepted these virtio-net features; optional (tap's offloads). */
	void (*set_features)(struct net_backend *b, uint64_t features);
	/* Unregisters from the loop (stopped by then, or this is the loop thread), frees. */
	void (*destroy)(struct net_backend *b);
};

/* What every backend starts with (embedded first in each backend's own struct). */
struct net_backend {
	const struct net_backend_ops *ops;
	struct evloop *loop;
	struct net_port port;
	const char *name; /* for log lines, e.g. "eth0 (stream /run/passt.sock)" */
	char name_buf[160];
	bool vnet_hdr; /* frames carry a virtio-net header both ways (tap with IFF_VNET_HDR) */
	uint64_t offloads; /* virtio-net features the backend can carry (CSUM, TSO...) */
	unsigned mtu; /* the largest IP packet it carries, told to the guest; 0: 1500 */
	uint64_t rx_dropped; /* frames the backend could not hand over and had to drop */
};

/* Opens the backend for one --net (index: eth<index>); one line in e when it cannot. */
int net_backend_open(const struct net_config *cfg, unsigned index, struct evloop *loop,
		     struct net_backend **b, struct errbuf *e);

int net_slirp_open(const struct net_config *cfg, struct evloop *loop, struct net_backend **b,
		   struct errbuf *e);
int net_tap_open(const struct net_config *cfg, struct evloop *loop, struct net_backend **b,
		 struct errbuf *e);
int net_stream_open(const struct net_config *cfg, struct evloop *loop, struct net_backend **b,
		    struct errbuf *e);
int net_dgram_open(const struct net_config *cfg, struct evloop *loop, struct net_backend **b,
		   struct errbuf *e);

/* The system calls (NULL-ended) and ioctls (0-ended) a running backend of this mode makes. */
const char *const *net_backend_syscalls(enum net_mode mode);
const unsigned long *net_backend_ioctls(enum net_mode mode);

/* macOS has no MSG_NOSIGNAL: net_socket() sets SO_NOSIGPIPE there instead. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* A non-blocking, close-on-exec socket that never raises SIGPIPE; -errno on failure. */
int net_socket(int domain, int type);

/* Sums the lengths of iov. */
size_t net_iov_len(const struct iovec *iov, unsigned iovcnt);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VIRTIO_NET_H
#define IGNITION_VIRTIO_NET_H

#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "host/net/net_backend.h"
#include "util/evloop.h"

/* virtio 1.2 §5.1 */
#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU	3
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_HOST_TSO4	11
#define VIRTIO_NET_F_HOST_TSO6	12
#define VIRTIO_NET_F_MRG_RXBUF	15
#define VIRTIO_NET_F_STATUS	16

#define VIRTIO_NET_S_LINK_UP 1u

#define VIRTIO_NET_CFG_MAC    0
#define VIRTIO_NET_CFG_STATUS 6
#define VIRTIO_NET_CFG_MTU    10
#define VIRTIO_NET_CFG_SIZE   12

#define VIRTIO_NET_RXQ	      0
#define VIRTIO_NET_TXQ	      1
#define VIRTIO_NET_QUEUE_SIZE 256u
#define VIRTIO_NET_MTU	      1500u
/* Host frames waiting for guest buffers: then the backend waits too (or drops: slirp). */
#define VIRTIO_NET_RX_QUEUE_FRAMES 64u
#define VIRTIO_NET_RX_QUEUE_BYTES  (512u * 1024)

struct virtio_net_params {
	unsigned index; /* eth<index>: names the device "virtio-net<index>" */
	uint8_t mac[6];
};

/* What happened to frames, for tests and the log at exit. */
struct virtio_net_stats {
	uint64_t tx_frames; /* handed to the backend */
	uint64_t tx_malformed; /* guest chains without a full header, or over NET_FRAME_MAX */
	uint64_t tx_errors; /* the backend refused them */
	uint64_t rx_frames; /* delivered to the guest */
	uint64_t rx_dropped; /* too large for the guest's buffers, or malformed from the backend */
	uint64_t rx_queued; /* waiting for guest buffers now */
	uint64_t rx_bad_buffers; /* RX chains the device could not write a header into */
	uint64_t ring_errors; /* broken rings (the device then needs a reset) */
};

struct virtio_net;

/*
 * Creates the device on backend b (owned from here, destroyed on failure too) and starts the
 * backend. Queue notifications and the backend's frames are handled on loop's thread.
 */
struct virtio_net *virtio_net_create(const struct virtio_net_params *p, struct net_backend *b,
				     struct evloop *loop, const struct guest_mem *gm,
				     struct irq_line *irq, struct errbuf *e);
struct virtio_mmio *virtio_net_mmio(struct virtio_net *n);
void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *s);

#endif

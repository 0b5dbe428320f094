/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VIRTIO_VSOCK_H
#define IGNITION_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/mmio.h"
#include "util/err.h"

/*
 * virtio-vsock (virtio 1.2 §5.10): the guest-facing half. The device owns the rings (rx 0, tx 1,
 * event 2), checks every guest packet's header once, answers what it refuses with RST, and hands
 * the rest to a host-side backend through vsock_backend_ops. The backend owns connections and
 * host sockets and never touches a ring; the device never knows what the backend is.
 *
 * Everything here runs on one event loop thread (struct evloop): queue notifications from vCPUs
 * only signal an event the loop waits on, so no vCPU ever waits for a socket.
 */
#define VIRTIO_ID_VSOCK 19

#define VSOCK_CID_HOST	  2u
#define VSOCK_HDR_SIZE	  44u
#define VSOCK_TYPE_STREAM 1u
/* The largest payload of one packet, in either direction (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PKT (64u * 1024)

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_SHUTDOWN_RCV  1u /* the sender will receive no more */
#define VSOCK_SHUTDOWN_SEND 2u /* the sender will send no more */
#define VSOCK_SHUTDOWN_BOTH (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)

/* struct virtio_vsock_hdr, decoded to host order. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};

void vsock_hdr_decode(struct vsock_hdr *h, const uint8_t raw[VSOCK_HDR_SIZE]);
void vsock_hdr_encode(uint8_t raw[VSOCK_HDR_SIZE], const struct vsock_hdr *h);

/* The device calls this (loop thread) when the backend may have packets for the guest. */
typedef void (*vsock_rx_ready_fn)(void *dev);

/* What the device asks of its host side. Every call is on the loop thread. */
struct vsock_backend_ops {
	/* Remember how to say "I have packets for the guest" (called once, at creation). */
	void (*attach)(void *be, vsock_rx_ready_fn rx_ready, void *dev);
	/*
	 * A guest packet for the host: src_cid is the guest's, dst_cid the host's, type STREAM,
	 * a known op, and exactly h->len (<= VSOCK_MAX_PKT) bytes of data in iov (guest RAM).
	 */
	void (*tx)(void *be, const struct vsock_hdr *h, const struct iovec *iov, unsigned n);
	/*
	 * The next packet for the guest: fills h and reads its data straight into iov, which has
	 * room for cap bytes (cap <= VSOCK_MAX_PKT). Returns 1 with a packet (h->len bytes of
	 * data), 0 when there is nothing to send now.
	 */
	int (*rx)(void *be, struct vsock_hdr *h, const struct iovec *iov, unsigned n, size_t cap);
	/* The driver reset the device: every connection is gone. */
	void (*reset)(void *be);
	void (*destroy)(void *be);
};

/* What the device refused or dropped, for tests and diagnostics (loop thread). */
struct vsock_dev_stats {
	uint64_t tx_packets;
	uint64_t rx_packets;
	uint64_t short_header; /* chain shorter than a header: dropped */
	uint64_t bad_src_cid; /* not the guest's own CID: dropped */
	uint64_t bad_dst_cid; /* not the host: RST */
	uint64_t bad_type; /* not STREAM: RST */
	uint64_t bad_len; /* len beyond the chain or VSOCK_MAX_PKT: RST */
	uint64_t bad_op; /* unknown op: RST */
	uint64_t rst_dropped; /* our RST queue was full */
	uint64_t small_rx_buf; /* an rx chain with no room for a header: returned empty */
};

struct evloop;

struct virtio_vsock_params {
	uint32_t guest_cid;
	struct evloop *loop;
	const struct vsock_backend_ops *be_ops;
	void *be; /* owned by the device from now on (destroyed with it, even on failure) */
};

struct virtio_vsock;

struct virtio_vsock *virtio_vsock_create(const struct virtio_vsock_params *p,
					 const struct guest_mem *gm, struct irq_line *irq,
					 struct errbuf *e);
/* The transport, which owns the device: virtio_mmio_destroy() frees both. */
struct virtio_mmio *virtio_vsock_mmio(struct virtio_vsock *v);

/* Loop thread (or with the loop stopped). */
void virtio_vsock_stats(const struct virtio_vsock *v, struct vsock_dev_stats *out);

#endif

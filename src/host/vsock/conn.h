/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_HOST_VSOCK_CONN_H
#define IGNITION_HOST_VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/vsock.h"

/*
 * One vsock stream between a guest port and a host unix socket: its state machine and both
 * directions' credit (virtio 1.2 §5.10.6.3).
 *
 * Guest to host: we advertise VSOCK_CONN_BUF bytes. What the host socket does not take at once
 * waits in a ring of at most that size, so a host peer that stops reading makes the guest's
 * credit run out, never our memory grow. A guest sending beyond its credit is reset.
 * Host to guest: socket bytes are read straight into guest rx buffers, never more than the
 * guest's advertised free space; when it has none, bytes wait in the socket.
 *
 * The muxer owns the socket's registration on the event loop; after every call it applies
 * vconn_events() and acts on the verdict.
 */
#define VSOCK_CONN_BUF (256u * 1024)
/* How long a connection may wait for the other side to finish a handshake or a close. */
#define VSOCK_CONN_TIMEOUT_MS 10000u

enum vconn_state {
	VCONN_LINE, /* host-initiated: reading "CONNECT <port>\n" (the muxer's business) */
	VCONN_REQUEST_SENT, /* host-initiated: REQUEST owed or sent to the guest, no answer yet */
	VCONN_ESTABLISHED,
};

/* Packets owed to the guest. */
enum {
	VCONN_P_REQUEST = 1u << 0,
	VCONN_P_RESPONSE = 1u << 1,
	VCONN_P_DATA = 1u << 2, /* the socket may have bytes (or its end) for the guest */
	VCONN_P_SHUTDOWN = 1u << 3,
	VCONN_P_CREDIT_UPDATE = 1u << 4,
	VCONN_P_CREDIT_REQUEST = 1u << 5,
};

enum vconn_verdict {
	VCONN_KEEP,
	VCONN_CLOSE, /* forget it silently (the guest already did) */
	VCONN_RESET, /* forget it and send the guest an RST */
};

struct vsock_conn_stats {
	uint64_t credit_overrun; /* guest sent beyond the credit we granted: reset */
	uint64_t proto_error; /* a packet the state does not allow: reset */
	uint64_t host_gone; /* the host peer hung up or failed */
};

struct vsock_conn {
	int fd;
	uint64_t guest_cid;
	uint32_t local_port; /* the host side's port */
	uint32_t peer_port; /* the guest side's port */
	enum vconn_state state;
	unsigned pending; /* VCONN_P_* */
	int64_t deadline; /* evloop_now_ms() clock; -1: none */
	unsigned timeout_ms; /* for handshakes and closes the other side never finishes */

	uint32_t shut_out; /* SHUTDOWN flags owed to the guest (cumulative) */
	uint32_t shut_sent; /* SHUTDOWN flags the guest has been sent */
	uint32_t guest_shut; /* SHUTDOWN flags the guest sent */
	bool host_eof; /* the socket reached its end: the host sends no more */
	bool host_gone; /* hung up or failed: nothing more can be written either */
	bool host_wr_shut; /* we shut the socket's write side (the guest sends no more) */

	/* Guest to host. */
	uint32_t recv_cnt; /* bytes the guest sent */
	uint32_t fwd_cnt; /* bytes written to the socket */
	uint32_t fwd_cnt_sent; /* fwd_cnt as last told to the guest */
	uint8_t *buf; /* ring of what the socket did not take yet */
	uint32_t buf_cap, buf_start, buf_len;

	/* Host to guest. */
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	uint32_t rx_cnt; /* bytes sent to the guest */
	bool credit_requested;

	/* The muxer's: its port table, its queue of connections with packets owed, all of them. */
	struct vsock_conn *hnext;
	struct vsock_conn *qnext, *qprev;
	struct vsock_conn *anext, *aprev;
	void *owner;
	bool hashed;
	bool queued;
	bool registered;
	unsigned events;
	char line[24];
	unsigned line_len;
};

void vconn_init(struct vsock_conn *c, int fd, uint64_t guest_cid, uint32_t local_port,
		uint32_t peer_port, enum vconn_state state);
/* Frees the ring; the muxer closes the socket. */
void vconn_fini(struct vsock_conn *c);

/* A checked guest packet addressed to this connection. */
enum vconn_verdict vconn_guest_pkt(struct vsock_conn *c, const struct vsock_hdr *h,
				   const struct iovec *iov, unsigned n, struct vsock_conn_stats *st,
				   int64_t now);

/* The socket is ready (EV_IN, EV_OUT, EV_HUP). */
enum vconn_verdict vconn_host_ready(struct vsock_conn *c, unsigned revents,
				    struct vsock_conn_stats *st, int64_t now);

/*
 * The next packet for the guest into h (data read into iov, at most cap bytes): 1 with a packet,
 * 0 when the connection has none now. The connection lives on either way.
 */
int vconn_rx(struct vsock_conn *c, struct vsock_hdr *h, const struct iovec *iov, unsigned n,
	     size_t cap, struct vsock_conn_stats *st, int64_t now);

/* EV_IN / EV_OUT the socket should be watched for now. */
unsigned vconn_events(const struct vsock_conn *c);

/* The guest may still take this many bytes. */
uint32_t vconn_peer_credit(const struct vsock_conn *c);

#endif

// SPDX-License-Identifier: MIT
/* One vsock connection: its state machine and credit (see conn.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/vsock/conn.h"
#include "util/compiler.h"
#include "util/evloop.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: the muxer sets SO_NOSIGPIPE on every socket instead */
#endif

void vconn_init(struct vsock_conn *c, int fd, uint64_t guest_cid, uint32_t local_port,
		uint32_t peer_port, enum vconn_state state)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->guest_cid = guest_cid;
	c->local_port = local_port;
	c->peer_port = peer_port;
	c->state = state;
	c->deadline = -1;
	c->timeout_ms = VSOCK_CONN_TIMEOUT_MS;
}

void vconn_fini(struct vsock_conn *c)
{
	free(c->buf);
	c->buf = NULL;
	c->buf_cap = c->buf_len = c->buf_start = 0;
}

uint32_t vconn_peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;

	/* A guest claiming to have forwarded more than it got gets nothing: its problem. */
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Sends without SIGPIPE: a vanished peer is an error return, not a signal. */
static ssize_t vconn_send(int fd, const struct iovec *iov, unsigned n)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };
	ssize_t r;

	do {
		r = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static bool would_block(ssize_t r)
{
	return r == -EAGAIN || r == -EWOULDBLOCK;
}

/* Grows the ring to hold `need` bytes (need <= VSOCK_CONN_BUF, which the credit check ensures). */
static int ring_reserve(struct vsock_conn *c, uint32_t need)
{
	uint32_t cap = c->buf_cap ? c->buf_cap : 4096;
	uint8_t *nb;

	if (need <= c->buf_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > VSOCK_CONN_BUF)
		cap = VSOCK_CONN_BUF;
	nb = malloc(cap);
	if (!nb)
		return -ENOMEM;
	/* Unwrap into the new ring. */
	for (uint32_t i = 0; i < c->buf_len; i++)
		nb[i] = c->buf[(c->buf_start + i) % c->buf_cap];
	free(c->buf);
	c->buf = nb;
	c->buf_cap = cap;
	c->buf_start = 0;
	return 0;
}

/* Appends iov's bytes after the first `skip` to the ring. */
static int ring_append(struct vsock_conn *c, const struct iovec *iov, unsigned n, size_t skip,
		       size_t total)
{
	uint32_t add = (uint32_t)(total - skip);
	int r = ring_reserve(c, c->buf_len + add);

	if (r < 0)
		return r;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		p += skip;
		len -= skip;
		skip = 0;
		while (len) {
			uint32_t tail = (c->buf_start + c->buf_len) % c->buf_cap;
			size_t chunk = min_u64(len, c->buf_cap - tail);

			memcpy(c->buf + tail, p, chunk);
			c->buf_len += (uint32_t)chunk;
			p += chunk;
			len -= chunk;
		}
	}
	return 0;
}

/* The guest's idea of our free space is getting small: tell it what we forwarded since. */
static void vconn_maybe_credit_update(struct vsock_conn *c)
{
	uint32_t seen_free = VSOCK_CONN_BUF - (c->recv_cnt - c->fwd_cnt_sent);

	if (c->fwd_cnt != c->fwd_cnt_sent && seen_free <= VSOCK_CONN_BUF / 2)
		c->pending |= VCONN_P_CREDIT_UPDATE;
}

/* Writes what the ring holds; 0, or a negative errno when the socket failed. */
static int ring_flush(struct vsock_conn *c)
{
	while (c->buf_len) {
		uint32_t first = min_u64(c->buf_len, c->buf_cap - c->buf_start);
		struct iovec iov[2] = {
			{ .iov_base = c->buf + c->buf_start, .iov_len = first },
			{ .iov_base = c->buf, .iov_len = c->buf_len - first },
		};
		ssize_t r = vconn_send(c->fd, iov, iov[1].iov_len ? 2 : 1);

		if (would_block(r))
			break;
		if (r <= 0)
			return r < 0 ? (int)r : -EPIPE;
		c->buf_start = (uint32_t)((c->buf_start + r) % c->buf_cap);
		c->buf_len -= (uint32_t)r;
		c->fwd_cnt += (uint32_t)r;
	}
	if (!c->buf_len) {
		/* Drained: give the memory back until the host peer falls behind again. */
		vconn_fini(c);
	}
	vconn_maybe_credit_update(c);
	return 0;
}

static void vconn_host_gone(struct vsock_conn *c, struct vsock_conn_stats *st, int64_t now)
{
	if (c->host_gone)
		return;
	c->host_gone = true;
	st->host_gone++;
	/* Nobody will read what the guest sent: drop it. */
	vconn_fini(c);
	c->deadline = now + c->timeout_ms;
	if (c->state != VCONN_ESTABLISHED)
		return;
	if (!c->host_eof && !(c->guest_shut & VSOCK_SHUTDOWN_RCV))
		c->pending |= VCONN_P_DATA; /* what the socket still holds, then its end */
	else
		c->shut_out |= VSOCK_SHUTDOWN_BOTH;
	if (c->shut_out & ~c->shut_sent)
		c->pending |= VCONN_P_SHUTDOWN;
}

/* After anything that may finish a direction: shut the socket's write side, or end it all. */
static enum vconn_verdict vconn_progress(struct vsock_conn *c, int64_t now)
{
	if ((c->guest_shut & VSOCK_SHUTDOWN_SEND) && !c->buf_len && !c->host_wr_shut &&
	    !c->host_gone) {
		shutdown(c->fd, SHUT_WR);
		c->host_wr_shut = true;
	}
	if (c->guest_shut == VSOCK_SHUTDOWN_BOTH) {
		/* The guest closed: once its bytes reached the socket, our RST completes it. */
		if (!c->buf_len || c->host_gone)
			return VCONN_RESET;
		if (c->deadline < 0)
			c->deadline = now + c->timeout_ms;
	}
	return VCONN_KEEP;
}

static enum vconn_verdict vconn_guest_rw(struct vsock_conn *c, const struct vsock_hdr *h,
					 const struct iovec *iov, unsigned n,
					 struct vsock_conn_stats *st, int64_t now)
{
	ssize_t sent = 0;

	if (c->state != VCONN_ESTABLISHED || (c->guest_shut & VSOCK_SHUTDOWN_SEND)) {
		st->proto_error++;
		return VCONN_RESET;
	}
	if (!h->len)
		return VCONN_KEEP;
	if ((uint64_t)(c->recv_cnt - c->fwd_cnt) + h->len > VSOCK_CONN_BUF) {
		st->credit_overrun++;
		return VCONN_RESET;
	}
	if (c->host_gone || c->host_wr_shut)
		return VCONN_RESET; /* nobody left to read it */
	c->recv_cnt += h->len;
	if (!c->buf_len) {
		sent = vconn_send(c->fd, iov, n);
		if (would_block(sent)) {
			sent = 0;
		} else if (sent < 0) {
			vconn_host_gone(c, st, now);
			return VCONN_RESET;
		}
		c->fwd_cnt += (uint32_t)sent;
	}
	if ((size_t)sent < h->len && ring_append(c, iov, n, (size_t)sent, h->len) < 0)
		return VCONN_RESET;
	vconn_maybe_credit_update(c);
	return VCONN_KEEP;
}

/* A host-initiated connection was accepted: tell the host peer its port, as Firecracker does. */
static enum vconn_verdict vconn_guest_response(struct vsock_conn *c, struct vsock_conn_stats *st,
					       int64_t now)
{
	char line[24];
	int len;
	struct iovec iov;

	if (c->state != VCONN_REQUEST_SENT || (c->pending & VCONN_P_REQUEST)) {
		st->proto_error++;
		return VCONN_RESET;
	}
	len = snprintf(line, sizeof(line), "OK %u\n", c->local_port);
	iov = (struct iovec){ .iov_base = line, .iov_len = (size_t)len };
	/* The socket is new and empty: a short write means it is gone. */
	if (vconn_send(c->fd, &iov, 1) != len) {
		vconn_host_gone(c, st, now);
		return VCONN_RESET;
	}
	c->state = VCONN_ESTABLISHED;
	c->deadline = -1;
	return VCONN_KEEP;
}

enum vconn_verdict vconn_guest_pkt(struct vsock_conn *c, const struct vsock_hdr *h,
				   const struct iovec *iov, unsigned n, struct vsock_conn_stats *st,
				   int64_t now)
{
	uint32_t had = vconn_peer_credit(c);

	/* Every packet carries the guest's receive window. */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (!had && vconn_peer_credit(c)) {
		c->credit_requested = false;
		if (c->state == VCONN_ESTABLISHED && !c->host_eof)
			c->pending |= VCONN_P_DATA;
	}
	switch (h->op) {
	case VSOCK_OP_RST:
		return VCONN_CLOSE;
	case VSOCK_OP_RESPONSE:
		return vconn_guest_response(c, st, now);
	case VSOCK_OP_RW:
		return vconn_guest_rw(c, h, iov, n, st, now);
	case VSOCK_OP_SHUTDOWN:
		if (c->state != VCONN_ESTABLISHED) {
			st->proto_error++;
			return VCONN_RESET;
		}
		c->guest_shut |= h->flags & VSOCK_SHUTDOWN_BOTH;
		if (c->guest_shut & VSOCK_SHUTDOWN_RCV)
			c->pending &= ~VCONN_P_DATA;
		return vconn_progress(c, now);
	case VSOCK_OP_CREDIT_REQUEST:
		c->pending |= VCONN_P_CREDIT_UPDATE;
		return VCONN_KEEP;
	case VSOCK_OP_CREDIT_UPDATE:
		return VCONN_KEEP;
	default: /* REQUEST on a live connection */
		st->proto_error++;
		return VCONN_RESET;
	}
}

/*
 * A hang-up is only believed when the socket still says so: an event from a batch in which
 * the descriptor number was closed and reused would otherwise end a new connection.
 */
static bool vconn_really_hung_up(int fd)
{
	struct pollfd p = { .fd = fd };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

enum vconn_verdict vconn_host_ready(struct vsock_conn *c, unsigned revents,
				    struct vsock_conn_stats *st, int64_t now)
{
	if ((revents & EV_HUP) && vconn_really_hung_up(c->fd)) {
		vconn_host_gone(c, st, now);
		return vconn_progress(c, now);
	}
	if ((revents & EV_IN) && c->state == VCONN_ESTABLISHED)
		c->pending |= VCONN_P_DATA;
	if ((revents & EV_OUT) && c->buf_len) {
		if (ring_flush(c) < 0) {
			vconn_host_gone(c, st, now);
			return VCONN_RESET;
		}
		return vconn_progress(c, now);
	}
	return VCONN_KEEP;
}

/* iov limited to its first len bytes, into out (n entries at most). */
static unsigned iov_prefix(const struct iovec *iov, unsigned n, size_t len, struct iovec *out)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len; i++) {
		out[k] = iov[i];
		if (out[k].iov_len > len)
			out[k].iov_len = len;
		len -= out[k].iov_len;
		k++;
	}
	return k;
}

/* Reads socket bytes into the guest's buffer: 1 with data in h, 0 when none came. */
static int vconn_rx_data(struct vsock_conn *c, struct vsock_hdr *h, const struct iovec *iov,
			 unsigned n, size_t cap, struct vsock_conn_stats *st, int64_t now)
{
	struct iovec part[64];
	uint32_t credit = vconn_peer_credit(c);
	ssize_t r;
	unsigned k;

	if (!credit) {
		/* Bytes wait in the socket; ask once, the guest's update re-arms us. */
		c->pending &= ~VCONN_P_DATA;
		if (!c->credit_requested) {
			c->credit_requested = true;
			c->pending |= VCONN_P_CREDIT_REQUEST;
		}
		return 0;
	}
	k = iov_prefix(iov, n < 64 ? n : 64, min_u64(cap, credit), part);
	do {
		r = readv(c->fd, part, (int)k);
	} while (r < 0 && errno == EINTR);
	if (r > 0) {
		h->op = VSOCK_OP_RW;
		h->len = (uint32_t)r;
		c->rx_cnt += (uint32_t)r;
		return 1;
	}
	c->pending &= ~VCONN_P_DATA;
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (r < 0)
		vconn_host_gone(c, st, now);
	/* The end of what the host sends. */
	c->host_eof = true;
	c->shut_out |= VSOCK_SHUTDOWN_SEND | (c->host_gone ? VSOCK_SHUTDOWN_RCV : 0);
	c->pending |= VCONN_P_SHUTDOWN;
	c->pending &= ~VCONN_P_DATA;
	return 0;
}

int vconn_rx(struct vsock_conn *c, struct vsock_hdr *h, const struct iovec *iov, unsigned n,
	     size_t cap, struct vsock_conn_stats *st, int64_t now)
{
	int got = 0;

	*h = (struct vsock_hdr){
		.src_cid = VSOCK_CID_HOST,
		.dst_cid = c->guest_cid,
		.src_port = c->local_port,
		.dst_port = c->peer_port,
		.type = VSOCK_TYPE_STREAM,
	};
	if (c->pending & VCONN_P_REQUEST) {
		c->pending &= ~VCONN_P_REQUEST;
		h->op = VSOCK_OP_REQUEST;
		got = 1;
	} else if (c->pending & VCONN_P_RESPONSE) {
		c->pending &= ~VCONN_P_RESPONSE;
		h->op = VSOCK_OP_RESPONSE;
		got = 1;
	}
	if (!got && (c->pending & VCONN_P_DATA)) {
		if (c->state == VCONN_ESTABLISHED && !(c->guest_shut & VSOCK_SHUTDOWN_RCV))
			got = vconn_rx_data(c, h, iov, n, cap, st, now);
		else
			c->pending &= ~VCONN_P_DATA;
	}
	if (!got && (c->pending & VCONN_P_SHUTDOWN)) {
		c->pending &= ~VCONN_P_SHUTDOWN;
		h->op = VSOCK_OP_SHUTDOWN;
		h->flags = c->shut_out;
		c->shut_sent = c->shut_out;
		/* Both ends said all: the guest answers with RST, or the deadline does. */
		if (c->shut_sent == VSOCK_SHUTDOWN_BOTH && c->deadline < 0)
			c->deadline = now + c->timeout_ms;
		got = 1;
	}
	if (!got && (c->pending & VCONN_P_CREDIT_UPDATE)) {
		h->op = VSOCK_OP_CREDIT_UPDATE;
		got = 1;
	}
	if (!got && (c->pending & VCONN_P_CREDIT_REQUEST)) {
		c->pending &= ~VCONN_P_CREDIT_REQUEST;
		h->op = VSOCK_OP_CREDIT_REQUEST;
		got = 1;
	}
	if (!got)
		return 0;
	/* Every packet carries our window, so no separate update is owed any more. */
	h->buf_alloc = VSOCK_CONN_BUF;
	h->fwd_cnt = c->fwd_cnt;
	c->fwd_cnt_sent = c->fwd_cnt;
	c->pending &= ~VCONN_P_CREDIT_UPDATE;
	return 1;
}

unsigned vconn_events(const struct vsock_conn *c)
{
	unsigned ev = 0;

	if (c->state == VCONN_LINE)
		return EV_IN;
	if (c->state != VCONN_ESTABLISHED || c->host_gone)
		return 0;
	if (!(c->pending & VCONN_P_DATA) && !c->host_eof && !(c->guest_shut & VSOCK_SHUTDOWN_RCV) &&
	    vconn_peer_credit(c))
		ev |= EV_IN;
	if (c->buf_len)
		ev |= EV_OUT;
	return ev;
}

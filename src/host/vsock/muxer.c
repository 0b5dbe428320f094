// SPDX-License-Identifier: MIT
/*
 * The unix-socket side of virtio-vsock (see muxer.h): the listening socket, CONNECT lines,
 * PATH_P connections, the port table, and the order in which connections get rx buffers.
 * Everything runs on the event loop thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/vsock/muxer.h"
#include "host/vsock/unix.h"
#include "util/evloop.h"

#define MUX_BUCKETS	    4096u
#define MUX_RST_QUEUE	    4096u
#define MUX_ACCEPT_BATCH    64
#define MUX_FIRST_HOST_PORT (1u << 30) /* where Firecracker starts too */
#define MUX_SWEEP_MS	    100
/* Descriptors kept for everything else the VMM has open (disks, console, events, ...). */
#define MUX_FD_RESERVE 256u

struct mux_rst {
	uint32_t local_port;
	uint32_t peer_port;
};

struct vsock_mux {
	struct evloop *loop;
	uint64_t guest_cid;
	char *path;
	int listen_fd;
	bool listen_paused; /* out of descriptors: accept again when a connection closes */
	unsigned max_conns;
	unsigned timeout_ms;
	uint32_t next_port;

	vsock_rx_ready_fn rx_ready;
	void *dev;
	bool in_rx;

	struct vsock_conn *table[MUX_BUCKETS];
	struct vsock_conn *all;
	struct vsock_conn *qhead, *qtail;
	struct ev_timer *sweep;
	bool sweep_armed;

	struct mux_rst rsts[MUX_RST_QUEUE];
	unsigned rst_head, rst_count;
	struct vsock_mux_stats st;
};

const char *const vsock_mux_syscalls[] = {
	"accept4", "socket", "connect", "recvfrom", "sendmsg", "shutdown", NULL,
};

static unsigned mux_bucket(uint32_t local_port, uint32_t peer_port)
{
	uint32_t h = local_port * 0x9e3779b1u ^ peer_port * 0x85ebca6bu;

	return (h ^ (h >> 16)) % MUX_BUCKETS;
}

static struct vsock_conn *mux_lookup(struct vsock_mux *m, uint32_t local_port, uint32_t peer_port)
{
	struct vsock_conn *c = m->table[mux_bucket(local_port, peer_port)];

	while (c && (c->local_port != local_port || c->peer_port != peer_port))
		c = c->hnext;
	return c;
}

static void mux_hash(struct vsock_mux *m, struct vsock_conn *c)
{
	unsigned b = mux_bucket(c->local_port, c->peer_port);

	c->hnext = m->table[b];
	m->table[b] = c;
	c->hashed = true;
}

static void mux_unhash(struct vsock_mux *m, struct vsock_conn *c)
{
	struct vsock_conn **pp = &m->table[mux_bucket(c->local_port, c->peer_port)];

	if (!c->hashed)
		return;
	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	c->hashed = false;
}

static void mux_enqueue(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->queued)
		return;
	c->queued = true;
	c->qnext = NULL;
	c->qprev = m->qtail;
	if (m->qtail)
		m->qtail->qnext = c;
	else
		m->qhead = c;
	m->qtail = c;
}

static void mux_dequeue(struct vsock_mux *m, struct vsock_conn *c)
{
	if (!c->queued)
		return;
	if (c->qprev)
		c->qprev->qnext = c->qnext;
	else
		m->qhead = c->qnext;
	if (c->qnext)
		c->qnext->qprev = c->qprev;
	else
		m->qtail = c->qprev;
	c->queued = false;
}

static void mux_rx_ready(struct vsock_mux *m)
{
	if (m->rx_ready && !m->in_rx)
		m->rx_ready(m->dev);
}

static void mux_queue_rst(struct vsock_mux *m, uint32_t local_port, uint32_t peer_port)
{
	if (m->rst_count == MUX_RST_QUEUE) {
		m->st.rst_dropped++;
		return;
	}
	m->rsts[(m->rst_head + m->rst_count++) % MUX_RST_QUEUE] =
		(struct mux_rst){ .local_port = local_port, .peer_port = peer_port };
	mux_rx_ready(m);
}

static void mux_listen_resume(struct vsock_mux *m);

static void mux_conn_free(struct vsock_mux *m, struct vsock_conn *c, bool rst)
{
	/* The guest heard of a connection once its REQUEST went out or it sent one. */
	if (rst && c->state != VCONN_LINE &&
	    !(c->state == VCONN_REQUEST_SENT && (c->pending & VCONN_P_REQUEST)))
		mux_queue_rst(m, c->local_port, c->peer_port);
	mux_unhash(m, c);
	mux_dequeue(m, c);
	if (c->aprev)
		c->aprev->anext = c->anext;
	else
		m->all = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	if (c->registered)
		evloop_del_fd(m->loop, c->fd);
	close(c->fd);
	vconn_fini(c);
	free(c);
	m->st.conns--;
	if (m->listen_paused)
		mux_listen_resume(m);
}

static void mux_arm_sweep(struct vsock_mux *m)
{
	if (m->sweep_armed)
		return;
	m->sweep_armed = true;
	ev_timer_arm(m->sweep, evloop_now_ms() + MUX_SWEEP_MS);
}

/* After every change to c: watch what it needs, queue what it owes, or let it go. */
static void mux_conn_apply(struct vsock_mux *m, struct vsock_conn *c, enum vconn_verdict v)
{
	unsigned ev;

	if (v != VCONN_KEEP) {
		mux_conn_free(m, c, v == VCONN_RESET);
		return;
	}
	if (c->host_gone && c->registered) {
		/* A hung-up socket reports EV_HUP for ever: stop watching it. */
		evloop_del_fd(m->loop, c->fd);
		c->registered = false;
	} else if (c->registered) {
		ev = vconn_events(c);
		if (ev != c->events && evloop_mod_fd(m->loop, c->fd, ev) == 0)
			c->events = ev;
	}
	if (c->pending && !c->queued) {
		mux_enqueue(m, c);
		mux_rx_ready(m);
	}
	if (c->deadline >= 0)
		mux_arm_sweep(m);
}

static void mux_conn_ready(void *opaque, int fd, unsigned revents);

static struct vsock_conn *mux_conn_new(struct vsock_mux *m, int fd, uint32_t local_port,
				       uint32_t peer_port, enum vconn_state state)
{
	struct vsock_conn *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	vconn_init(c, fd, m->guest_cid, local_port, peer_port, state);
	c->owner = m;
	c->timeout_ms = m->timeout_ms;
	c->events = vconn_events(c);
	if (evloop_add_fd(m->loop, fd, c->events, mux_conn_ready, c) < 0) {
		free(c);
		return NULL;
	}
	c->registered = true;
	c->anext = m->all;
	if (m->all)
		m->all->aprev = c;
	m->all = c;
	m->st.conns++;
	return c;
}

/* "CONNECT <port>\n" (a '\r' before the '\n' is tolerated). */
static bool mux_parse_line(const char *s, size_t len, uint32_t *port)
{
	static const char prefix[] = "CONNECT ";
	uint64_t v = 0;
	size_t i = sizeof(prefix) - 1;

	if (len <= i || memcmp(s, prefix, i))
		return false;
	if (s[len - 1] != '\n')
		return false;
	len--;
	if (len > i && s[len - 1] == '\r')
		len--;
	if (len == i || len - i > 10)
		return false;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*port = (uint32_t)v;
	return true;
}

static uint32_t mux_host_port(struct vsock_mux *m, uint32_t peer_port)
{
	for (;;) {
		uint32_t p = m->next_port;

		m->next_port = p == UINT32_MAX - 1 ? MUX_FIRST_HOST_PORT : p + 1;
		if (!mux_lookup(m, p, peer_port))
			return p;
	}
}

/*
 * A host peer's first bytes. Only the line is consumed: what follows its '\n' is already data
 * for the guest, so we peek first and then take exactly up to the newline.
 */
static void mux_read_line(struct vsock_mux *m, struct vsock_conn *c)
{
	size_t room = sizeof(c->line) - c->line_len;
	char peek[sizeof(c->line)];
	char *nl;
	ssize_t n, take;
	uint32_t port;

	n = recv(c->fd, peek, room, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		mux_conn_free(m, c, false);
		return;
	}
	nl = memchr(peek, '\n', (size_t)n);
	take = nl ? nl - peek + 1 : n;
	if (read(c->fd, c->line + c->line_len, (size_t)take) != take) {
		mux_conn_free(m, c, false);
		return;
	}
	c->line_len += (unsigned)take;
	if (!nl) {
		if (c->line_len == sizeof(c->line)) {
			m->st.bad_line++;
			mux_conn_free(m, c, false);
		}
		return;
	}
	if (!mux_parse_line(c->line, c->line_len, &port)) {
		m->st.bad_line++;
		mux_conn_free(m, c, false);
		return;
	}
	c->peer_port = port;
	c->local_port = mux_host_port(m, port);
	c->state = VCONN_REQUEST_SENT;
	c->pending |= VCONN_P_REQUEST;
	c->deadline = evloop_now_ms() + c->timeout_ms;
	mux_hash(m, c);
	mux_conn_apply(m, c, VCONN_KEEP);
}

static void mux_conn_ready(void *opaque, int fd, unsigned revents)
{
	struct vsock_conn *c = opaque;
	struct vsock_mux *m = c->owner;
	enum vconn_verdict v;

	if (c->state == VCONN_LINE) {
		mux_read_line(m, c);
		return;
	}
	v = vconn_host_ready(c, revents, &m->st.conn, evloop_now_ms());
	mux_conn_apply(m, c, v);
}

static void mux_accept(void *opaque, int fd, unsigned revents)
{
	struct vsock_mux *m = opaque;

	for (int i = 0; i < MUX_ACCEPT_BATCH; i++) {
		int cfd = vsock_unix_accept(m->listen_fd);
		struct vsock_conn *c;

		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The listener stays readable: wait for a descriptor to come back. */
				evloop_mod_fd(m->loop, m->listen_fd, 0);
				m->listen_paused = true;
			}
			return;
		}
		if (m->st.conns >= m->max_conns) {
			m->st.over_limit++;
			close(cfd);
			continue;
		}
		c = mux_conn_new(m, cfd, 0, 0, VCONN_LINE);
		if (!c) {
			close(cfd);
			continue;
		}
		m->st.accepted++;
		c->deadline = evloop_now_ms() + c->timeout_ms;
		mux_arm_sweep(m);
	}
}

static void mux_listen_resume(struct vsock_mux *m)
{
	if (evloop_mod_fd(m->loop, m->listen_fd, EV_IN) == 0)
		m->listen_paused = false;
}

/* A guest REQUEST for no existing connection: connect to PATH_<port>. */
static void mux_guest_connect(struct vsock_mux *m, const struct vsock_hdr *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int fd, n;

	if (m->st.conns >= m->max_conns) {
		m->st.over_limit++;
		mux_queue_rst(m, h->dst_port, h->src_port);
		return;
	}
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", m->path ? m->path : "",
		     h->dst_port);
	fd = m->path && n < (int)sizeof(sa.sun_path) ? vsock_unix_socket() : -1;
	/* A unix connect never blocks half-way: a full backlog is EAGAIN, a refusal like any. */
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		m->st.refused++;
		mux_queue_rst(m, h->dst_port, h->src_port);
		return;
	}
	c = mux_conn_new(m, fd, h->dst_port, h->src_port, VCONN_ESTABLISHED);
	if (!c) {
		close(fd);
		m->st.refused++;
		mux_queue_rst(m, h->dst_port, h->src_port);
		return;
	}
	m->st.connected++;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pending |= VCONN_P_RESPONSE;
	mux_hash(m, c);
	mux_conn_apply(m, c, VCONN_KEEP);
}

static void mux_attach(void *be, vsock_rx_ready_fn rx_ready, void *dev)
{
	struct vsock_mux *m = be;

	m->rx_ready = rx_ready;
	m->dev = dev;
}

static void mux_tx(void *be, const struct vsock_hdr *h, const struct iovec *iov, unsigned n)
{
	struct vsock_mux *m = be;
	struct vsock_conn *c = mux_lookup(m, h->dst_port, h->src_port);

	if (c) {
		mux_conn_apply(m, c, vconn_guest_pkt(c, h, iov, n, &m->st.conn, evloop_now_ms()));
		return;
	}
	switch (h->op) {
	case VSOCK_OP_REQUEST:
		mux_guest_connect(m, h);
		break;
	case VSOCK_OP_RST:
		break;
	default:
		m->st.no_conn++;
		mux_queue_rst(m, h->dst_port, h->src_port);
		break;
	}
}

static int mux_rx(void *be, struct vsock_hdr *h, const struct iovec *iov, unsigned n, size_t cap)
{
	struct vsock_mux *m = be;
	int64_t now = evloop_now_ms();
	uint64_t visits = m->st.conns;
	int got = 0;

	if (m->rst_count) {
		const struct mux_rst *r = &m->rsts[m->rst_head];

		*h = (struct vsock_hdr){ .src_cid = VSOCK_CID_HOST,
					 .dst_cid = m->guest_cid,
					 .src_port = r->local_port,
					 .dst_port = r->peer_port,
					 .type = VSOCK_TYPE_STREAM,
					 .op = VSOCK_OP_RST };
		m->rst_head = (m->rst_head + 1) % MUX_RST_QUEUE;
		m->rst_count--;
		return 1;
	}
	/* Round robin: a connection that still owes something goes to the back. */
	m->in_rx = true;
	while (!got && m->qhead && visits--) {
		struct vsock_conn *c = m->qhead;

		mux_dequeue(m, c);
		got = vconn_rx(c, h, iov, n, cap, &m->st.conn, now);
		mux_conn_apply(m, c, VCONN_KEEP);
	}
	m->in_rx = false;
	return got;
}

static void mux_free_all(struct vsock_mux *m)
{
	while (m->all)
		mux_conn_free(m, m->all, false);
	m->rst_head = m->rst_count = 0;
}

/* The driver reset: every connection is gone, and host ports start over. */
static void mux_reset(void *be)
{
	struct vsock_mux *m = be;

	mux_free_all(m);
	m->next_port = MUX_FIRST_HOST_PORT;
}

static void mux_sweep(void *opaque)
{
	struct vsock_mux *m = opaque;
	int64_t now = evloop_now_ms();
	struct vsock_conn *c, *next;
	bool left = false;

	m->sweep_armed = false;
	for (c = m->all; c; c = next) {
		next = c->anext;
		if (c->deadline < 0)
			continue;
		if (c->deadline > now) {
			left = true;
			continue;
		}
		m->st.expired++;
		mux_conn_free(m, c, true);
	}
	if (left)
		mux_arm_sweep(m);
}

static void mux_destroy(void *be)
{
	struct vsock_mux *m = be;

	if (!m)
		return;
	mux_free_all(m);
	if (m->listen_fd >= 0) {
		evloop_del_fd(m->loop, m->listen_fd);
		close(m->listen_fd);
	}
	ev_timer_free(m->sweep);
	free(m->path);
	free(m);
}

const struct vsock_backend_ops vsock_mux_ops = {
	.attach = mux_attach,
	.tx = mux_tx,
	.rx = mux_rx,
	.reset = mux_reset,
	.destroy = mux_destroy,
};

static int mux_listen(struct vsock_mux *m, struct errbuf *e)
{
	int r;

	m->listen_fd = vsock_unix_listen(m->path, e);
	if (m->listen_fd < 0) {
		r = m->listen_fd;
		m->listen_fd = -1;
		return r;
	}
	r = evloop_add_fd(m->loop, m->listen_fd, EV_IN, mux_accept, m);
	if (r < 0)
		return err_set(e, r, "--vsock: cannot watch its socket: %s", strerror(-r));
	return 0;
}

int vsock_mux_create(const struct vsock_mux_params *p, struct vsock_mux **out, struct errbuf *e)
{
	struct vsock_mux *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return err_set(e, -ENOMEM, "vsock: out of memory");
	m->loop = p->loop;
	m->guest_cid = p->guest_cid;
	m->listen_fd = -1;
	m->next_port = MUX_FIRST_HOST_PORT;
	m->timeout_ms = p->timeout_ms ? p->timeout_ms : VSOCK_CONN_TIMEOUT_MS;
	m->max_conns =
		vsock_fd_budget(p->max_conns ? p->max_conns : VSOCK_MUX_MAX_CONNS, MUX_FD_RESERVE);
	m->sweep = evloop_timer_new(m->loop, mux_sweep, m);
	if (!m->sweep) {
		mux_destroy(m);
		return err_set(e, -ENOMEM, "vsock: out of memory");
	}
	if (p->path) {
		m->path = strdup(p->path);
		if (!m->path) {
			mux_destroy(m);
			return err_set(e, -ENOMEM, "vsock: out of memory");
		}
		r = mux_listen(m, e);
		if (r < 0) {
			mux_destroy(m);
			return r;
		}
	}
	*out = m;
	return 0;
}

unsigned vsock_mux_max_conns(const struct vsock_mux *m)
{
	return m->max_conns;
}

void vsock_mux_stats(const struct vsock_mux *m, struct vsock_mux_stats *out)
{
	*out = m->st;
}

// SPDX-License-Identifier: MIT
/*
 * The stream backend's framing (QEMU's 4-byte big-endian length, then the frame) fed by a peer
 * over a real unix socket, in chunks of a size from the input, with a device that now and then
 * says -EAGAIN and resumes.
 *
 * Input: u8 chunk (bytes per write: 1 + chunk * 7, at least 1/16 of the input), u8 refuse (n % 3:
 * never, every 2nd or every 3rd offer refused, then offered again), then the bytes the peer sends.
 * Checked against a model parser: the device gets exactly the model's frames, in order, whole,
 * none over 65,550 bytes; a length over the limit drops the connection (link down) and nothing
 * after it arrives.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/net/net_backend.h"
#include "tests/fuzz/fuzz.h"

static struct evloop *loop;
static int listener = -1;
static char sock_path[108];

struct model {
	const uint8_t *data;
	size_t size;
	size_t pos; /* where the next expected frame's prefix starts */
	bool dropped; /* an over-limit length comes before the end */
};

static struct model m;
static unsigned nr_received, refuse_every, offers;
static bool link_up, refused;

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The next non-empty frame of the model at or after pos; false at the end or a bad length. */
static bool model_next(size_t *off, size_t *len)
{
	while (m.size - m.pos >= 4) {
		uint32_t l = be32(m.data + m.pos);

		if (l > NET_FRAME_MAX || m.size - m.pos - 4 < l)
			return false;
		if (l) {
			*off = m.pos + 4;
			*len = l;
			return true;
		}
		m.pos += 4;
	}
	return false;
}

static int port_receive(void *dev, const void *frame, size_t len)
{
	size_t off, want;

	offers++;
	if (refuse_every && offers % refuse_every == 0) {
		refused = true;
		return -EAGAIN;
	}
	FUZZ_CHECK(len <= NET_FRAME_MAX);
	FUZZ_CHECK(model_next(&off, &want));
	FUZZ_CHECK(len == want);
	FUZZ_CHECK(!memcmp(frame, m.data + off, len));
	m.pos = off + len;
	nr_received++;
	return 0;
}

static void port_tx_resume(void *dev)
{
}

static void port_link(void *dev, bool up)
{
	link_up = up;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	fuzz_quiet();
	snprintf(sock_path, sizeof(sock_path), "/tmp/ign-fuzz-stream-%d.sock", (int)getpid());
	unlink(sock_path);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listener, 8) < 0 || evloop_create(&loop, NULL) < 0)
		abort();
	return 0;
}

/*
 * One pass of the loop (the backend reads what the socket holds), then a refused frame is offered
 * again at once, as a device that frees room would, until one is taken: a second pass only cost an
 * epoll_wait. True when something was refused.
 */
static bool run_loop(struct net_backend *b)
{
	bool any;

	evloop_run_once(loop, 0);
	any = refused;
	while (refused) {
		refused = false;
		b->ops->rx_resume(b);
	}
	/* and a resume owed to nobody, as a device may send one late: it must change nothing */
	if (refuse_every)
		b->ops->rx_resume(b);
	return any;
}

static void model_check_drop(void)
{
	size_t pos = 0;

	m.dropped = false;
	while (m.size - pos >= 4) {
		uint32_t l = be32(m.data + pos);

		if (l > NET_FRAME_MAX) {
			m.dropped = true;
			return;
		}
		if (m.size - pos - 4 < l)
			return;
		pos += 4 + l;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_config cfg = { .mode = NET_STREAM, .target = sock_path };
	struct fuzz_in in = fuzz_in_init(data, size);
	size_t chunk = 1 + (size_t)fz_u8(&in) * 7, sent = 0, off, len;
	struct net_backend *b;
	struct errbuf e;
	int peer, fd;

	/* 0, 2 or 3: refusing every offer would never let a frame through */
	refuse_every = fz_u8(&in) % 3;
	if (refuse_every)
		refuse_every++;
	m = (struct model){ .data = in.p, .size = in.left };
	/*
	 * At most 16 writes: what matters is where they cut, not how many there are, and each one
	 * costs a pass of the loop (send, epoll_wait, two reads).
	 */
	chunk = max_u64(chunk, (m.size + 15) / 16);
	model_check_drop();
	nr_received = offers = 0;
	link_up = true;
	refused = false;
	if (net_backend_open(&cfg, 0, loop, &b, &e) < 0)
		abort();
	b->port = (struct net_port){ .receive = port_receive,
				     .tx_resume = port_tx_resume,
				     .link = port_link };
	if (b->ops->start(b, &e) < 0)
		abort();
	peer = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	FUZZ_CHECK(peer >= 0);
	for (int stuck = 0; sent < m.size && stuck < 100;) {
		ssize_t n = send(peer, m.data + sent, min_u64(chunk, m.size - sent), MSG_NOSIGNAL);

		if (n > 0) {
			sent += (size_t)n;
			stuck = 0;
		} else if (n < 0 && errno != EAGAIN) {
			break; /* the backend dropped the connection */
		} else {
			stuck++;
		}
		run_loop(b);
	}
	/*
	 * Everything is in the socket, and one read takes it all (the backend's buffer is larger
	 * than any input) unless a refusal stopped the reading: go on until a pass neither refused
	 * nor delivered anything.
	 */
	for (unsigned last = ~0u; nr_received != last;) {
		last = nr_received;
		while (run_loop(b))
			;
	}
	/* everything the model has up to the end or the bad length arrived, and no more */
	FUZZ_CHECK(!model_next(&off, &len));
	FUZZ_CHECK(link_up == !m.dropped);
	b->ops->destroy(b);
	close(peer);
	/* a reconnect attempt of this run must not be the next run's peer */
	while ((fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * vsockt: both ends of the end-to-end vsock checks and benchmarks, one static arm64 program for
 * the guest and the emulated host. Streams are a seeded xorshift sequence; FNV-1a 64 sums prove
 * every byte arrived in order. Each mode prints one result line (PASS ..., REFUSED ... or
 * FAIL ...) and exits 0 on PASS, 3 on REFUSED.
 *
 * ADDR is "vsock:CID" (AF_VSOCK) or a unix socket PATH, through which a connection to PORT is a
 * Firecracker "CONNECT PORT" (ignition's --vsock socket). For listening, ADDR is "vsock:PORT"
 * or a unix socket path.
 *
 *   vsockt serve PORT [sink]    guest: echo every connection to PORT until its end, then close;
 *                               with sink, sum it instead and answer "SUM <fnv> <bytes>\n"
 *   vsockt push ADDR PORT BYTES send BYTES, half-close, read the peer's SUM line and its close
 *   vsockt send PORT BYTES      push vsock:2 PORT BYTES (the guest to the host)
 *   vsockt connect PATH PORT BYTES   CONNECT through PATH, send BYTES, half-close, check the
 *                               echo and the guest's close
 *   vsockt many PATH PORT N BYTES    the same on N connections at once
 *   vsockt sink ADDR            accept one connection, sum it to its end, answer SUM, close
 *   vsockt setup ADDR PORT N    connect (and CONNECT/OK) N times: the median set-up time
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#define CHUNK	  65536
#define MAX_CONNS 256

struct stream {
	uint64_t x; /* generator state */
	uint64_t fnv; /* sum of what went through */
	uint64_t n;
};

static void stream_init(struct stream *s, uint64_t seed)
{
	s->x = seed * 0x9e3779b97f4a7c15ull + 1;
	s->fnv = 0xcbf29ce484222325ull;
	s->n = 0;
}

static void fnv_add(struct stream *s, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		s->fnv = (s->fnv ^ p[i]) * 0x100000001b3ull;
	s->n += len;
}

static void stream_fill(struct stream *s, uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		s->x ^= s->x << 13;
		s->x ^= s->x >> 7;
		s->x ^= s->x << 17;
		p[i] = (uint8_t)s->x;
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	return 1;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one line (up to '\n', at most len - 1 bytes) byte by byte: 0 on EOF before any byte. */
static ssize_t read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, 1);

		if (r <= 0)
			break;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = 0;
	return (ssize_t)n;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

/* ---- guest ---- */

static int sum_conn(int fd);

static void echo(int fd, int sum)
{
	static uint8_t buf[CHUNK];
	ssize_t n;

	if (sum)
		_exit(sum_conn(fd));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write_all(fd, buf, (size_t)n) < 0)
			_exit(1);
	/* The host's half-close reached us (n == 0): our close must reach it. */
	close(fd);
	_exit(n == 0 ? 0 : 1);
}

static int serve(unsigned port, int sum)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK,
				  .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };
	int lfd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 256))
		return fail("listen");
	signal(SIGCHLD, SIG_IGN);
	printf("LISTENING %u\n", port);
	fflush(stdout);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			return fail("accept");
		}
		if (fork() == 0) {
			close(lfd);
			echo(fd, sum);
		}
		close(fd);
	}
}

static int host_open(const char *path, unsigned port);

/* A connection to PORT through ADDR: a socket, -1 when refused, -2 on other errors. */
static int open_addr(const char *addr, unsigned port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_port = port };
	int fd;

	if (strncmp(addr, "vsock:", 6))
		return host_open(addr, port);
	sa.svm_cid = (unsigned)strtoul(addr + 6, NULL, 0);
	fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (fd < 0)
		return -2;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return e == ECONNRESET || e == ECONNREFUSED ? -1 : -2;
	}
	return fd;
}

static int push(const char *addr, unsigned port, uint64_t bytes)
{
	static uint8_t buf[CHUNK];
	struct stream s;
	char line[96];
	unsigned long long fnv = 0, got = 0;
	double t0 = now_s(), dt;
	int fd;

	errno = 0;
	fd = open_addr(addr, port);
	if (fd == -1) {
		printf("REFUSED %s\n", errno == ECONNRESET ? "ECONNRESET" : "closed-without-reply");
		return 3;
	}
	if (fd < 0)
		return fail("connect");
	stream_init(&s, port);
	while (s.n < bytes) {
		size_t n = bytes - s.n < CHUNK ? (size_t)(bytes - s.n) : CHUNK;

		stream_fill(&s, buf, n);
		fnv_add(&s, buf, n);
		if (write_all(fd, buf, n) < 0)
			return fail("write");
	}
	shutdown(fd, SHUT_WR);
	if (read_line(fd, line, sizeof(line)) <= 0 ||
	    sscanf(line, "SUM %llx %llu", &fnv, &got) != 2)
		return fail("no SUM line from the peer");
	dt = now_s() - t0;
	if (read(fd, buf, 1) != 0)
		return fail("the peer's close was not seen");
	close(fd);
	if (fnv != s.fnv || got != bytes) {
		printf("FAIL sent %llu fnv %016llx, the peer got %llu fnv %016llx\n",
		       (unsigned long long)bytes, (unsigned long long)s.fnv, got, fnv);
		return 1;
	}
	printf("PASS bytes=%llu fnv=%016llx eof=1 ms=%.0f mbps=%.1f\n", got, fnv, dt * 1e3,
	       bytes / dt / 1e6);
	return 0;
}

/* ---- host ---- */

struct conn {
	int fd;
	struct stream out, in;
	uint64_t bytes;
	int eof;
};

/* CONNECT through path; returns the socket, or -1 when the VMM closed it without a reply. */
static int host_open(const char *path, unsigned port)
{
	char line[64];
	int fd = unix_connect(path), n;

	if (fd < 0)
		return -2;
	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (write_all(fd, line, (size_t)n) < 0)
		return -2;
	if (read_line(fd, line, sizeof(line)) <= 0) {
		close(fd);
		return -1;
	}
	if (strncmp(line, "OK ", 3)) {
		close(fd);
		return -2;
	}
	return fd;
}

/* Every connection sends its stream and checks the echo, all at once, with poll. */
static int host_run(struct conn *c, unsigned nr, double *secs)
{
	static uint8_t buf[CHUNK];
	static struct pollfd pf[MAX_CONNS];
	double t0 = now_s();
	unsigned left = nr;

	*secs = 0;
	if (nr > MAX_CONNS)
		return 1;
	while (left) {
		for (unsigned i = 0; i < nr; i++) {
			pf[i] = (struct pollfd){ .fd = c[i].eof ? -1 : c[i].fd, .events = POLLIN };
			if (c[i].out.n < c[i].bytes)
				pf[i].events |= POLLOUT;
		}
		if (poll(pf, nr, 60000) <= 0)
			return fail("no progress for 60 s");
		for (unsigned i = 0; i < nr; i++) {
			if (pf[i].revents & POLLOUT) {
				uint64_t n = c[i].bytes - c[i].out.n;
				/* A short write: regenerate from a copy of the state. */
				struct stream save = c[i].out;
				ssize_t w;

				n = n < CHUNK ? n : CHUNK;
				stream_fill(&c[i].out, buf, (size_t)n);
				w = write(c[i].fd, buf, (size_t)n);
				if (w < 0 && errno != EAGAIN && errno != EINTR)
					return fail("write");
				c[i].out = save;
				if (w > 0) {
					stream_fill(&c[i].out, buf, (size_t)w);
					fnv_add(&c[i].out, buf, (size_t)w);
				}
				if (c[i].out.n == c[i].bytes)
					shutdown(c[i].fd, SHUT_WR);
			}
			if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = read(c[i].fd, buf, sizeof(buf));

				if (r < 0 && errno != EAGAIN && errno != EINTR)
					return fail("read");
				if (r > 0)
					fnv_add(&c[i].in, buf, (size_t)r);
				if (r == 0) {
					c[i].eof = 1;
					left--;
				}
			}
		}
	}
	*secs = now_s() - t0;
	for (unsigned i = 0; i < nr; i++) {
		if (c[i].in.n != c[i].bytes || c[i].in.fnv != c[i].out.fnv) {
			printf("FAIL conn %u: sent %llu fnv %016llx, echoed %llu fnv %016llx\n", i,
			       (unsigned long long)c[i].out.n, (unsigned long long)c[i].out.fnv,
			       (unsigned long long)c[i].in.n, (unsigned long long)c[i].in.fnv);
			return 1;
		}
	}
	return 0;
}

static int host_many(const char *path, unsigned port, int nr, uint64_t bytes)
{
	static struct conn c[MAX_CONNS];
	double secs;
	int r;

	if (nr < 1 || nr > MAX_CONNS)
		return fail("connection count");
	for (int i = 0; i < nr; i++) {
		c[i].fd = host_open(path, port);
		if (c[i].fd == -1) {
			printf("REFUSED closed-without-reply\n");
			return 3;
		}
		if (c[i].fd < 0)
			return fail("connect");
		/* Writing while the echo comes back: a blocked write would deadlock with it. */
		fcntl(c[i].fd, F_SETFL, O_NONBLOCK);
		stream_init(&c[i].out, (uint64_t)i + 1);
		stream_init(&c[i].in, 0);
		c[i].bytes = bytes;
	}
	r = host_run(c, (unsigned)nr, &secs);
	if (r)
		return r;
	printf("PASS conns=%d bytes=%llu fnv0=%016llx eof=1 ms=%.0f mbps=%.1f\n", nr,
	       (unsigned long long)bytes, (unsigned long long)c[0].out.fnv, secs * 1e3,
	       (double)bytes * nr / secs / 1e6);
	for (int i = 0; i < nr; i++)
		close(c[i].fd);
	return 0;
}

/* Sums fd to its end, answers "SUM <fnv> <bytes>\n", closes: 0 when all went well. */
static int sum_conn(int fd)
{
	static uint8_t buf[CHUNK];
	struct stream s;
	char line[96];
	ssize_t n;

	stream_init(&s, 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fnv_add(&s, buf, (size_t)n);
	if (n < 0)
		return fail("read");
	n = snprintf(line, sizeof(line), "SUM %016llx %llu\n", (unsigned long long)s.fnv,
		     (unsigned long long)s.n);
	if (write_all(fd, line, (size_t)n) < 0)
		return fail("write");
	close(fd);
	printf("SINK bytes=%llu fnv=%016llx eof=1\n", (unsigned long long)s.n,
	       (unsigned long long)s.fnv);
	return 0;
}

static int sink(const char *addr)
{
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	struct sockaddr_vm sv = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY };
	int lfd, fd, r;

	if (!strncmp(addr, "vsock:", 6)) {
		sv.svm_port = (unsigned)strtoul(addr + 6, NULL, 0);
		lfd = socket(AF_VSOCK, SOCK_STREAM, 0);
		r = lfd < 0 ? -1 : bind(lfd, (struct sockaddr *)&sv, sizeof(sv));
	} else {
		snprintf(su.sun_path, sizeof(su.sun_path), "%s", addr);
		unlink(addr);
		lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		r = lfd < 0 ? -1 : bind(lfd, (struct sockaddr *)&su, sizeof(su));
	}
	if (r || listen(lfd, 4))
		return fail("listen");
	printf("LISTENING %s\n", addr);
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return fail("accept");
	return sum_conn(fd);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Connection set-up: connect() (and CONNECT ... OK through a unix socket), N times. */
static int setup_time(const char *addr, unsigned port, int n)
{
	static double t[1000];

	if (n < 1 || n > 1000)
		return fail("count");
	for (int i = 0; i < n; i++) {
		double t0 = now_s();
		int fd = open_addr(addr, port);

		if (fd < 0)
			return fail("connect");
		t[i] = now_s() - t0;
		close(fd);
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("PASS setup_us=%.0f min_us=%.0f max_us=%.0f n=%d\n", t[n / 2] * 1e6, t[0] * 1e6,
	       t[n - 1] * 1e6, n);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "serve"))
		return serve((unsigned)strtoul(argv[2], NULL, 0), argc == 4);
	if (argc == 4 && !strcmp(argv[1], "send"))
		return push("vsock:2", (unsigned)strtoul(argv[2], NULL, 0),
			    strtoull(argv[3], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "push"))
		return push(argv[2], (unsigned)strtoul(argv[3], NULL, 0),
			    strtoull(argv[4], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "connect"))
		return host_many(argv[2], (unsigned)strtoul(argv[3], NULL, 0), 1,
				 strtoull(argv[4], NULL, 0));
	if (argc == 6 && !strcmp(argv[1], "many"))
		return host_many(argv[2], (unsigned)strtoul(argv[3], NULL, 0), atoi(argv[4]),
				 strtoull(argv[5], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "sink"))
		return sink(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "setup"))
		return setup_time(argv[2], (unsigned)strtoul(argv[3], NULL, 0), atoi(argv[4]));
	fprintf(stderr, "usage: see the top of tests/e2e/vsock/vsockt.c\n");
	return 2;
}

// SPDX-License-Identifier: MIT
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/thread.h"
#include "vmm/console.h"

/*
 * The terminal is process-wide, so its saved state is too: a fatal signal handler must be able
 * to restore it without any context.
 */
static struct termios saved_termios;
static volatile sig_atomic_t termios_saved;
static int termios_fd = -1;

void console_restore_terminal(void)
{
	if (termios_saved) {
		tcsetattr(termios_fd, TCSANOW, &saved_termios);
		termios_saved = 0;
	}
}

static void console_fatal_signal(int sig)
{
	console_restore_terminal();
	signal(sig, SIG_DFL);
	raise(sig);
}

void console_raw_mode(struct console *c)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGQUIT };
	struct termios raw;

	if (!isatty(c->in_fd) || tcgetattr(c->in_fd, &saved_termios) < 0)
		return;
	termios_fd = c->in_fd;
	termios_saved = 1;
	atexit(console_restore_terminal);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], console_fatal_signal);

	/* Like cfmakeraw(): every key goes to the guest, Ctrl-C included; the guest echoes. */
	raw = saved_termios;
	raw.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	raw.c_oflag &= ~(tcflag_t)OPOST;
	raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	raw.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	raw.c_cflag |= CS8;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	tcsetattr(c->in_fd, TCSANOW, &raw);
}

/* Called by the UART with its lock held: copy what fits, never block. */
static size_t console_serial_tx(void *opaque, const uint8_t *buf, size_t n)
{
	struct console *c = opaque;
	size_t taken = 0;
	bool was_empty;

	pthread_mutex_lock(&c->lock);
	was_empty = !c->len;
	while (taken < n && c->len < CONSOLE_RING_SIZE) {
		size_t tail = (c->head + c->len) % CONSOLE_RING_SIZE;
		size_t chunk = CONSOLE_RING_SIZE - tail;

		if (chunk > CONSOLE_RING_SIZE - c->len)
			chunk = CONSOLE_RING_SIZE - c->len;
		if (chunk > n - taken)
			chunk = n - taken;
		memcpy(c->ring + tail, buf + taken, chunk);
		c->len += chunk;
		taken += chunk;
	}
	if (taken < n)
		c->tx_blocked = true;
	/* The writer sleeps only on an empty ring: bytes added to a non-empty one it will see. */
	if (taken && was_empty)
		pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return taken;
}

static void console_serial_rx_space(void *opaque)
{
	struct console *c = opaque;

	event_signal(&c->rx_space);
}

const struct serial_host_ops console_serial_ops = {
	.tx = console_serial_tx,
	.rx_space = console_serial_rx_space,
};

static void write_all(int fd, const uint8_t *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* stdout is gone (EPIPE): output has nowhere to go */
		buf += w;
		n -= (size_t)w;
	}
}

static void *console_writer(void *arg)
{
	struct console *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->len && !c->stopping)
			pthread_cond_wait(&c->cond, &c->lock);
		if (!c->len)
			break;

		size_t chunk = c->len;
		bool was_blocked;

		if (chunk > CONSOLE_RING_SIZE - c->head)
			chunk = CONSOLE_RING_SIZE - c->head;
		pthread_mutex_unlock(&c->lock);
		write_all(c->out_fd, c->ring + c->head, chunk);
		pthread_mutex_lock(&c->lock);
		c->head = (c->head + chunk) % CONSOLE_RING_SIZE;
		c->len -= chunk;
		was_blocked = c->tx_blocked;
		c->tx_blocked = false;
		pthread_cond_broadcast(&c->cond);
		if (was_blocked && c->serial) {
			/* Lock order is UART then console: never call into the UART holding ours. */
			pthread_mutex_unlock(&c->lock);
			serial_tx_ready(c->serial);
			pthread_mutex_lock(&c->lock);
		}
	}
	c->writer_running = false;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int console_init(struct console *c, int in_fd, int out_fd)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	r = event_init(&c->rx_space);
	if (r < 0)
		return r;
	return 0;
}

void console_attach(struct console *c, struct serial *serial)
{
	c->serial = serial;
}

int console_start(struct console *c)
{
	int r;

	c->writer_running = true;
	r = thread_create(&c->writer, console_writer, c);
	if (r) {
		c->writer_running = false;
		return -r;
	}
	c->writer_started = true;
	return 0;
}

int console_in_fd(const struct console *c)
{
	/* Stop reading while the UART has not taken what we already have. */
	if (c->in_eof || c->pending_len > sizeof(c->pending) / 2)
		return -1;
	return c->in_fd;
}

int console_rx_fd(const struct console *c)
{
	return event_fd(&c->rx_space);
}

static void console_feed(struct console *c)
{
	size_t room, n;

	if (!c->pending_len || !c->serial)
		return;
	room = serial_rx_room(c->serial);
	n = c->pending_len < room ? c->pending_len : room;
	if (!n)
		return;
	n = serial_receive(c->serial, c->pending, n);
	memmove(c->pending, c->pending + n, c->pending_len - n);
	c->pending_len -= n;
}

static void console_print_escape_help(void)
{
	pr_err("console: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A");
}

enum console_input console_handle_input(struct console *c)
{
	uint8_t buf[sizeof(c->pending)];
	size_t room = sizeof(c->pending) - c->pending_len;
	ssize_t n;

	if (c->in_eof || !room)
		return CONSOLE_CONTINUE;
	n = read(c->in_fd, buf, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return CONSOLE_CONTINUE;
	if (n <= 0) {
		/* A script's pipe ended: the VM keeps running, it just gets no more input. */
		c->in_eof = true;
		return CONSOLE_CONTINUE;
	}
	for (ssize_t i = 0; i < n; i++) {
		uint8_t ch = buf[i];

		if (c->escape_pending) {
			c->escape_pending = false;
			if (ch == 'x' || ch == 'X')
				return CONSOLE_QUIT;
			if (ch == 'h' || ch == '?') {
				console_print_escape_help();
				continue;
			}
			/* Ctrl-A Ctrl-A is a literal Ctrl-A; any other key goes through as typed. */
		} else if (ch == CONSOLE_ESCAPE) {
			c->escape_pending = true;
			continue;
		}
		c->pending[c->pending_len++] = ch;
	}
	console_feed(c);
	return CONSOLE_CONTINUE;
}

void console_handle_rx_space(struct console *c)
{
	event_drain(&c->rx_space);
	console_feed(c);
}

void console_stop(struct console *c)
{
	struct timespec deadline;

	if (!c->writer_started)
		return;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2;

	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_broadcast(&c->cond);
	/* A reader that never drains our stdout must not keep us from exiting. */
	while (c->writer_running) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) == ETIMEDOUT)
			break;
	}
	bool done = !c->writer_running;
	pthread_mutex_unlock(&c->lock);
	if (done) {
		pthread_join(c->writer, NULL);
	} else {
		pthread_detach(c->writer);
		c->writer_detached = true;
	}
	c->writer_started = false;
}

void console_destroy(struct console *c)
{
	event_close(&c->rx_space);
}

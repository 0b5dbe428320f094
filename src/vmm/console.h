/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VMM_CONSOLE_H
#define IGNITION_VMM_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "devices/serial.h"
#include "util/event.h"

/*
 * The host side of the guest console: stdin -> UART RX, UART TX -> stdout. Output goes through a
 * ring drained by a writer thread, so a slow terminal or a full pipe only stalls the guest's tty
 * (the UART reports THR busy), never a vCPU. stdin is put in raw mode when it is a terminal and
 * restored on every exit path, including fatal signals.
 */
#define CONSOLE_RING_SIZE 65536
#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

struct console {
	int in_fd;
	int out_fd;
	bool in_eof;
	bool escape_pending;
	struct serial *serial;

	/* output ring, drained by the writer thread */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint8_t ring[CONSOLE_RING_SIZE];
	size_t head;
	size_t len;
	bool tx_blocked; /* the UART holds bytes we refused: tell it when there is room */
	bool stopping;
	bool writer_running;
	bool writer_started;
	bool writer_detached; /* stuck on a stdout nobody reads: its memory must outlive us */
	pthread_t writer;

	/* input not yet taken by the UART */
	uint8_t pending[512];
	size_t pending_len;
	struct event rx_space;
};

/* The serial's host ops; copy them and set .opaque to the struct console. */
extern const struct serial_host_ops console_serial_ops;

int console_init(struct console *c, int in_fd, int out_fd);
void console_attach(struct console *c, struct serial *serial);
int console_start(struct console *c);

/* Puts stdin in raw mode if it is a terminal; console_restore_terminal() undoes it. */
void console_raw_mode(struct console *c);
void console_restore_terminal(void);

/* For the main loop's poll(): stdin (or -1 after EOF) and the rx-space event. */
int console_in_fd(const struct console *c);
int console_rx_fd(const struct console *c);

enum console_input {
	CONSOLE_CONTINUE,
	CONSOLE_QUIT, /* Ctrl-A x */
};

/* stdin is readable (or the UART has room again): move bytes on, interpreting Ctrl-A escapes. */
enum console_input console_handle_input(struct console *c);
void console_handle_rx_space(struct console *c);

/* Writes what is still buffered (bounded wait), stops the writer. */
void console_stop(struct console *c);
void console_destroy(struct console *c);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_DEVICES_SERIAL_H
#define IGNITION_DEVICES_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"

/*
 * A 16550A UART with byte-wide registers (reg-shift 0), 16-byte RX and TX FIFOs, and level
 * interrupts with the 16550 priorities. The host side is a sink for transmitted bytes and a source
 * that pushes received ones; neither may block a vCPU.
 */
#define SERIAL_FIFO_SIZE 16

/*
 * Both callbacks run with the UART's lock held (as does the irq line's set_level): they must be
 * quick, must not block, and must never call back into the serial (serial_receive,
 * serial_tx_ready, ...), or they deadlock. Wake another thread instead.
 */
struct serial_host_ops {
	/*
	 * Transmitted bytes. Returns how many the host took; fewer than n means "busy": the UART keeps
	 * the rest in its TX FIFO, reports THR not empty, and the host calls serial_tx_ready() once it
	 * has room again. That is flow control, not loss: a stuck stdout stalls the guest's tty, never
	 * a vCPU.
	 */
	size_t (*tx)(void *opaque, const uint8_t *buf, size_t n);
	/* The guest read from the RX FIFO, so serial_receive() has room again. May be NULL. */
	void (*rx_space)(void *opaque);
	void *opaque;
};

struct serial;

struct serial *serial_create(struct irq_line *irq, const struct serial_host_ops *host);
void serial_destroy(struct serial *s);

/* Register the UART on the bus at base (UART_SIZE window; registers at offsets 0..7). */
int serial_attach(struct serial *s, struct bus *bus, uint64_t base, struct errbuf *e);

/* The bus ops, for tests that drive the registers directly (dev = the struct serial). */
extern const struct bus_ops serial_bus_ops;

/* Free room in the RX FIFO; 0 in loopback, where the receiver hears only the transmitter. */
size_t serial_rx_room(struct serial *s);

/*
 * Bytes from the host into the RX FIFO. Returns how many were taken; the bytes arriving to a full
 * FIFO are lost, as on the real chip, and set LSR.OE. Callers that can wait check
 * serial_rx_room() first, so no byte is dropped while the FIFO has room. In loopback nothing is
 * taken and OE is not set: the host keeps its bytes until rx_space says the loop was opened.
 */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t n);

/* The host sink has room again: flush the TX FIFO into it and re-evaluate THRE. */
void serial_tx_ready(struct serial *s);

/* Bytes the guest wrote while the TX FIFO was full (a guest that ignored LSR.THRE). */
uint64_t serial_tx_dropped(struct serial *s);

#endif

// SPDX-License-Identifier: MIT
/*
 * 16550A UART. Everything the guest can reach goes through serial_bus_ops under the device lock;
 * the host side (console) comes in through serial_receive(), serial_rx_room() and
 * serial_tx_ready(), under the same lock.
 *
 * Lock order: the serial lock is taken first. host->tx, host->rx_space and the irq line's
 * set_level are called with it held, so they must be quick, must not block, and must never call
 * back into this serial (the lock is not recursive).
 *
 * Transmission is instant: a byte the host sink accepts has been sent, so THRE and TEMT are both
 * "TX FIFO empty". A sink that refuses bytes keeps them in the TX FIFO (THRE low) until it calls
 * serial_tx_ready(); that is flow control for the guest's tty, never a stall of a vCPU.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "arch/aarch64/layout.h"
#include "devices/serial.h"
#include "util/log.h"

/* register offsets (reg-shift 0) */
enum {
	UART_RBR = 0, /* read, DLAB=0; THR on write; DLL with DLAB=1 */
	UART_IER = 1, /* DLM with DLAB=1 */
	UART_IIR = 2, /* read; FCR on write */
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
	UART_NR_REGS = 8,
};

#define IER_ERBFI 0x01 /* RX data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI  0x04 /* line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK  0x0f

#define IIR_NONE    0x01
#define IIR_MSI	    0x00
#define IIR_THRI    0x02
#define IIR_RDI	    0x04
#define IIR_RLSI    0x06
#define IIR_CTI	    0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE	  0x01
#define FCR_CLEAR_RX	  0x02
#define FCR_CLEAR_TX	  0x04
#define FCR_TRIGGER_SHIFT 6

#define LCR_DLAB 0x80

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR	   0x01
#define LSR_OE	   0x02
#define LSR_PE	   0x04
#define LSR_FE	   0x08
#define LSR_BI	   0x10
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS   0x01
#define MSR_DDSR   0x02
#define MSR_TERI   0x04
#define MSR_DDCD   0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS	   0x10
#define MSR_DSR	   0x20
#define MSR_RI	   0x40
#define MSR_DCD	   0x80

struct serial_fifo {
	uint8_t buf[SERIAL_FIFO_SIZE];
	unsigned head;
	unsigned count;
};

struct serial {
	pthread_mutex_t lock;
	struct irq_line *irq;
	struct serial_host_ops host;

	struct serial_fifo rx;
	struct serial_fifo tx;
	uint8_t ier;
	uint8_t fcr; /* FCR_ENABLE and the trigger bits; the clear bits are not kept */
	uint8_t lcr;
	uint8_t mcr;
	uint8_t lsr_errors; /* sticky LSR error bits, cleared by reading LSR */
	uint8_t msr_deltas; /* sticky MSR delta bits, cleared by reading MSR */
	uint8_t scr;
	uint8_t dll;
	uint8_t dlm;
	/* THR-empty interrupt latch: see serial_iir_id() for when it is set and cleared */
	bool thre_pending;
	uint64_t tx_dropped;
};

static void fifo_clear(struct serial_fifo *f)
{
	f->head = 0;
	f->count = 0;
}

static void fifo_push(struct serial_fifo *f, uint8_t byte)
{
	f->buf[(f->head + f->count) % SERIAL_FIFO_SIZE] = byte;
	f->count++;
}

static uint8_t fifo_pop(struct serial_fifo *f)
{
	uint8_t byte = f->buf[f->head];

	f->head = (f->head + 1) % SERIAL_FIFO_SIZE;
	f->count--;
	return byte;
}

static void fifo_drop(struct serial_fifo *f, unsigned n)
{
	f->head = (f->head + n) % SERIAL_FIFO_SIZE;
	f->count -= n;
}

static bool serial_fifo_on(const struct serial *s)
{
	return s->fcr & FCR_ENABLE;
}

static bool serial_loopback(const struct serial *s)
{
	return s->mcr & MCR_LOOP;
}

/* With FIFOs off the chip is a 16450: one holding register each way. */
static unsigned serial_fifo_cap(const struct serial *s)
{
	return serial_fifo_on(s) ? SERIAL_FIFO_SIZE : 1;
}

static unsigned serial_rx_trigger(const struct serial *s)
{
	static const unsigned levels[] = { 1, 4, 8, 14 };

	return serial_fifo_on(s) ? levels[s->fcr >> FCR_TRIGGER_SHIFT] : 1;
}

/*
 * The pending interrupt with the highest 16550 priority, in IIR encoding. There is no timer, so
 * data below the trigger level is reported at once as a character timeout; Linux treats both the
 * same way (it drains the FIFO while LSR.DR is set).
 *
 * THRE is a latch: set when the TX FIFO empties or ETBEI is turned on while it is empty; cleared
 * by a THR write, by turning ETBEI off, or by an IIR read that reports it.
 */
static uint8_t serial_iir_id(const struct serial *s)
{
	if ((s->ier & IER_ELSI) && (s->lsr_errors & LSR_ERRORS))
		return IIR_RLSI;
	if ((s->ier & IER_ERBFI) && s->rx.count)
		return s->rx.count >= serial_rx_trigger(s) ? IIR_RDI : IIR_CTI;
	if ((s->ier & IER_ETBEI) && s->thre_pending)
		return IIR_THRI;
	if ((s->ier & IER_EDSSI) && (s->msr_deltas & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NONE;
}

/*
 * The line is a level: high exactly while an enabled source is pending. MCR.OUT2 does not gate
 * it; Linux sets OUT2 anyway, and on a GIC there is no PC-style tri-state buffer to model.
 */
static void serial_update_irq(struct serial *s)
{
	if (s->irq)
		irq_line_set(s->irq, serial_iir_id(s) != IIR_NONE);
}

/* The guest made room in the RX FIFO: the host may push more. Not in loopback (input is cut). */
static void serial_rx_freed(struct serial *s)
{
	if (s->host.rx_space && !serial_loopback(s))
		s->host.rx_space(s->host.opaque);
}

/* A byte reaching the receiver; with the FIFO full it is lost, as on the chip. */
static bool serial_rx_push(struct serial *s, uint8_t byte)
{
	if (s->rx.count >= serial_fifo_cap(s)) {
		s->lsr_errors |= LSR_OE;
		return false;
	}
	fifo_push(&s->rx, byte);
	return true;
}

static void serial_tx_to_host(struct serial *s)
{
	while (s->tx.count) {
		unsigned len = SERIAL_FIFO_SIZE - s->tx.head;
		size_t n;

		if (len > s->tx.count)
			len = s->tx.count;
		/* No sink: the bytes go nowhere, and the guest must not wait for them. */
		n = s->host.tx ? s->host.tx(s->host.opaque, &s->tx.buf[s->tx.head], len) : len;
		if (n > len)
			n = len;
		fifo_drop(&s->tx, (unsigned)n);
		if (n < len)
			break;
	}
}

/* Moves the TX FIFO on (to the host, or into RX in loopback); an emptied FIFO latches THRE. */
static void serial_tx_flush(struct serial *s)
{
	bool had_bytes = s->tx.count;

	if (serial_loopback(s)) {
		while (s->tx.count)
			serial_rx_push(s, fifo_pop(&s->tx));
	} else {
		serial_tx_to_host(s);
	}
	if (had_bytes && !s->tx.count)
		s->thre_pending = true;
}

static void serial_thr_write(struct serial *s, uint8_t byte)
{
	s->thre_pending = false;
	if (s->tx.count >= serial_fifo_cap(s)) {
		s->tx_dropped++;
		pr_warn_once("uart: guest wrote to a full TX FIFO, byte dropped");
	} else {
		fifo_push(&s->tx, byte);
	}
	serial_tx_flush(s);
}

static uint8_t serial_rbr_read(struct serial *s)
{
	uint8_t byte;

	if (!s->rx.count)
		return 0;
	byte = fifo_pop(&s->rx);
	serial_rx_freed(s);
	return byte;
}

static void serial_ier_write(struct serial *s, uint8_t val)
{
	uint8_t changed = (s->ier ^ val) & IER_ETBEI;

	s->ier = val & IER_MASK;
	/* Linux's startup test toggles ETBEI and expects THRE to be raised again each time. */
	if (changed)
		s->thre_pending = (s->ier & IER_ETBEI) && !s->tx.count;
}

static uint8_t serial_iir_read(struct serial *s)
{
	uint8_t id = serial_iir_id(s);

	if (id == IIR_THRI)
		s->thre_pending = false;
	return id | (serial_fifo_on(s) ? IIR_FIFO_ON : 0);
}

static void serial_tx_clear(struct serial *s)
{
	if (s->tx.count)
		s->thre_pending = true;
	fifo_clear(&s->tx);
}

static void serial_fcr_write(struct serial *s, uint8_t val)
{
	bool was_on = serial_fifo_on(s);
	bool rx_had = s->rx.count;

	/* Turning the FIFOs on or off empties both; the clear bits only act with FIFOs on. */
	if (!!(val & FCR_ENABLE) != was_on || (val & FCR_CLEAR_RX))
		fifo_clear(&s->rx);
	if (!!(val & FCR_ENABLE) != was_on || (val & FCR_CLEAR_TX))
		serial_tx_clear(s);
	s->fcr = val & FCR_ENABLE ? val & (FCR_ENABLE | 3 << FCR_TRIGGER_SHIFT) : 0;
	if (rx_had || (!was_on && serial_fifo_on(s)))
		serial_rx_freed(s);
}

static uint8_t serial_lsr_read(struct serial *s)
{
	uint8_t lsr = s->lsr_errors;

	if (s->rx.count)
		lsr |= LSR_DR;
	if (!s->tx.count)
		lsr |= LSR_THRE | LSR_TEMT;
	s->lsr_errors = 0;
	return lsr;
}

/* Modem inputs: wired to MCR in loopback; otherwise a peer that is always there. */
static uint8_t serial_modem_lines(const struct serial *s)
{
	uint8_t msr = 0;

	if (!serial_loopback(s))
		return MSR_CTS | MSR_DSR | MSR_DCD;
	if (s->mcr & MCR_DTR)
		msr |= MSR_DSR;
	if (s->mcr & MCR_RTS)
		msr |= MSR_CTS;
	if (s->mcr & MCR_OUT1)
		msr |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		msr |= MSR_DCD;
	return msr;
}

static void serial_mcr_write(struct serial *s, uint8_t val)
{
	uint8_t before = serial_modem_lines(s);
	bool was_loop = serial_loopback(s);
	uint8_t after, changed;

	s->mcr = val & MCR_MASK;
	after = serial_modem_lines(s);
	changed = before ^ after;
	if (changed & MSR_CTS)
		s->msr_deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		s->msr_deltas |= MSR_DDSR;
	if (changed & MSR_DCD)
		s->msr_deltas |= MSR_DDCD;
	if ((before & MSR_RI) && !(after & MSR_RI))
		s->msr_deltas |= MSR_TERI;
	/* Bytes a busy host refused now go where the transmitter points. */
	serial_tx_flush(s);
	if (was_loop && !serial_loopback(s))
		serial_rx_freed(s);
}

static uint8_t serial_msr_read(struct serial *s)
{
	uint8_t msr = serial_modem_lines(s) | s->msr_deltas;

	s->msr_deltas = 0;
	return msr;
}

static uint8_t serial_reg_read(struct serial *s, unsigned reg)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case UART_RBR:
		return dlab ? s->dll : serial_rbr_read(s);
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR:
		return serial_iir_read(s);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return serial_lsr_read(s);
	case UART_MSR:
		return serial_msr_read(s);
	default:
		return s->scr;
	}
}

static void serial_reg_write(struct serial *s, unsigned reg, uint8_t val)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case UART_RBR:
		if (dlab)
			s->dll = val;
		else
			serial_thr_write(s, val);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = val;
		else
			serial_ier_write(s, val);
		break;
	case UART_IIR:
		serial_fcr_write(s, val);
		break;
	case UART_LCR:
		s->lcr = val;
		break;
	case UART_MCR:
		serial_mcr_write(s, val);
		break;
	case UART_SCR:
		s->scr = val;
		break;
	default:
		/* LSR and MSR are read-only (factory test writes on some parts) */
		break;
	}
}

static bool serial_access_ok(uint64_t offset, unsigned width)
{
	if (unlikely(width != 1)) {
		pr_warn_once("uart: %u-byte access at offset 0x%" PRIx64 " ignored (registers are "
			     "byte wide)",
			     width, offset);
		return false;
	}
	if (unlikely(offset >= UART_NR_REGS)) {
		pr_warn_once("uart: access at offset 0x%" PRIx64 " beyond the registers ignored",
			     offset);
		return false;
	}
	return true;
}

static uint64_t serial_bus_read(void *dev, uint64_t offset, unsigned width)
{
	struct serial *s = dev;
	uint8_t val;

	if (!serial_access_ok(offset, width))
		return 0;
	pthread_mutex_lock(&s->lock);
	val = serial_reg_read(s, (unsigned)offset);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return val;
}

static void serial_bus_write(void *dev, uint64_t offset, unsigned width, uint64_t value)
{
	struct serial *s = dev;

	if (!serial_access_ok(offset, width))
		return;
	pthread_mutex_lock(&s->lock);
	serial_reg_write(s, (unsigned)offset, (uint8_t)value);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

const struct bus_ops serial_bus_ops = {
	.read = serial_bus_read,
	.write = serial_bus_write,
};

struct serial *serial_create(struct irq_line *irq, const struct serial_host_ops *host)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return NULL;
	}
	s->irq = irq;
	if (host)
		s->host = *host;
	/* 115200 baud from the 1.8432 MHz clock: what earlycon assumes when it programs nothing */
	s->dll = 1;
	return s;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	if (s->tx_dropped)
		pr_info("uart: %" PRIu64 " bytes the guest wrote to a full TX FIFO were dropped",
			s->tx_dropped);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int serial_attach(struct serial *s, struct bus *bus, uint64_t base, struct errbuf *e)
{
	return bus_register(bus, base, UART_SIZE, &serial_bus_ops, s, "uart", e);
}

size_t serial_rx_room(struct serial *s)
{
	size_t room;

	pthread_mutex_lock(&s->lock);
	room = serial_loopback(s) ? 0 : serial_fifo_cap(s) - s->rx.count;
	pthread_mutex_unlock(&s->lock);
	return room;
}

/* In loopback the receiver hears only the transmitter: host input waits (room 0), not lost. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t n)
{
	size_t taken = 0;

	pthread_mutex_lock(&s->lock);
	if (!serial_loopback(s)) {
		while (taken < n && serial_rx_push(s, buf[taken]))
			taken++;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return taken;
}

void serial_tx_ready(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	serial_tx_flush(s);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

uint64_t serial_tx_dropped(struct serial *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->tx_dropped;
	pthread_mutex_unlock(&s->lock);
	return n;
}

// SPDX-License-Identifier: MIT
/*
 * The 16550 driven through its registers the way Linux's 8250 driver does, with a recording
 * interrupt line and a host sink that can be told to refuse bytes.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "arch/aarch64/layout.h"
#include "devices/serial.h"

enum { RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR };
#define FCR IIR
#define DLL RBR
#define DLM IER

#define IER_RDI	 0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IER_MSI	 0x08

#define IIR_NO_INT  0x01
#define IIR_ID_MASK 0x0f
#define IIR_MSI	    0x00
#define IIR_THRI    0x02
#define IIR_RDI	    0x04
#define IIR_RLSI    0x06
#define IIR_CTI	    0x0c
#define IIR_FIFO    0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_TRIG_8   0x80

#define LSR_DR	 0x01
#define LSR_OE	 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS	 0x10
#define MSR_DSR	 0x20
#define MSR_RI	 0x40
#define MSR_DCD	 0x80

#define TEST_INTID 32

struct sink {
	uint8_t out[4096];
	size_t len;
	bool busy;
	size_t per_call; /* 0: take everything offered */
	unsigned tx_calls;
	unsigned rx_space_calls;
};

static size_t sink_tx(void *opaque, const uint8_t *buf, size_t n)
{
	struct sink *k = opaque;

	k->tx_calls++;
	if (k->busy)
		return 0;
	if (k->per_call && n > k->per_call)
		n = k->per_call;
	if (n > sizeof(k->out) - k->len)
		n = sizeof(k->out) - k->len;
	memcpy(k->out + k->len, buf, n);
	k->len += n;
	return n;
}

static void sink_rx_space(void *opaque)
{
	struct sink *k = opaque;

	k->rx_space_calls++;
}

struct irq_rec {
	bool level;
	unsigned changes;
	uint32_t intid;
};

static void irq_record(void *opaque, uint32_t intid, bool level)
{
	struct irq_rec *r = opaque;

	r->level = level;
	r->changes++;
	r->intid = intid;
}

struct fixture {
	struct irq_line line;
	struct irq_rec irq;
	struct sink sink;
	struct serial *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct serial_host_ops host = {
		.tx = sink_tx,
		.rx_space = sink_rx_space,
	};

	if (!f)
		return -1;
	host.opaque = &f->sink;
	irq_line_init(&f->line, irq_record, &f->irq, TEST_INTID);
	f->s = serial_create(&f->line, &host);
	if (!f->s) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	serial_destroy(f->s);
	free(f);
	return 0;
}

static void wr(struct fixture *f, unsigned reg, uint8_t val)
{
	serial_bus_ops.write(f->s, reg, 1, val);
}

static uint8_t rd(struct fixture *f, unsigned reg)
{
	return (uint8_t)serial_bus_ops.read(f->s, reg, 1);
}

static bool line(const struct fixture *f)
{
	return f->irq.level;
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT);
	assert_int_equal(rd(f, IIR), IIR_NO_INT);
	assert_int_equal(rd(f, IER), 0);
	/* a peer that is always there, so getty does not wait for carrier */
	assert_int_equal(rd(f, MSR), MSR_CTS | MSR_DSR | MSR_DCD);
	assert_false(line(f));
	assert_int_equal(f->irq.changes, 0);
}

/*
 * The seed's hang: the tty writes 16 bytes into the FIFO from its THRE handler and then waits for
 * the next THRE interrupt. It must come, every time, until the whole message is out.
 */
static void test_thre_after_16th_byte(void **state)
{
	struct fixture *f = *state;
	char msg[200];
	size_t sent = 0;
	unsigned interrupts = 0;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('a' + i % 26);
	wr(f, FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX | FCR_TRIG_8);
	wr(f, IER, IER_RDI | IER_THRI); /* uart start_tx */
	while (sent < sizeof(msg) && interrupts < 100) {
		uint8_t iir;

		assert_true(line(f));
		interrupts++;
		iir = rd(f, IIR);
		assert_int_equal(iir, IIR_FIFO | IIR_THRI);
		assert_true(rd(f, LSR) & LSR_THRE);
		for (int n = 0; n < SERIAL_FIFO_SIZE && sent < sizeof(msg); n++)
			wr(f, RBR, (uint8_t)msg[sent++]);
	}
	assert_int_equal(sent, sizeof(msg));
	assert_int_equal(f->sink.len, sizeof(msg));
	assert_memory_equal(f->sink.out, msg, sizeof(msg));
	/* the last burst drained too: THRE is pending again, and stop_tx turns it off */
	assert_true(line(f));
	wr(f, IER, IER_RDI);
	assert_false(line(f));
	assert_int_equal(serial_tx_dropped(f->s), 0);
}

static void test_thre_raised_when_etbei_enabled(void **state)
{
	struct fixture *f = *state;

	assert_false(line(f));
	wr(f, IER, IER_THRI);
	assert_true(line(f));
	assert_int_equal(f->irq.intid, TEST_INTID);
	assert_int_equal(rd(f, IIR), IIR_THRI);
	/* reading IIR that reported THRE clears it */
	assert_false(line(f));
	assert_int_equal(rd(f, IIR), IIR_NO_INT);
	assert_true(rd(f, LSR) & LSR_THRE);
	/* Linux's startup test: IER off and on again must re-assert THRE while idle */
	wr(f, IER, 0);
	wr(f, IER, IER_THRI);
	assert_true(line(f));
	assert_int_equal(rd(f, IIR), IIR_THRI);
	wr(f, IER, 0);
	assert_false(line(f));
}

static void test_thre_cleared_by_thr_write_reraised_on_drain(void **state)
{
	struct fixture *f = *state;

	wr(f, FCR, FCR_ENABLE);
	wr(f, IER, IER_THRI);
	assert_true(line(f));
	f->sink.busy = true;
	wr(f, RBR, 'x');
	assert_false(line(f));
	assert_int_equal(rd(f, IIR), IIR_FIFO | IIR_NO_INT);
	assert_int_equal(rd(f, LSR) & (LSR_THRE | LSR_TEMT), 0);
	f->sink.busy = false;
	serial_tx_ready(f->s);
	assert_true(line(f));
	assert_int_equal(rd(f, LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	assert_int_equal(f->sink.len, 1);
	assert_int_equal(f->sink.out[0], 'x');
	/* a THR write also clears a THRE nobody read from IIR */
	f->sink.busy = true;
	wr(f, RBR, 'y');
	assert_false(line(f));
}

static void test_busy_sink_holds_bytes(void **state)
{
	struct fixture *f = *state;
	const char *msg = "0123456789abcdefXYZ";

	wr(f, FCR, FCR_ENABLE);
	wr(f, IER, IER_THRI);
	f->sink.busy = true;
	for (int i = 0; i < 17; i++)
		wr(f, RBR, (uint8_t)msg[i]);
	assert_false(line(f));
	assert_int_equal(f->sink.len, 0);
	assert_int_equal(rd(f, LSR) & (LSR_THRE | LSR_TEMT), 0);
	/* the 17th byte met a full FIFO */
	assert_int_equal(serial_tx_dropped(f->s), 1);
	serial_tx_ready(f->s); /* still busy: nothing changes */
	assert_false(line(f));
	/*
	 * A sink that takes a few bytes at a time (short counts mean busy, so it calls back each
	 * time): THRE waits for the last byte, and the FIFO wraps around on the way.
	 */
	f->sink.busy = false;
	f->sink.per_call = 5;
	for (int i = 0; i < 3; i++) {
		serial_tx_ready(f->s);
		assert_int_equal(f->sink.len, 5 * (i + 1));
		assert_false(line(f));
	}
	serial_tx_ready(f->s);
	assert_int_equal(f->sink.len, 16);
	assert_memory_equal(f->sink.out, msg, 16);
	assert_true(line(f));
	assert_int_equal(rd(f, IIR), IIR_FIFO | IIR_THRI);
}

static void test_partial_sink_keeps_order(void **state)
{
	struct fixture *f = *state;
	const char *msg = "the quick brown fox jumps over the lazy dog";
	size_t n = strlen(msg), sent = 0;

	wr(f, FCR, FCR_ENABLE);
	f->sink.per_call = 3;
	while (sent < n) {
		f->sink.busy = true;
		for (int i = 0; i < 7 && sent < n; i++)
			wr(f, RBR, (uint8_t)msg[sent++]);
		f->sink.busy = false;
		for (int i = 0; i < 10 && f->sink.len < sent; i++)
			serial_tx_ready(f->s);
		assert_int_equal(f->sink.len, sent);
	}
	assert_int_equal(f->sink.len, n);
	assert_memory_equal(f->sink.out, msg, n);
}

/* Loopback with FIFOs off makes all four sources pend at once: overrun, data, THRE, MSR deltas. */
static void test_iir_priorities(void **state)
{
	struct fixture *f = *state;

	wr(f, MCR, MCR_LOOP);
	wr(f, RBR, 'a');
	wr(f, RBR, 'b'); /* the receiver holds one byte: overrun */
	wr(f, IER, IER_RDI | IER_THRI | IER_RLSI | IER_MSI);
	assert_true(line(f));
	assert_int_equal(rd(f, IIR), IIR_RLSI);
	assert_int_equal(rd(f, IIR), IIR_RLSI); /* stays until LSR is read */
	assert_int_equal(rd(f, LSR), LSR_OE | LSR_DR | LSR_THRE | LSR_TEMT);
	assert_int_equal(rd(f, IIR), IIR_RDI);
	assert_int_equal(rd(f, RBR), 'a');
	assert_true(line(f));
	assert_int_equal(rd(f, IIR), IIR_THRI);
	assert_int_equal(rd(f, IIR), IIR_MSI);
	assert_int_equal(rd(f, MSR) & 0x0f, MSR_DCTS | MSR_DDSR | MSR_DDCD);
	assert_int_equal(rd(f, IIR), IIR_NO_INT);
	assert_false(line(f));
}

/* The same order with FIFOs on, through the host side: OE > RX data > THRE, masked ones skipped. */
static void test_iir_priorities_fifo(void **state)
{
	struct fixture *f = *state;
	uint8_t in[SERIAL_FIFO_SIZE + 1];

	memset(in, 'r', sizeof(in));
	wr(f, FCR, FCR_ENABLE);
	assert_int_equal(serial_receive(f->s, in, sizeof(in)), SERIAL_FIFO_SIZE);
	/* all masked: nothing on the line */
	assert_false(line(f));
	assert_int_equal(rd(f, IIR), IIR_FIFO | IIR_NO_INT);
	wr(f, IER, IER_THRI | IER_RDI | IER_RLSI);
	assert_true(line(f));
	assert_int_equal(rd(f, IIR), IIR_FIFO | IIR_RLSI);
	assert_true(rd(f, LSR) & LSR_OE);
	assert_int_equal(rd(f, IIR), IIR_FIFO | IIR_RDI);
	for (int i = 0; i < SERIAL_FIFO_SIZE; i++)
		assert_int_equal(rd(f, RBR), 'r');
	assert_int_equal(rd(f, IIR), IIR_FIFO | IIR_THRI);
	assert_false(line(f));
}

static void test_rx_path(void **state)
{
	struct fixture *f = *state;

	wr(f, FCR, FCR_ENABLE);
	wr(f, IER, IER_RDI);
	assert_int_equal(serial_rx_room(f->s), SERIAL_FIFO_SIZE);
	assert_false(line(f));
	assert_int_equal(serial_receive(f->s, (const uint8_t *)"hi", 2), 2);
	assert_int_equal(serial_rx_room(f->s), SERIAL_FIFO_SIZE - 2);
	assert_true(line(f));
	assert_int_equal(rd(f, IIR), IIR_FIFO | IIR_RDI);
	assert_true(rd(f, LSR) & LSR_DR);
	f->sink.rx_space_calls = 0;
	assert_int_equal(rd(f, RBR), 'h');
	assert_int_equal(f->sink.rx_space_calls, 1);
	assert_true(line(f));
	assert_int_equal(rd(f, RBR), 'i');
	assert_int_equal(f->sink.rx_space_calls, 2);
	assert_false(line(f));
	assert_false(rd(f, LSR) & LSR_DR);
	assert_int_equal(rd(f, IIR), IIR_FIFO | IIR_NO_INT);
	/* an empty RBR read pops nothing and announces no room */
	rd(f, RBR);
	assert_int_equal(f->sink.rx_space_calls, 2);
	assert_int_equal(serial_rx_room(f->s), SERIAL_FIFO_SIZE);
}

static void test_rx_trigger_level(void **state)
{
	struct fixture *f = *state;

	wr(f, FCR, FCR_ENABLE | FCR_TRIG_8);
	wr(f, IER, IER_RDI);
	serial_receive(f->s, (const uint8_t *)"abc", 3);
	/* below the trigger level the data is reported as a character timeout */
	assert_true(line(f));
	assert_int_equal(rd(f, IIR), IIR_FIFO | IIR_CTI);
	serial_receive(f->s, (const uint8_t *)"defgh", 5);
	assert_int_equal(rd(f, IIR), IIR_FIFO | IIR_RDI);
}

static void test_overrun(void **state)
{
	struct fixture *f = *state;
	uint8_t in[SERIAL_FIFO_SIZE + 4];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	wr(f, FCR, FCR_ENABLE);
	wr(f, IER, IER_RLSI);
	assert_int_equal(serial_receive(f->s, in, sizeof(in)), SERIAL_FIFO_SIZE);
	assert_int_equal(serial_rx_room(f->s), 0);
	assert_true(line(f));
	assert_int_equal(rd(f, LSR) & (LSR_OE | LSR_DR), LSR_OE | LSR_DR);
	/* OE is sticky until LSR is read, then gone */
	assert_false(line(f));
	assert_int_equal(rd(f, LSR) & LSR_OE, 0);
	for (int i = 0; i < SERIAL_FIFO_SIZE; i++)
		assert_int_equal(rd(f, RBR), i);
	assert_false(rd(f, LSR) & LSR_DR);
}

static void test_no_fifo_holds_one_byte(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(serial_rx_room(f->s), 1);
	assert_int_equal(serial_receive(f->s, (const uint8_t *)"xy", 2), 1);
	assert_int_equal(rd(f, LSR) & (LSR_OE | LSR_DR), LSR_OE | LSR_DR);
	assert_int_equal(rd(f, RBR), 'x');
	f->sink.busy = true;
	wr(f, RBR, '1');
	wr(f, RBR, '2');
	assert_int_equal(serial_tx_dropped(f->s), 1);
	f->sink.busy = false;
	serial_tx_ready(f->s);
	assert_int_equal(f->sink.len, 1);
	assert_int_equal(f->sink.out[0], '1');
}

static void test_fifo_enable_and_reset(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, IIR) & IIR_FIFO, 0);
	wr(f, FCR, FCR_ENABLE);
	assert_int_equal(rd(f, IIR) & IIR_FIFO, IIR_FIFO);
	serial_receive(f->s, (const uint8_t *)"12345", 5);
	f->sink.rx_space_calls = 0;
	wr(f, FCR, FCR_ENABLE | FCR_CLEAR_RX);
	assert_false(rd(f, LSR) & LSR_DR);
	assert_int_equal(serial_rx_room(f->s), SERIAL_FIFO_SIZE);
	assert_int_equal(f->sink.rx_space_calls, 1);
	assert_int_equal(rd(f, IIR) & IIR_FIFO, IIR_FIFO);

	f->sink.busy = true;
	wr(f, RBR, 'a');
	wr(f, RBR, 'b');
	wr(f, IER, IER_THRI);
	assert_false(line(f));
	wr(f, FCR, FCR_ENABLE | FCR_CLEAR_TX);
	assert_int_equal(rd(f, LSR) & LSR_THRE, LSR_THRE);
	assert_true(line(f)); /* the transmitter emptied */
	f->sink.busy = false;
	serial_tx_ready(f->s);
	assert_int_equal(f->sink.len, 0);

	/* turning the FIFOs off empties them and drops the FIFO bits from IIR */
	serial_receive(f->s, (const uint8_t *)"zz", 2);
	wr(f, FCR, 0);
	assert_int_equal(rd(f, IIR) & IIR_FIFO, 0);
	assert_false(rd(f, LSR) & LSR_DR);
	assert_int_equal(serial_rx_room(f->s), 1);
}

static void test_divisor_latch(void **state)
{
	struct fixture *f = *state;

	wr(f, IER, IER_RDI);
	wr(f, LCR, 0x80 | 0x03);
	wr(f, DLL, 0x0c);
	wr(f, DLM, 0x01);
	assert_int_equal(rd(f, DLL), 0x0c);
	assert_int_equal(rd(f, DLM), 0x01);
	assert_int_equal(f->sink.len, 0); /* DLL writes are not transmitted */
	wr(f, LCR, 0x03);
	assert_int_equal(rd(f, LCR), 0x03);
	assert_int_equal(rd(f, IER), IER_RDI); /* IER untouched by the DLM write */
	wr(f, RBR, 'Q');
	assert_int_equal(f->sink.len, 1);
	assert_int_equal(f->sink.out[0], 'Q');
	wr(f, LCR, 0x83);
	assert_int_equal(rd(f, DLL), 0x0c);
	assert_int_equal(rd(f, DLM), 0x01);
}

static void test_loopback(void **state)
{
	struct fixture *f = *state;

	wr(f, FCR, FCR_ENABLE);
	wr(f, MCR, MCR_LOOP | MCR_DTR | MCR_RTS);
	/* CTS/DSR follow RTS/DTR, RI/DCD follow OUT1/OUT2 (both off): DCD fell */
	assert_int_equal(rd(f, MSR), MSR_CTS | MSR_DSR | MSR_DDCD);
	assert_int_equal(rd(f, MSR), MSR_CTS | MSR_DSR);
	wr(f, MCR, MCR_LOOP | MCR_OUT1 | MCR_OUT2);
	assert_int_equal(rd(f, MSR), MSR_RI | MSR_DCD | MSR_DCTS | MSR_DDSR | MSR_DDCD);
	wr(f, MCR, MCR_LOOP | MCR_OUT2);
	assert_int_equal(rd(f, MSR), MSR_DCD | MSR_TERI); /* RI's trailing edge */

	wr(f, RBR, 'L');
	wr(f, RBR, 'B');
	assert_int_equal(f->sink.len, 0);
	assert_int_equal(rd(f, LSR) & (LSR_DR | LSR_THRE), LSR_DR | LSR_THRE);
	assert_int_equal(rd(f, RBR), 'L');
	assert_int_equal(rd(f, RBR), 'B');
	/* the serial input is cut: host bytes wait rather than vanish */
	assert_int_equal(serial_rx_room(f->s), 0);
	assert_int_equal(serial_receive(f->s, (const uint8_t *)"h", 1), 0);
	assert_false(rd(f, LSR) & (LSR_DR | LSR_OE));
	f->sink.rx_space_calls = 0;
	wr(f, MCR, MCR_OUT2);
	assert_int_equal(f->sink.rx_space_calls, 1);
	assert_int_equal(serial_rx_room(f->s), SERIAL_FIFO_SIZE);
	assert_int_equal(rd(f, MSR), MSR_CTS | MSR_DSR | MSR_DCD | MSR_DCTS | MSR_DDSR);
	wr(f, RBR, 'o');
	assert_int_equal(f->sink.len, 1);
	assert_int_equal(f->sink.out[0], 'o');
}

static void test_loopback_takes_held_tx(void **state)
{
	struct fixture *f = *state;

	wr(f, FCR, FCR_ENABLE);
	f->sink.busy = true;
	wr(f, RBR, 'k');
	wr(f, MCR, MCR_LOOP);
	assert_int_equal(rd(f, RBR), 'k');
	assert_true(rd(f, LSR) & LSR_THRE);
	f->sink.busy = false;
	serial_tx_ready(f->s);
	assert_int_equal(f->sink.len, 0);
}

static void test_scratch(void **state)
{
	struct fixture *f = *state;

	wr(f, SCR, 0x5a);
	assert_int_equal(rd(f, SCR), 0x5a);
	wr(f, SCR, 0xa5);
	assert_int_equal(rd(f, SCR), 0xa5);
	assert_int_equal(f->sink.len, 0);
}

static void test_odd_widths_and_offsets_ignored(void **state)
{
	struct fixture *f = *state;
	static const unsigned widths[] = { 2, 4, 8 };

	wr(f, SCR, 0x11);
	for (size_t i = 0; i < 3; i++) {
		serial_bus_ops.write(f->s, RBR, widths[i], 'W');
		serial_bus_ops.write(f->s, SCR, widths[i], 0x22);
		assert_int_equal(serial_bus_ops.read(f->s, LSR, widths[i]), 0);
		assert_int_equal(serial_bus_ops.read(f->s, SCR, widths[i]), 0);
	}
	for (uint64_t off = 8; off < UART_SIZE; off += 0x1f7) {
		serial_bus_ops.write(f->s, off, 1, 'O');
		assert_int_equal(serial_bus_ops.read(f->s, off, 1), 0);
	}
	serial_bus_ops.write(f->s, UART_SIZE - 1, 1, 'O');
	assert_int_equal(serial_bus_ops.read(f->s, UART_SIZE - 1, 1), 0);
	assert_int_equal(f->sink.len, 0);
	assert_int_equal(rd(f, SCR), 0x11);
	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT);
	assert_false(line(f));
}

static void test_attached_to_bus(void **state)
{
	struct fixture *f = *state;
	struct bus bus;
	struct errbuf e;

	bus_init(&bus);
	assert_int_equal(serial_attach(f->s, &bus, UART_BASE, &e), 0);
	assert_string_equal(bus_find(&bus, UART_BASE)->name, "uart");
	assert_ptr_equal(bus_find(&bus, UART_BASE + UART_SIZE - 1)->dev, f->s);
	assert_null(bus_find(&bus, UART_BASE + UART_SIZE));
	bus_write(&bus, UART_BASE, 1, 'H');
	bus_write(&bus, UART_BASE, 4, 'X'); /* the seed's str-instead-of-strb: ignored */
	assert_int_equal(f->sink.len, 1);
	assert_int_equal(f->sink.out[0], 'H');
	assert_int_equal(bus_read(&bus, UART_BASE + LSR, 1), LSR_THRE | LSR_TEMT);
	bus_destroy(&bus);
}

/* The probe in Linux's serial8250_do_startup that marks a UART which does not re-assert THRE. */
static void test_linux_thre_probe(void **state)
{
	struct fixture *f = *state;
	uint8_t iir1, iir;

	wr(f, FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX);
	wr(f, FCR, 0);
	wr(f, LCR, 0x03);
	wr(f, MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
	assert_int_equal(rd(f, LSR) & LSR_TEMT, LSR_TEMT);
	wr(f, IER, IER_THRI);
	iir1 = rd(f, IIR);
	wr(f, IER, 0);
	wr(f, IER, IER_THRI);
	iir = rd(f, IIR);
	wr(f, IER, 0);
	assert_int_equal(iir1 & IIR_ID_MASK, IIR_THRI);
	assert_int_equal(iir & IIR_ID_MASK, IIR_THRI);
	assert_false(line(f));
}

#define STREAM_LEN 20000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A console thread that only pushes what fits, as serial_receive's contract asks. */
static void *stream_producer(void *opaque)
{
	struct serial *s = opaque;
	size_t sent = 0;
	double deadline = now_s() + 20;

	while (sent < STREAM_LEN && now_s() < deadline) {
		uint8_t chunk[7];
		size_t room = serial_rx_room(s), n = 0;

		while (n < room && n < sizeof(chunk) && sent + n < STREAM_LEN) {
			chunk[n] = (uint8_t)((sent + n) * 31);
			n++;
		}
		if (!n) {
			sched_yield();
			continue;
		}
		sent += serial_receive(s, chunk, n);
	}
	return NULL;
}

/* Host input racing guest reads: every byte arrives, in order, and OE never shows. */
static void test_rx_stream_loses_nothing(void **state)
{
	struct fixture *f = *state;
	pthread_t producer;
	size_t got = 0;
	double deadline = now_s() + 20;

	wr(f, FCR, FCR_ENABLE | FCR_TRIG_8);
	wr(f, IER, IER_RDI | IER_RLSI);
	f->sink.rx_space_calls = 0; /* enabling the FIFO announced room once */
	assert_int_equal(pthread_create(&producer, NULL, stream_producer, f->s), 0);
	while (got < STREAM_LEN && now_s() < deadline) {
		uint8_t lsr = rd(f, LSR);

		assert_false(lsr & LSR_OE);
		if (!(lsr & LSR_DR)) {
			sched_yield();
			continue;
		}
		assert_int_equal(rd(f, RBR), (uint8_t)(got * 31));
		got++;
	}
	pthread_join(producer, NULL);
	assert_int_equal(got, STREAM_LEN);
	assert_int_equal(f->sink.rx_space_calls, STREAM_LEN);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_reset_state),
		T(test_thre_after_16th_byte),
		T(test_thre_raised_when_etbei_enabled),
		T(test_thre_cleared_by_thr_write_reraised_on_drain),
		T(test_busy_sink_holds_bytes),
		T(test_partial_sink_keeps_order),
		T(test_iir_priorities),
		T(test_iir_priorities_fifo),
		T(test_rx_path),
		T(test_rx_trigger_level),
		T(test_overrun),
		T(test_no_fifo_holds_one_byte),
		T(test_fifo_enable_and_reset),
		T(test_divisor_latch),
		T(test_loopback),
		T(test_loopback_takes_held_tx),
		T(test_scratch),
		T(test_odd_widths_and_offsets_ignored),
		T(test_attached_to_bus),
		T(test_linux_thre_probe),
		T(test_rx_stream_loses_nothing),
	};
#undef T

	return cmocka_run_group_tests_name("serial", tests, NULL, NULL);
}

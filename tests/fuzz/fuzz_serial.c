// SPDX-License-Identifier: MIT
/*
 * 16550 register sequences: guest register accesses interleaved with host input
 * (serial_receive), a host sink that accepts only as many bytes as the input allows, and its
 * serial_tx_ready() calls.
 *
 * Input: operations until the input ends:
 *   0 write     u8 register (& 7), u8 value
 *   1 read      u8 register (& 7)
 *   2 receive   u8 n, n bytes from the host
 *   3 tx ready  the host sink has room again
 *   4 budget    u8: bytes the sink takes before it is busy (255: unlimited)
 *   5 access    u16 offset, u8 width, u8 write, u8 value: any access to the window
 * Checked: the line is high exactly when IIR reports an interrupt, the host sees at most a FIFO
 * of bytes per call, serial_receive takes min(n, room) bytes, reads are one byte wide.
 */
#include "devices/irq.h"
#include "devices/serial.h"
#include "tests/fuzz/fuzz.h"

enum { OP_WRITE, OP_READ, OP_RECEIVE, OP_TX_READY, OP_BUDGET, OP_ACCESS, OP_NR };

#define UART_IIR      2
#define IIR_NONE      0x01
#define BUDGET_ALWAYS 255

struct fuzz_serial {
	struct serial *s;
	struct irq_line irq;
	bool level;
	unsigned budget; /* bytes the sink takes before it is busy */
	uint64_t sunk;
	unsigned rx_space_calls;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

static void set_level(void *opaque, uint32_t intid, bool level)
{
	struct fuzz_serial *f = opaque;

	f->level = level;
}

static size_t host_tx(void *opaque, const uint8_t *buf, size_t n)
{
	struct fuzz_serial *f = opaque;
	size_t take = n;

	FUZZ_CHECK(n >= 1 && n <= SERIAL_FIFO_SIZE);
	for (size_t i = 0; i < n; i++)
		f->sunk += buf[i];
	if (f->budget != BUDGET_ALWAYS) {
		take = n < f->budget ? n : f->budget;
		f->budget -= (unsigned)take;
	}
	return take;
}

static void host_rx_space(void *opaque)
{
	struct fuzz_serial *f = opaque;

	f->rx_space_calls++;
}

static void reg_read(struct fuzz_serial *f, unsigned reg)
{
	bool level = f->level;
	uint64_t val = serial_bus_ops.read(f->s, reg, 1);

	FUZZ_CHECK(val <= 0xff);
	/* The line was computed from the state IIR now reports on (before the read clears THRE). */
	if (reg == UART_IIR)
		FUZZ_CHECK(level == ((val & 0x0f) != IIR_NONE));
}

static void host_receive(struct fuzz_serial *f, struct fuzz_in *in)
{
	size_t n = fz_u8(in), got, room = serial_rx_room(f->s);
	const uint8_t *buf = fz_take(in, n, &got);
	size_t taken = serial_receive(f->s, buf, got);

	FUZZ_CHECK(room <= SERIAL_FIFO_SIZE);
	FUZZ_CHECK(taken == (got < room ? got : room));
}

static void odd_access(struct fuzz_serial *f, struct fuzz_in *in)
{
	uint16_t off = fz_u16(in);
	uint8_t width = fz_u8(in), write = fz_u8(in), val = fz_u8(in);

	if (write & 1)
		serial_bus_ops.write(f->s, off, width, val);
	else
		FUZZ_CHECK(serial_bus_ops.read(f->s, off, width) <= 0xff);
}

static void serial_op(struct fuzz_serial *f, struct fuzz_in *in)
{
	uint8_t reg;

	switch (fz_u8(in) % OP_NR) {
	case OP_WRITE:
		reg = fz_u8(in) & 7;
		serial_bus_ops.write(f->s, reg, 1, fz_u8(in));
		break;
	case OP_READ:
		reg_read(f, fz_u8(in) & 7);
		break;
	case OP_RECEIVE:
		host_receive(f, in);
		break;
	case OP_TX_READY:
		serial_tx_ready(f->s);
		break;
	case OP_BUDGET:
		f->budget = fz_u8(in);
		break;
	default:
		odd_access(f, in);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);
	struct fuzz_serial f = { .budget = BUDGET_ALWAYS };
	struct serial_host_ops host = { .tx = host_tx, .rx_space = host_rx_space, .opaque = &f };

	irq_line_init(&f.irq, set_level, &f, 32);
	f.s = serial_create(&f.irq, &host);
	FUZZ_CHECK(f.s);
	while (!fz_empty(&in))
		serial_op(&f, &in);
	serial_destroy(f.s);
	return 0;
}

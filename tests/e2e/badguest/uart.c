// SPDX-License-Identifier: MIT
/*
 * Abusing the 16550: accesses of the wrong width, past the eight registers, to read-only
 * registers, and an RX overrun. The UART's own loopback mode is the witness: whatever the
 * transmitter accepted comes back on the receiver, so a refused write leaves LSR.DR clear.
 * Nothing is printed while loopback is on (it would loop back too).
 */
#include "bg.h"

enum { RBR = 0, IER = 1, IIR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
#define LSR_DR	 0x01
#define LSR_OE	 0x02
#define MCR_LOOP 0x10
#define LCR_DLAB 0x80

struct uart_obs {
	u64 rd2, rd4, rd8, rd_win[4];
	u8 lsr_after_bad, lsr_after_good, echoed, lsr_overrun, overrun_bytes;
	u8 lsr_ro, msr_ro, dll, dlm, ier, scr;
	unsigned drained;
};

/* Empties the receiver; returns how many bytes it held. */
static unsigned uart_drain(u64 u)
{
	unsigned n = 0;

	while ((rd8(u + LSR) & LSR_DR) && n < 64) {
		rd8(u + RBR);
		n++;
	}
	return n;
}

/* Writes that must all be refused: wider than a byte, or outside the register window. */
static void uart_bad_writes(u64 u)
{
	probe_write(u + RBR, 2, 0x4142);
	probe_write(u + 4, 4, 0x43444546);
	probe_write(u + 8, 8, 0x4748494a4b4c4d4eULL);
	probe_write(u + 8, 1, 'X');
	probe_write(u + 0x10, 1, 'Y');
	probe_write(u + 0x100, 4, 0x5a5a5a5a);
	probe_write(u + 0xff8, 8, 0x5b5b5b5b5b5b5b5bULL);
	probe_write(u + 0xfff, 1, 'Z');
}

static void uart_loopback_tests(u64 u, struct uart_obs *o)
{
	u8 mcr = rd8(u + MCR);
	bool fifo_on = rd8(u + IIR) & 0xc0;

	wr8(u + MCR, MCR_LOOP);
	o->drained = uart_drain(u);
	uart_bad_writes(u);
	o->lsr_after_bad = rd8(u + LSR);
	uart_drain(u);
	wr8(u + RBR, 'k');
	o->lsr_after_good = rd8(u + LSR);
	o->echoed = rd8(u + RBR);
	/* FIFOs off: a one-byte receiver, so the second byte overruns it */
	wr8(u + IIR, 0x00);
	wr8(u + RBR, '1');
	wr8(u + RBR, '2');
	o->lsr_overrun = rd8(u + LSR);
	o->overrun_bytes = (u8)uart_drain(u);
	wr8(u + IIR, fifo_on ? 0x07 : 0x00);
	wr8(u + MCR, mcr);
	uart_set_base(u); /* the console's FIFO state and TX room, from scratch */
}

static void uart_register_tests(u64 u, struct uart_obs *o)
{
	u8 lcr = rd8(u + LCR);

	o->rd2 = probe_read(u + 4, 2).val;
	o->rd4 = probe_read(u + 4, 4).val;
	o->rd8 = probe_read(u + 0, 8).val;
	o->rd_win[0] = probe_read(u + 8, 1).val;
	o->rd_win[1] = probe_read(u + 0x40, 4).val;
	o->rd_win[2] = probe_read(u + 0xff8, 8).val;
	o->rd_win[3] = probe_read(u + 0xfff, 1).val;
	/* LSR and MSR are read-only */
	wr8(u + LSR, 0xff);
	wr8(u + MSR, 0xff);
	o->lsr_ro = rd8(u + LSR);
	o->msr_ro = rd8(u + MSR);
	/* the divisor latch behind DLAB, then back */
	wr8(u + LCR, LCR_DLAB | 0x03);
	wr8(u + RBR, 0xff);
	wr8(u + IER, 0xff);
	o->dll = rd8(u + RBR);
	o->dlm = rd8(u + IER);
	wr8(u + RBR, 1); /* 115200 baud, what ignition starts with */
	wr8(u + IER, 0);
	wr8(u + LCR, lcr);
	/* IER keeps its four defined bits; the line it raises goes nowhere (GIC untouched) */
	wr8(u + IER, 0xff);
	o->ier = rd8(u + IER);
	wr8(u + IER, 0);
	wr8(u + SCR, 0x5a);
	o->scr = rd8(u + SCR);
}

void uart_abuse(const struct machine *m)
{
	u64 u = m->uart;
	struct uart_obs o;
	struct probe p;
	bool refused, accepted, overrun;

	memset(&o, 0, sizeof(o));
	uart_register_tests(u, &o);
	uart_loopback_tests(u, &o);
	pr("BG uart: 2/4/8-byte reads %#lx %#lx %#lx; past the registers %#lx %#lx %#lx %#lx\n",
	   o.rd2, o.rd4, o.rd8, o.rd_win[0], o.rd_win[1], o.rd_win[2], o.rd_win[3]);
	pr("BG uart: LSR/MSR after writing 0xff to them %#x %#x; DLL/DLM %#x %#x; IER(0xff) %#x; "
	   "SCR %#x\n",
	   o.lsr_ro, o.msr_ro, o.dll, o.dlm, o.ier, o.scr);
	pr("BG uart: loopback: LSR after wide/out-of-window writes %#x, after a byte %#x, echoed "
	   "'%c'; overrun LSR %#x (%u byte kept)\n",
	   o.lsr_after_bad, o.lsr_after_good, o.echoed, o.lsr_overrun, o.overrun_bytes);
	/* an unaligned access never leaves the guest: the CPU's own alignment fault */
	p = probe_read(u + 1, 2);
	pr("BG uart: unaligned 2-byte read at +1: faulted=%d esr=%#lx\n", p.faulted, p.esr);
	refused = !(o.lsr_after_bad & LSR_DR) && !(o.rd2 | o.rd4 | o.rd8) &&
		  !(o.rd_win[0] | o.rd_win[1] | o.rd_win[2] | o.rd_win[3]);
	accepted = (o.lsr_after_good & LSR_DR) && o.echoed == 'k';
	overrun = (o.lsr_overrun & LSR_OE) && o.overrun_bytes == 1;
	pr("BGR uart refused=%d byte_ok=%d overrun=%d ier=%#x\n", refused, accepted, overrun,
	   o.ier);
}

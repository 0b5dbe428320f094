// SPDX-License-Identifier: MIT
/* The guest's small runtime: a polled 16550 console, printf, timing, exceptions, probes. */
#include "bg.h"

#define UART_THR      0
#define UART_FCR      2
#define UART_LSR      5
#define LSR_THRE      0x20
#define FCR_FIFO_ON   0x07 /* enable, clear both FIFOs */
#define TX_FIFO_BYTES 16
#define THRE_WAIT_US  100000

static u64 uart_base;
static unsigned tx_room;

/* FIFOs on: one LSR read per 16 bytes instead of one per byte (each access is a VM exit). */
void uart_set_base(u64 base)
{
	uart_base = base;
	wr8(base + UART_FCR, FCR_FIFO_ON);
	tx_room = 0;
}

/* A VMM that stops taking bytes must not hang the program: give up on a byte after 100 ms. */
static void uart_putc(char c)
{
	u64 end;

	if (!uart_base)
		return;
	if (!tx_room) {
		end = now_ticks() + ticks_per_ms() * (THRE_WAIT_US / 1000);
		while (!(rd8(uart_base + UART_LSR) & LSR_THRE))
			if (now_ticks() > end)
				return;
		tx_room = TX_FIFO_BYTES;
	}
	wr8(uart_base + UART_THR, (u8)c);
	tx_room--;
}

static void out(char c)
{
	if (c == '\n')
		uart_putc('\r');
	uart_putc(c);
}

/* width < 0: left-justified in -width columns */
static void out_str(const char *s, int width)
{
	int n = (int)strlen(s);

	for (int i = n; i < width; i++)
		out(' ');
	while (*s)
		out(*s++);
	for (int i = n; i < -width; i++)
		out(' ');
}

static void out_num(u64 v, unsigned base, bool neg, int width, char pad, bool alt)
{
	char buf[24];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (alt && base == 16) {
		out('0');
		out('x');
	}
	if (neg)
		out('-');
	for (int w = n + neg; w < width; w++)
		out(pad);
	while (n)
		out(buf[--n]);
}

/* printf for %[#][0|-][width][l|ll|z](d|i|u|x|s|c|p|%); "\n" becomes "\r\n". */
void vpr(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		bool alt = false, lng = false, left = false;
		char pad = ' ';
		int width = 0;
		s64 sv;
		u64 v;

		if (*fmt != '%') {
			out(*fmt);
			continue;
		}
		fmt++;
		if (*fmt == '#') {
			alt = true;
			fmt++;
		}
		if (*fmt == '0')
			pad = '0';
		if (*fmt == '-') {
			left = true;
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng = true;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i':
			sv = lng ? va_arg(ap, s64) : va_arg(ap, int);
			out_num(sv < 0 ? 0 - (u64)sv : (u64)sv, 10, sv < 0, width, pad, false);
			break;
		case 'u':
		case 'x':
			v = lng ? va_arg(ap, u64) : va_arg(ap, unsigned int);
			out_num(v, *fmt == 'u' ? 10 : 16, false, width, pad, alt);
			break;
		case 'p':
			out_num((u64)(uintptr_t)va_arg(ap, void *), 16, false, width, pad, true);
			break;
		case 's':
			out_str(va_arg(ap, const char *), left ? -width : width);
			break;
		case 'c':
			out((char)va_arg(ap, int));
			break;
		case '\0':
			return;
		default:
			out(*fmt);
			break;
		}
	}
}

void pr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpr(fmt, ap);
	va_end(ap);
}

void *memset(void *s, int c, size_t n)
{
	volatile u8 *p = s;

	while (n--)
		*p++ = (u8)c;
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	volatile u8 *dp = d;
	const volatile u8 *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (u8)*a - (u8)*b;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

u64 now_ticks(void)
{
	u64 v;

	asm volatile("isb; mrs %0, cntvct_el0" : "=r"(v) : : "memory");
	return v;
}

u64 ticks_per_ms(void)
{
	u64 f;

	asm volatile("mrs %0, cntfrq_el0" : "=r"(f));
	f &= 0xffffffff;
	return f >= 1000 ? f / 1000 : 62500; /* an unset CNTFRQ: assume QEMU's 62.5 MHz */
}

void delay_us(u64 us)
{
	u64 end = now_ticks() + ticks_per_ms() * us / 1000;

	while (now_ticks() < end)
		;
}

/* ---- exceptions ---- */
struct frame {
	u64 x[31];
	u64 elr;
	u64 spsr;
	u64 pad;
};

volatile struct exc_stats exc;

#define ESR_EC(esr) ((unsigned)((esr) >> 26) & 0x3f)
#define EC_UNKNOWN  0x00
#define EC_DABT_LOW 0x24
#define EC_DABT_CUR 0x25
#define EC_SERROR   0x2f
#define VEC_KIND(i) ((i)&3) /* 0 sync, 1 IRQ, 2 FIQ, 3 SError */

static void exc_fatal(const struct frame *f, u64 index, u64 esr, u64 far)
{
	pr("BG FATAL exception: vector %u esr=%#lx far=%#lx elr=%#lx spsr=%#lx\n", (unsigned)index,
	   esr, far, f->elr, f->spsr);
	pr("BGR fatal vector=%u esr=%#lx\n", (unsigned)index, esr);
	psci_system_off();
}

/*
 * Data aborts and undefined instructions are skipped: every access the program makes on purpose
 * is a single 4-byte instruction whose destination keeps FAULT_VALUE when skipped. An SError is
 * asynchronous (ELR is where it was taken, not the culprit): it is only counted.
 */
void exc_handle(struct frame *f, u64 index)
{
	u64 esr, far;

	asm volatile("mrs %0, esr_el1" : "=r"(esr));
	asm volatile("mrs %0, far_el1" : "=r"(far));
	switch (VEC_KIND(index)) {
	case 3:
		exc.serror++;
		exc.last_esr = esr;
		return;
	case 1:
	case 2:
		/* Interrupts stay masked; one taken anyway is counted and the line left alone. */
		exc.irq++;
		return;
	}
	if (index >= 8)
		exc_fatal(f, index, esr, far);
	switch (ESR_EC(esr)) {
	case EC_DABT_CUR:
	case EC_DABT_LOW:
	case EC_UNKNOWN:
		exc.sync++;
		exc.last_esr = esr;
		exc.last_far = far;
		f->elr += 4;
		return;
	default:
		exc_fatal(f, index, esr, far);
	}
}

static u64 load(u64 addr, unsigned width)
{
	u64 v = FAULT_VALUE;

	switch (width) {
	case 1:
		asm volatile("ldrb %w0, [%1]" : "+r"(v) : "r"(addr) : "memory");
		break;
	case 2:
		asm volatile("ldrh %w0, [%1]" : "+r"(v) : "r"(addr) : "memory");
		break;
	case 4:
		asm volatile("ldr %w0, [%1]" : "+r"(v) : "r"(addr) : "memory");
		break;
	default:
		asm volatile("ldr %0, [%1]" : "+r"(v) : "r"(addr) : "memory");
		break;
	}
	return v;
}

static void store(u64 addr, unsigned width, u64 v)
{
	switch (width) {
	case 1:
		asm volatile("strb %w0, [%1]" : : "r"(v), "r"(addr) : "memory");
		break;
	case 2:
		asm volatile("strh %w0, [%1]" : : "r"(v), "r"(addr) : "memory");
		break;
	case 4:
		asm volatile("str %w0, [%1]" : : "r"(v), "r"(addr) : "memory");
		break;
	default:
		asm volatile("str %0, [%1]" : : "r"(v), "r"(addr) : "memory");
		break;
	}
}

struct probe probe_read(u64 addr, unsigned width)
{
	u64 before = exc.sync;
	struct probe p;

	p.val = load(addr, width);
	dsb();
	p.faulted = exc.sync != before;
	p.esr = p.faulted ? exc.last_esr : 0;
	return p;
}

struct probe probe_write(u64 addr, unsigned width, u64 val)
{
	u64 before = exc.sync;
	struct probe p = { .val = val };

	store(addr, width, val);
	dsb();
	p.faulted = exc.sync != before;
	p.esr = p.faulted ? exc.last_esr : 0;
	return p;
}

void psci_system_off(void)
{
	hvc_call(PSCI_SYSTEM_OFF, 0, 0, 0);
	pr("BG SYSTEM_OFF returned\n");
	for (;;)
		asm volatile("wfi");
}

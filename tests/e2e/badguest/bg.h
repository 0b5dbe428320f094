/* SPDX-License-Identifier: MIT */
/*
 * The misbehaving guest: a bare-metal aarch64 program that ignition boots as a kernel Image and
 * that abuses every device it finds. It runs at EL1 with the MMU off, so every data access is
 * Device-nGnRnE: naturally aligned accesses only (-mstrict-align) and no caches to maintain.
 *
 * Output: "BG ..." lines say what a step did and got back; "BGR <key> <values>" lines are the
 * results the rig's scenario checks (tests/e2e/host/scenario.sh).
 */
#ifndef BADGUEST_BG_H
#define BADGUEST_BG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SZ_1M	      0x100000ULL

/* What the device tree (or, failing that, ignition's fixed layout) says the machine is. */
#define MAX_VIRTIO 32
#define MAX_CPUS   8
struct machine {
	bool dtb_ok;
	u64 ram_base, ram_size;
	u64 uart;
	unsigned nr_virtio;
	u64 virtio[MAX_VIRTIO];
	u64 gicd, gicd_size, gicr, gicr_size;
	unsigned nr_cpus;
	u64 mpidr[MAX_CPUS];
	bool psci_hvc;
	char bootargs[256];
};

/* ---- lib.c: console, timing, memory, exceptions ---- */
void uart_set_base(u64 base);
void pr(const char *fmt, ...);
void vpr(const char *fmt, va_list ap);

void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int strcmp(const char *a, const char *b);
size_t strlen(const char *s);

u64 now_ticks(void);
u64 ticks_per_ms(void);
void delay_us(u64 us);

/* Exception bookkeeping: the vector skips a faulting load/store and counts it. */
struct exc_stats {
	u64 sync;
	u64 serror;
	u64 irq;
	u64 last_esr;
	u64 last_far;
};
extern volatile struct exc_stats exc;

/* A single load or store that may fault: on a fault the value is FAULT_VALUE, faulted is set. */
#define FAULT_VALUE 0xbadbadbadbadbad0ULL
struct probe {
	u64 val;
	bool faulted;
	u64 esr;
};
struct probe probe_read(u64 addr, unsigned width);
struct probe probe_write(u64 addr, unsigned width, u64 val);

/* Plain MMIO accessors: one instruction each, base register only, so KVM sees a full syndrome. */
static inline u8 rd8(u64 a)
{
	u32 v;

	asm volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return (u8)v;
}

static inline u32 rd32(u64 a)
{
	u32 v;

	asm volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline u64 rd64(u64 a)
{
	u64 v;

	asm volatile("ldr %0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline void wr8(u64 a, u8 v)
{
	asm volatile("strb %w0, [%1]" : : "r"((u32)v), "r"(a) : "memory");
}

static inline void wr32(u64 a, u32 v)
{
	asm volatile("str %w0, [%1]" : : "r"(v), "r"(a) : "memory");
}

static inline void dsb(void)
{
	asm volatile("dsb sy" : : : "memory");
}

/* ---- firmware calls (head.S) ---- */
u64 hvc_call(u64 fn, u64 a1, u64 a2, u64 a3);
u64 hvc1_call(u64 fn); /* HVC #1: a non-zero immediate */
u64 smc_call(u64 fn, u64 a1, u64 a2, u64 a3);
void secondary_entry(void);
extern char _head[], _end[];

#define PSCI_VERSION	     0x84000000u
#define PSCI_CPU_OFF	     0x84000002u
#define PSCI_CPU_ON	     0x84000003u
#define PSCI_CPU_ON64	     0xc4000003u
#define PSCI_AFFINITY_INFO   0x84000004u
#define PSCI_AFFINITY_INFO64 0xc4000004u
#define PSCI_MIGRATE	     0x84000005u
#define PSCI_MIGRATE_INFO    0x84000006u
#define PSCI_SYSTEM_OFF	     0x84000008u
#define PSCI_FEATURES	     0x8400000au
#define PSCI_SYSTEM_RESET2   0xc4000012u
#define PSCI_SYSTEM_SUSPEND  0xc400000eu
void psci_system_off(void) __attribute__((noreturn));

/* ---- the steps ---- */
void fdt_scan(u64 dtb, struct machine *m);
void uart_abuse(const struct machine *m);
void mmio_abuse(const struct machine *m);
void mmio_nisv(const struct machine *m);
void virtio_abuse(const struct machine *m);
void psci_abuse(const struct machine *m);
void psci_bad_entry(const struct machine *m);
void bg_secondary(u64 context);

#endif

// SPDX-License-Identifier: MIT
/*
 * Accesses where ignition maps nothing. Inside the VM's 40-bit IPA space such an access leaves
 * KVM as an MMIO exit that ignition's bus must answer (reads as zero, writes ignored); beyond
 * it, KVM injects an abort that the exception vector counts and skips.
 */
#include "bg.h"

#define VIRTIO_MMIO_BASE 0x0a000000ULL
#define VIRTIO_SLOT	 0x200ULL
#define VIRTIO_END	 (VIRTIO_MMIO_BASE + 32 * VIRTIO_SLOT)
#define IPA_LIMIT	 (1ULL << 40) /* KVM's VM type 0, what ignition asks for with <= 1 TiB */
#define GIC_PIDR2	 0xffe8

struct target {
	const char *name;
	u64 addr;
};

struct tally {
	unsigned zero, zero_of, aborts, aborts_of;
};

static const unsigned widths[] = { 1, 2, 4, 8 };

/* Reads and writes of each width at addr; true when every access faulted (want_fault) or none
 * did and every read returned 0. */
static bool hammer(const struct target *t, bool want_fault)
{
	u64 reads[4];
	unsigned faults = 0;
	bool zero = true;

	for (unsigned i = 0; i < ARRAY_SIZE(widths); i++) {
		struct probe r = probe_read(t->addr, widths[i]);
		struct probe w = probe_write(t->addr, widths[i], 0xa5a5a5a5a5a5a5a5ULL);

		reads[i] = r.val;
		faults += r.faulted + w.faulted;
		zero &= !r.faulted && r.val == 0;
	}
	pr("BG mmio %-28s %#012lx: reads %lx %lx %lx %lx, %u/8 faulted (esr %#lx)\n", t->name,
	   t->addr, reads[0], reads[1], reads[2], reads[3], faults, faults ? exc.last_esr : 0);
	return want_fault ? faults == 8 : zero && !faults;
}

static bool in_ram(const struct machine *m, u64 a)
{
	return a >= m->ram_base && a - m->ram_base < m->ram_size;
}

static u64 empty_slot(const struct machine *m)
{
	u64 last = VIRTIO_MMIO_BASE - VIRTIO_SLOT;

	for (unsigned i = 0; i < m->nr_virtio; i++)
		if (m->virtio[i] > last)
			last = m->virtio[i];
	return last + VIRTIO_SLOT;
}

static void gic_peek(const struct machine *m)
{
	if (!m->gicd || !m->gicr)
		return;
	/* The vGIC answers in the kernel; PIDR2[7:4] is the architecture revision (3). */
	pr("BG mmio GICD_PIDR2 %#x GICR_PIDR2 %#x (the GIC, emulated by KVM)\n",
	   (unsigned)probe_read(m->gicd + GIC_PIDR2, 4).val,
	   (unsigned)probe_read(m->gicr + GIC_PIDR2, 4).val);
}

void mmio_abuse(const struct machine *m)
{
	u64 ram_end = m->ram_base + m->ram_size;
	const struct target holes[] = {
		{ "address 0", 0 },
		{ "0x0800_0000 (QEMU's GIC)", 0x08000000 },
		{ "past the UART page", m->uart + 0x1000 },
		{ "between UART and virtio", 0x09800000 },
		{ "first empty virtio slot", empty_slot(m) },
		{ "past the 32 virtio slots", VIRTIO_END },
		{ "between virtio and GIC", 0x20000000 },
		{ "64 KiB below the GIC", m->gicd ? m->gicd - 0x10000 : 0x3ff00000 },
		{ "just below the GIC", m->gicd ? m->gicd - 8 : 0x3ffefff8 },
		{ "right after RAM", ram_end },
		{ "1 MiB after RAM", ram_end + SZ_1M },
		{ "4 GiB", 0x100000000ULL },
		{ "last page of the IPA space", IPA_LIMIT - 0x1000 },
	};
	const struct target beyond[] = {
		{ "first byte beyond the IPA", IPA_LIMIT },
		{ "16 TiB", 1ULL << 44 },
		{ "top of a 48-bit space", (1ULL << 48) - 0x1000 },
	};
	struct tally t = { 0 };
	struct probe p;

	for (unsigned i = 0; i < ARRAY_SIZE(holes); i++) {
		if (in_ram(m, holes[i].addr))
			continue;
		t.zero_of++;
		t.zero += hammer(&holes[i], false);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(beyond); i++) {
		t.aborts_of++;
		t.aborts += hammer(&beyond[i], true);
	}
	gic_peek(m);
	/* cache maintenance on a hole: KVM skips it without asking the VMM */
	asm volatile("dc civac, %0" : : "r"(VIRTIO_END) : "memory");
	dsb();
	p = probe_read(VIRTIO_END + 2, 2); /* misaligned: the CPU's own alignment fault */
	pr("BG mmio dc civac on a hole survived; misaligned read faulted=%d esr=%#lx\n", p.faulted,
	   p.esr);
	pr("BGR mmio zero=%u/%u aborts=%u/%u\n", t.zero, t.zero_of, t.aborts, t.aborts_of);
}

/*
 * Loads the CPU cannot describe in a syndrome (a pair, writeback addressing): KVM cannot hand
 * them to the VMM as MMIO. ignition asks KVM for them (KVM_CAP_ARM_NISV_TO_USER) and answers
 * with an external abort, so each is one more skipped fault here; without that, KVM_RUN fails
 * and the VMM stops.
 */
void mmio_nisv(const struct machine *m)
{
	u64 a = empty_slot(m), lo = FAULT_VALUE, hi = FAULT_VALUE, before = exc.sync;

	pr("BG nisv: ldp from the hole at %#lx\n", a);
	asm volatile("ldp %0, %1, [%2]" : "+r"(lo), "+r"(hi) : "r"(a) : "memory");
	pr("BG nisv: ldp returned %#lx %#lx, faults %lu\n", lo, hi, exc.sync - before);
	pr("BG nisv: post-indexed ldr\n");
	asm volatile("ldr %0, [%1], #8" : "+r"(lo), "+r"(a) : : "memory");
	pr("BGR nisv faults=%lu esr=%#lx\n", exc.sync - before, exc.last_esr);
}

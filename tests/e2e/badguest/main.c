// SPDX-License-Identifier: MIT
/*
 * The misbehaving guest's sequence: find the machine in the device tree, abuse the UART,
 * unmapped MMIO, every virtio device and PSCI, report, power off. "BGR done" is the marker the
 * rig waits for; everything after it is SYSTEM_OFF.
 */
#include "bg.h"

static void machine_report(const struct machine *m, u64 dtb)
{
	pr("BG machine: dtb %#lx (%s), RAM %#lx + %lu MiB, uart %#lx, %u virtio, gic %#lx/%#lx, "
	   "%u CPUs, psci %s\n",
	   dtb, m->dtb_ok ? "parsed" : "NOT parsed: ignition's fixed layout assumed", m->ram_base,
	   m->ram_size >> 20, m->uart, m->nr_virtio, m->gicd, m->gicr, m->nr_cpus,
	   m->psci_hvc ? "hvc" : "?");
	pr("BG bootargs: %s\n", m->bootargs);
}

void bg_main(u64 dtb)
{
	static struct machine m;
	u64 t0 = now_ticks();

	fdt_scan(dtb, &m);
	uart_set_base(m.uart);
	pr("\nBG ignition's misbehaving guest, loaded at %p (linked at 0x40000000)\n", _head);
	if ((u64)(uintptr_t)_head != 0x40000000)
		pr("BG warning: not loaded where linked; tables of pointers may be wrong\n");
	machine_report(&m, dtb);
	pr("BGR machine dtb=%d virtio=%u cpus=%u\n", m.dtb_ok, m.nr_virtio, m.nr_cpus);

	uart_abuse(&m);
	mmio_abuse(&m);
	mmio_nisv(&m);
	virtio_abuse(&m);
	psci_abuse(&m);
	psci_bad_entry(&m);

	pr("BGR exceptions sync=%lu serror=%lu irq=%lu\n", exc.sync, exc.serror, exc.irq);
	pr("BG took %lu ms\n", (now_ticks() - t0) / ticks_per_ms());
	pr("BGR done\n");
	psci_system_off();
}

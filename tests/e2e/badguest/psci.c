// SPDX-License-Identifier: MIT
/*
 * Firmware calls with bad function ids, bad MPIDRs, bad affinity levels and bad entry points.
 * Under KVM the kernel answers them (in-kernel PSCI), so the values are KVM's; what ignition
 * must do is survive, including a secondary vCPU that KVM starts at an address with no code.
 */
#include "bg.h"

#define AFF_OFF		  1
#define SECONDARY_CONTEXT 0x5ec0dULL
#define SECONDARY_WAIT_MS 5000

/* Shared by the two CPUs (no caches to maintain: the MMU is off). */
static volatile u64 secondary_seen;
static volatile u64 secondary_mpidr;
static volatile u64 secondary_may_stop;

/* Reports in, waits until the primary has tried to start it a second time, powers off. */
void bg_secondary(u64 context)
{
	u64 mpidr, end;

	asm volatile("mrs %0, mpidr_el1" : "=r"(mpidr));
	secondary_mpidr = mpidr;
	dsb();
	secondary_seen = context;
	dsb();
	end = now_ticks() + ticks_per_ms() * SECONDARY_WAIT_MS;
	while (!secondary_may_stop && now_ticks() < end)
		delay_us(100);
	hvc_call(PSCI_CPU_OFF, 0, 0, 0);
	secondary_seen = 0xdead; /* CPU_OFF returned: should not happen */
}

static s64 call(u64 fn, u64 a1, u64 a2, u64 a3)
{
	return (s64)hvc_call(fn, a1, a2, a3);
}

static void bad_ids(void)
{
	static const u32 ids[] = { 0x84000099, 0xc40000ff, 0x8400ffff, 0x00000000,
				   0xffffffff, 0x86000000, 0xbf00ff00, PSCI_MIGRATE };

	pr("BG psci: bad function ids ->");
	for (unsigned i = 0; i < ARRAY_SIZE(ids); i++)
		pr(" %#x:%ld", ids[i], call(ids[i], 0, 0, 0));
	pr("\n");
	pr("BG psci: HVC #1 -> %ld; SMC #0 PSCI_VERSION -> %ld; PSCI_FEATURES(0x84000099) -> %ld; "
	   "MIGRATE_INFO_TYPE -> %ld\n",
	   (s64)hvc1_call(PSCI_VERSION), (s64)smc_call(PSCI_VERSION, 0, 0, 0),
	   call(PSCI_FEATURES, 0x84000099, 0, 0), call(PSCI_MIGRATE_INFO, 0, 0, 0));
	pr("BG psci: SYSTEM_RESET2 type 1 -> %ld; SYSTEM_SUSPEND at 0x1000 -> %ld\n",
	   call(PSCI_SYSTEM_RESET2, 1, 0, 0), call(PSCI_SYSTEM_SUSPEND, 0x1000, 0, 0));
}

/*
 * CPU_ON naming CPUs that do not exist: INVALID_PARAMETERS, whatever the entry point. MPIDRs
 * wider than 32 bits go through the SMC64 call: the 32-bit one only sees their low half.
 */
static void bad_mpidrs(const struct machine *m)
{
	const struct {
		u32 fn;
		u64 mpidr;
	} calls[] = {
		{ PSCI_CPU_ON, 0xff },
		{ PSCI_CPU_ON64, 0x100 },
		{ PSCI_CPU_ON64, 0xff00000000ULL },
		{ PSCI_CPU_ON64, 1ULL << 63 },
		{ PSCI_CPU_ON, m->nr_cpus },
	};
	u64 entry = (u64)(uintptr_t)secondary_entry;

	pr("BGR psci.cpu_on.bad_mpidr");
	for (unsigned i = 0; i < ARRAY_SIZE(calls); i++)
		pr(" %ld", call(calls[i].fn, calls[i].mpidr, entry, 0));
	pr("\n");
	pr("BG psci: CPU_ON of itself -> %ld; 32-bit CPU_ON of 0xff00000000 (is CPU 0) -> %ld; "
	   "AFFINITY_INFO of CPU %u -> %ld, of 0xff00 at level 1 -> %ld, of CPU 0 at level 5 -> "
	   "%ld, of 1<<63 -> %ld\n",
	   call(PSCI_CPU_ON64, m->mpidr[0], entry, 0), call(PSCI_CPU_ON, 0xff00000000ULL, entry, 0),
	   m->nr_cpus, call(PSCI_AFFINITY_INFO, m->nr_cpus, 0, 0),
	   call(PSCI_AFFINITY_INFO64, 0xff00, 1, 0), call(PSCI_AFFINITY_INFO, 0, 5, 0),
	   call(PSCI_AFFINITY_INFO64, 1ULL << 63, 0, 0));
}

static s64 affinity_wait(u64 mpidr, s64 want)
{
	u64 end = now_ticks() + ticks_per_ms() * SECONDARY_WAIT_MS;
	s64 r;

	do {
		r = call(PSCI_AFFINITY_INFO64, mpidr, 0, 0);
	} while (r != want && now_ticks() < end);
	return r;
}

/* The one good CPU_ON: the secondary reports in and powers itself off again. */
static void good_cpu_on(const struct machine *m)
{
	u64 target = m->mpidr[1], end;
	s64 r, again, off;

	secondary_seen = 0;
	secondary_may_stop = 0;
	r = call(PSCI_CPU_ON64, target, (u64)(uintptr_t)secondary_entry, SECONDARY_CONTEXT);
	end = now_ticks() + ticks_per_ms() * SECONDARY_WAIT_MS;
	while (secondary_seen != SECONDARY_CONTEXT && now_ticks() < end)
		delay_us(100);
	/* it is running our code and waiting for us: a second CPU_ON finds it on */
	again = call(PSCI_CPU_ON64, target, (u64)(uintptr_t)secondary_entry, SECONDARY_CONTEXT);
	secondary_may_stop = 1;
	dsb();
	off = affinity_wait(target, AFF_OFF);
	pr("BGR psci.cpu_on.good ret=%ld again=%ld seen=%#lx mpidr=%#lx then_off=%ld\n", r, again,
	   secondary_seen, secondary_mpidr & 0xff00ffffffULL, off);
}

void psci_abuse(const struct machine *m)
{
	pr("BG psci: version %#lx, %u CPUs in the device tree, method %s\n",
	   (u64)call(PSCI_VERSION, 0, 0, 0), m->nr_cpus, m->psci_hvc ? "hvc" : "not hvc");
	bad_ids();
	bad_mpidrs(m);
	if (m->nr_cpus >= 2)
		good_cpu_on(m);
	else
		pr("BG psci: one CPU: no CPU_ON target (boot with --smp 2)\n");
}

/*
 * Last, because it cannot be undone: KVM does not check CPU_ON's entry point, so the secondary
 * starts at an address without code and takes aborts (its vector table is gone after the reset
 * CPU_ON implies) until SYSTEM_OFF stops every vCPU. The second call finds it on already.
 */
void psci_bad_entry(const struct machine *m)
{
	u64 target = m->mpidr[1];
	s64 outside, unaligned, state;

	if (m->nr_cpus < 2)
		return;
	outside = call(PSCI_CPU_ON64, target, 0x1000, 0);
	unaligned = call(PSCI_CPU_ON64, target, m->ram_base + 2, 0);
	state = call(PSCI_AFFINITY_INFO64, target, 0, 0);
	pr("BGR psci.cpu_on.bad_entry outside_ram=%ld unaligned=%ld affinity=%ld\n", outside,
	   unaligned, state);
}

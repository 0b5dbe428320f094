/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_FAKE_HVF_H
#define IGNITION_FAKE_HVF_H

/*
 * A scripted Hypervisor.framework for Linux. Tests describe, per vCPU, the exits a real guest
 * would cause and the register state the VMM must leave behind; the fake plays them back through
 * hv_vcpu_run() and checks every call against HVF's rules:
 *  - one VM; the GIC is created after it and before any vCPU, once;
 *  - a vCPU is touched only by the thread that created it (hv_vcpus_exit excepted), and a thread
 *    owns one vCPU at most;
 *  - MPIDR_EL1 is set before hv_gic_get_redistributor_base() asks about the vCPU;
 *  - hv_vm_map(): host pointer, GPA and size 16 KiB aligned, GPA 0 never mapped, no overlap;
 *  - no hv_gic_* call on a macOS older than 15, no config object used after os_release().
 * A broken rule is recorded as a violation (and printed); the call then fails as HVF would. The
 * fake never aborts, since vCPU threads cannot fail a cmocka test: tests assert on violations.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <Hypervisor/Hypervisor.h>

/* Register ids in scripts. 0 ends a list. */
#define FAKE_X(n)   (0x100u + (n))
#define FAKE_PC	    FAKE_X(HV_REG_PC)
#define FAKE_CPSR   FAKE_X(HV_REG_CPSR)
#define FAKE_SYS(r) (0x10000u + (r))
/* Pseudo registers: 1 while HVF keeps the virtual timer masked; the vtimer offset. */
#define FAKE_VTIMER_MASKED 0x20000u
#define FAKE_VTIMER_OFFSET 0x20001u
#define FAKE_MAX_REGS	   8
/* SCTLR_EL1 of a new vCPU in the fake: RES1 bits only, MMU and caches off. */
#define FAKE_FRESH_SCTLR 0x30d00800ull

struct fake_reg {
	uint32_t id;
	uint64_t val;
};

enum fake_exit_kind {
	FAKE_EXCEPTION, /* HV_EXIT_REASON_EXCEPTION with esr, far, ipa */
	FAKE_VTIMER, /* HV_EXIT_REASON_VTIMER_ACTIVATED; masks the timer as HVF does */
	FAKE_BLOCK, /* the guest runs on until hv_vcpus_exit(): HV_EXIT_REASON_CANCELED */
	FAKE_UNKNOWN, /* HV_EXIT_REASON_UNKNOWN */
};

/* One hv_vcpu_run(): check what the VMM left, let the guest run, exit. */
struct fake_step {
	const char *what;
	struct fake_reg expect[FAKE_MAX_REGS]; /* state on entry (the previous exit's handling) */
	struct fake_reg guest[FAKE_MAX_REGS]; /* what the guest changed before this exit */
	enum fake_exit_kind kind;
	uint64_t esr, far, ipa;
	/* Hold the exit until the vCPU with wait_mpidr has entered wait_steps steps. */
	bool wait;
	uint64_t wait_mpidr;
	unsigned wait_steps;
	/* Hold the exit until the test calls fake_release(): for races around the exit. */
	bool hold;
};

/* The Mac the fake plays. */
struct fake_host {
	unsigned macos; /* major release; before 15 there is no hv_gic */
	uint32_t max_vcpus;
	uint32_t default_ipa_bits;
	uint32_t max_ipa_bits;
	size_t dist_size, redist_size, dist_align, redist_align;
	size_t redist_region_size; /* every vCPU the VM supports, from the configured base */
	unsigned redist_first; /* frame pair of the first vCPU (0; tests move it) */
	uint32_t spi_base, spi_count;
	hv_return_t vm_create_result; /* e.g. HV_DENIED for an unsigned binary */
};

/* An M-series Mac on macOS 15: what the seed measured. */
extern const struct fake_host fake_mac;

/* Forgets everything (VM, vCPUs, scripts, violations, counters); host NULL means fake_mac. */
void fake_reset(const struct fake_host *host);
/* The script for the vCPU whose MPIDR_EL1 is set to mpidr; steps must outlive the run. */
void fake_script(uint64_t mpidr, const struct fake_step *steps, unsigned n);

unsigned fake_violations(void);
const char *fake_violation(unsigned i);
/* True when a recorded violation contains text. */
bool fake_violated(const char *text);

/* How often a Hypervisor.framework function was called, by name. */
unsigned fake_calls(const char *fn);

/* State of the vCPU with that MPIDR (also after hv_vcpu_destroy), read from any thread. */
uint64_t fake_reg(uint64_t mpidr, uint32_t id);
/* How often hv_vcpu_set_reg() wrote a general register (FAKE_X(n), FAKE_PC, FAKE_CPSR). */
unsigned fake_reg_writes(uint64_t mpidr, uint32_t id);
bool fake_has_vcpu(uint64_t mpidr);
pthread_t fake_vcpu_thread(uint64_t mpidr);
unsigned fake_steps_entered(uint64_t mpidr);
/* When hv_vcpu_run() entered step i (CLOCK_MONOTONIC ns), 0 if not yet. */
uint64_t fake_step_time(uint64_t mpidr, unsigned i);
/* How often the vCPU has read that system register so far. */
unsigned fake_sys_reads(uint64_t mpidr, hv_sys_reg_t reg);
/* Wait until the vCPU has read that system register n times in all; false on timeout. */
bool fake_wait_sys_reads(uint64_t mpidr, hv_sys_reg_t reg, unsigned n, unsigned timeout_ms);
bool fake_wait_steps(uint64_t mpidr, unsigned n, unsigned timeout_ms);
/*
 * Makes an SGI or PPI (INTID < 32) pending in that vCPU's redistributor, as another vCPU's IPI
 * would inside HVF; with enabled false the INTID is disabled too (pending, never taken). The
 * vCPU's next guest entry takes the enabled ones.
 */
void fake_gic_pend(uint64_t mpidr, unsigned intid, bool enabled);
/* Lets a held step of that vCPU exit. */
void fake_release(uint64_t mpidr);

uint32_t fake_vm_ipa_bits(void); /* what hv_vm_create() got, 0 = default */
bool fake_vm_exists(void);
/* The last hv_gic_set_spi() call; false if none. */
bool fake_last_spi(uint32_t *intid, bool *level);
unsigned fake_live_objects(void); /* config objects not yet released */

uint64_t fake_now_ns(void);
/* mach_absolute_time() ticks (24 MHz) in ns. */
uint64_t fake_ticks(uint64_t ns);

#endif

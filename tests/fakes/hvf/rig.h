/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_FAKE_HVF_RIG_H
#define IGNITION_FAKE_HVF_RIG_H

/*
 * What the HVF scenario tests share: syndromes built from the architecture's encodings, a VM with
 * one RAM region and the GIC on the fake, and a thread that kicks or raises an SPI at the moment
 * the vCPU parks or runs.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch/aarch64/layout.h"
#include "fake.h"
#include "hv/hv.h"
#include "util/err.h"

/* ESR_ELx fields (Arm ARM D24.2.45), written out here rather than taken from the decoder. */
#define EC(x)		   ((uint64_t)(x) << 26)
#define IL		   (1ull << 25)
#define EC_WFX		   0x01
#define EC_HVC64	   0x16
#define EC_SMC64	   0x17
#define EC_SYS64	   0x18
#define EC_IABT_LOW	   0x20
#define EC_DABT_LOW	   0x24
#define ISV		   (1ull << 24)
#define SAS(log2)	   ((uint64_t)(log2) << 22)
#define SSE		   (1ull << 21)
#define SRT(r)		   ((uint64_t)(r) << 16)
#define SF		   (1ull << 15)
#define WNR		   (1ull << 6)
#define FSC_TRANSLATION_L3 0x07ull
/* Trapped AArch64 instructions report CV = 1, COND = 0b1110. */
#define WFX_COND (1ull << 24 | 0xeull << 20)

/* A stage-2 translation fault on a load or store with a valid syndrome. */
#define dabt(log2_size, sse, rt, sf, write)                                          \
	(EC(EC_DABT_LOW) | IL | ISV | SAS(log2_size) | ((sse) ? SSE : 0) | SRT(rt) | \
	 ((sf) ? SF : 0) | ((write) ? WNR : 0) | FSC_TRANSLATION_L3)

/* MRS (read) / MSR: Op0 [21:20], Op2 [19:17], Op1 [16:14], CRn [13:10], Rt [9:5], CRm [4:1]. */
#define sysreg(op0, op1, crn, crm, op2, rt, read)                              \
	(EC(EC_SYS64) | IL | (uint64_t)(op0) << 20 | (uint64_t)(op2) << 17 |   \
	 (uint64_t)(op1) << 14 | (uint64_t)(crn) << 10 | (uint64_t)(rt) << 5 | \
	 (uint64_t)(crm) << 1 | ((read) ? 1 : 0))

#define ESR_WFI	     (EC(EC_WFX) | IL | WFX_COND) /* wfi */
#define ESR_WFE	     (EC(EC_WFX) | IL | WFX_COND | 1) /* wfe */
#define ESR_HVC(imm) (EC(EC_HVC64) | IL | (imm)) /* hvc #imm */
#define ESR_SMC(imm) (EC(EC_SMC64) | IL | (imm)) /* smc #imm */

#define CNTV_ENABLE  1u
#define CNTV_IMASK   2u
#define CNTV_ISTATUS 4u

#define ENTRY  0x40080000ull
#define DTB    0x40e00000ull
#define MPIDR0 0x0ull
#define MPIDR1 0x1ull
#define POISON 0xdeadbeefdeadbeefull

/* Script shorthands. */
#define X(n, v)                \
	{                      \
		FAKE_X(n), (v) \
	}
#define PC(v)                \
	{                    \
		FAKE_PC, (v) \
	}
#define SYS(r, v)                \
	{                        \
		FAKE_SYS(r), (v) \
	}

struct rig {
	struct hv_caps caps;
	struct layout l;
	struct hv_vm *vm;
	struct hv_vcpu *vcpu;
	void *map;
	size_t map_len;
	uint8_t *ram;
	struct errbuf e;
};

/* A thread that kicks vCPU 0 or raises an SPI once the vCPU got somewhere. */
struct knocker {
	pthread_t thread;
	struct rig *r;
	/* act after the vCPU read this register once more than at knocker_start (about to park) */
	hv_sys_reg_t wait_reg;
	unsigned reads_before;
	unsigned wait_steps; /* or after it entered that many steps */
	uint32_t spi; /* 0: kick */
	bool release; /* then let a held step exit (fake_release) */
	uint64_t at; /* when it acted */
	bool waited;
};

extern const struct hv_ops *const hv;

/* cmocka fixtures: a fresh fake before; no violation, no leaked object, no VM left after. */
int rig_setup(void **state);
int rig_teardown(void **state);
/* probe, a layout for nr_vcpus, vm_create, the RAM, the GIC. */
void rig_vm(struct rig *r, unsigned nr_vcpus);
/* vCPU 0 on this thread, booted at ENTRY with X0 = DTB. */
void rig_vcpu(struct rig *r);
/* Tears the VM down (no violation allowed) and starts over with a fresh fake. */
void rig_again(struct rig *r);
/* Runs vCPU 0 and expects an exit of that reason. */
struct hv_exit run_expect(struct rig *r, enum hv_exit_reason reason);
void knocker_start(struct knocker *k);
void knocker_join(struct knocker *k);

#define T(fn) cmocka_unit_test_setup_teardown(fn, rig_setup, rig_teardown)

#endif

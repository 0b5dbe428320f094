/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_ARCH_ESR_H
#define IGNITION_ARCH_ESR_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/*
 * Decoding of ESR_EL2 syndromes, as HVF reports them (KVM decodes in the kernel). Field positions
 * from the Arm ARM, D24.2.40 (ESR_ELx).
 */
#define ESR_EC_SHIFT 26
#define ESR_EC(esr) ((uint32_t)(((esr) >> ESR_EC_SHIFT) & 0x3f))
#define ESR_IL (1u << 25)
#define ESR_ISS(esr) ((uint32_t)((esr) & 0x1ffffff))

enum esr_ec {
	ESR_EC_UNKNOWN = 0x00,
	ESR_EC_WFX = 0x01,
	ESR_EC_HVC64 = 0x16,
	ESR_EC_SMC64 = 0x17,
	ESR_EC_SYS64 = 0x18,
	ESR_EC_IABT_LOW = 0x20,
	ESR_EC_IABT_CUR = 0x21,
	ESR_EC_DABT_LOW = 0x24,
	ESR_EC_DABT_CUR = 0x25,
	ESR_EC_BRK64 = 0x3c,
};

/* Data abort ISS */
#define ESR_DABT_ISV (1u << 24)
#define ESR_DABT_SAS_SHIFT 22
#define ESR_DABT_SSE (1u << 21)
#define ESR_DABT_SRT_SHIFT 16
#define ESR_DABT_SF (1u << 15)
#define ESR_DABT_AR (1u << 14)
#define ESR_DABT_CM (1u << 8)
#define ESR_DABT_S1PTW (1u << 7)
#define ESR_DABT_WNR (1u << 6)

enum esr_kind {
	ESR_KIND_DABT,	/* MMIO access with a valid syndrome */
	ESR_KIND_SYSREG, /* MSR/MRS trapped */
	ESR_KIND_HVC,
	ESR_KIND_SMC,
	ESR_KIND_WFI,
	ESR_KIND_WFE,
	ESR_KIND_OTHER, /* anything else: the VMM stops with an error naming EC and PC */
};

struct esr_dabt {
	uint64_t ipa;
	uint64_t far;
	unsigned width; /* 1, 2, 4 or 8 bytes */
	bool write;
	bool sign_extend; /* SSE */
	bool sf;	  /* the register is 64-bit (X), else W */
	bool acq_rel;
	bool cm;
	bool s1ptw;
	unsigned rt;	/* 0..31; 31 means XZR (never PC, never SP) */
};

struct esr_sysreg {
	unsigned op0, op1, crn, crm, op2;
	unsigned rt; /* 31 = XZR */
	bool read;   /* MRS */
};

struct esr_exit {
	enum esr_kind kind;
	uint32_t ec;
	/*
	 * What to add to PC once the exit is handled. HVC's preferred return address is already the
	 * next instruction; SMC, traps and aborts report the faulting instruction itself.
	 */
	unsigned pc_advance;
	union {
		struct esr_dabt dabt;
		struct esr_sysreg sysreg;
		uint16_t imm; /* HVC / SMC immediate */
	};
};

/*
 * Decodes one exception exit. A data abort without a valid syndrome (ISV = 0) cannot be emulated:
 * it returns -EINVAL with a message naming PC and the faulting address.
 */
int esr_decode(uint64_t esr, uint64_t far, uint64_t ipa, uint64_t pc, struct esr_exit *out,
	       struct errbuf *e);

/* The value an MMIO load leaves in X[rt]: raw data cut to width, sign-extended per SSE and SF. */
uint64_t esr_dabt_load_value(const struct esr_dabt *d, uint64_t raw);

/*
 * A synchronous exception taken to EL1, as the CPU would enter it (Arm ARM, AArch64.TakeException):
 * the registers the guest sees afterwards.
 */
struct esr_el1_entry {
	uint64_t esr;  /* ESR_EL1 */
	uint64_t far;  /* FAR_EL1, only when far_valid */
	bool far_valid;
	uint64_t elr;  /* ELR_EL1: the instruction that faulted */
	uint64_t spsr; /* SPSR_EL1: PSTATE before */
	uint64_t cpsr; /* PSTATE after: EL1h, DAIF masked, PAN/SSBS as SCTLR_EL1 asks */
	uint64_t pc;   /* VBAR_EL1 + the synchronous vector for the EL and stack it came from */
};

/*
 * What the guest gets for an exit the VMM cannot emulate, as a bus or KVM would give it: an
 * instruction or data abort (EC 0x20 / 0x24 in esr, the ESR_EL2 reported) becomes a synchronous
 * external abort at the same address; anything else an Undefined Instruction. pc is the faulting
 * instruction, cpsr, sctlr and vbar the vCPU's PSTATE, SCTLR_EL1 and VBAR_EL1.
 */
void esr_el1_exception(uint64_t esr, uint64_t far, uint64_t pc, uint64_t cpsr, uint64_t sctlr,
		       uint64_t vbar, struct esr_el1_entry *out);

/* HVF's hv_sys_reg_t encoding: op0 << 14 | op1 << 11 | CRn << 7 | CRm << 3 | op2. */
uint16_t esr_sysreg_id(const struct esr_sysreg *s);

#endif

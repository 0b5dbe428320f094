// SPDX-License-Identifier: MIT
#include <errno.h>

#include "arch/aarch64/esr.h"

#define ESR_DABT_SAS_MASK 3u
#define ESR_DABT_SRT_MASK 0x1fu

#define ESR_SYS_READ	  (1u << 0)
#define ESR_SYS_RT_SHIFT  5
#define ESR_SYS_CRM_SHIFT 1
#define ESR_SYS_CRN_SHIFT 10
#define ESR_SYS_OP1_SHIFT 14
#define ESR_SYS_OP2_SHIFT 17
#define ESR_SYS_OP0_SHIFT 20

#define ESR_WFX_TI_WFE (1u << 0)

/* Synchronous External abort, not on a translation table walk: what KVM injects as well. */
#define ESR_FSC_SEA 0x10u

/* PSTATE / SPSR fields (Arm ARM C5.2.18, SPSR_EL1). */
#define PSR_M_MASK     0xfull /* M[3:0]: EL and stack pointer */
#define PSR_M_EL0T     0x0ull
#define PSR_M_EL1H     0x5ull
#define PSR_SP_ELX     0x1ull /* M[0]: SP_ELx rather than SP_EL0 */
#define PSR_NRW	       (1ull << 4) /* the exception came from AArch32 */
#define PSR_DAIF       (0xfull << 6)
#define PSR_SSBS       (1ull << 12)
#define PSR_PAN	       (1ull << 22)
#define PSR_DIT	       (1ull << 24)
#define PSR_AA32_DIT   (1ull << 21)
#define PSR_NZCV       (0xfull << 28)
#define SCTLR_SPAN     (1ull << 23) /* 0: set PAN on exception entry */
#define SCTLR_DSSBS    (1ull << 44) /* PSTATE.SSBS on exception entry */
#define VBAR_ADDR_MASK (~0x7ffull)

/* Offsets of the synchronous vectors from VBAR_EL1 (Arm ARM D1.3.1). */
#define VECTOR_CUR_SP0	 0x000
#define VECTOR_CUR_SPX	 0x200
#define VECTOR_LOWER_A64 0x400
#define VECTOR_LOWER_A32 0x600

static unsigned bits(uint32_t iss, unsigned shift, unsigned mask)
{
	return (iss >> shift) & mask;
}

/*
 * The instruction length: 4 for every A64 instruction; 2 only for a 16-bit T32 instruction, which
 * can reach here from an AArch32 EL0.
 */
static unsigned esr_insn_len(uint64_t esr)
{
	return (esr & ESR_IL) ? 4 : 2;
}

static int esr_decode_dabt(uint64_t esr, uint64_t far, uint64_t ipa, uint64_t pc,
			   struct esr_exit *out, struct errbuf *e)
{
	uint32_t iss = ESR_ISS(esr);
	struct esr_dabt *d = &out->dabt;

	/* Without ISV (pair, writeback, SIMD loads...) there is no register to emulate with. */
	if (!(iss & ESR_DABT_ISV))
		return err_set(
			e, -EINVAL,
			"guest MMIO access at PC 0x%llx to FAR 0x%llx (IPA 0x%llx) has no valid "
			"syndrome (ESR 0x%llx); the instruction cannot be emulated",
			(unsigned long long)pc, (unsigned long long)far, (unsigned long long)ipa,
			(unsigned long long)esr);
	out->kind = ESR_KIND_DABT;
	out->pc_advance = esr_insn_len(esr);
	d->ipa = ipa;
	d->far = far;
	d->width = 1u << bits(iss, ESR_DABT_SAS_SHIFT, ESR_DABT_SAS_MASK);
	d->write = iss & ESR_DABT_WNR;
	d->sign_extend = iss & ESR_DABT_SSE;
	d->sf = iss & ESR_DABT_SF;
	d->acq_rel = iss & ESR_DABT_AR;
	d->cm = iss & ESR_DABT_CM;
	d->s1ptw = iss & ESR_DABT_S1PTW;
	d->rt = bits(iss, ESR_DABT_SRT_SHIFT, ESR_DABT_SRT_MASK);
	return 0;
}

static void esr_decode_sysreg(uint64_t esr, struct esr_exit *out)
{
	uint32_t iss = ESR_ISS(esr);
	struct esr_sysreg *s = &out->sysreg;

	out->kind = ESR_KIND_SYSREG;
	out->pc_advance = 4;
	s->read = iss & ESR_SYS_READ;
	s->rt = bits(iss, ESR_SYS_RT_SHIFT, 0x1f);
	s->crm = bits(iss, ESR_SYS_CRM_SHIFT, 0xf);
	s->crn = bits(iss, ESR_SYS_CRN_SHIFT, 0xf);
	s->op1 = bits(iss, ESR_SYS_OP1_SHIFT, 0x7);
	s->op2 = bits(iss, ESR_SYS_OP2_SHIFT, 0x7);
	s->op0 = bits(iss, ESR_SYS_OP0_SHIFT, 0x3);
}

int esr_decode(uint64_t esr, uint64_t far, uint64_t ipa, uint64_t pc, struct esr_exit *out,
	       struct errbuf *e)
{
	*out = (struct esr_exit){ .kind = ESR_KIND_OTHER, .ec = ESR_EC(esr) };
	switch (out->ec) {
	case ESR_EC_DABT_LOW:
		return esr_decode_dabt(esr, far, ipa, pc, out, e);
	case ESR_EC_SYS64:
		esr_decode_sysreg(esr, out);
		break;
	case ESR_EC_HVC64:
		/* The preferred return address of an HVC is the next instruction already. */
		out->kind = ESR_KIND_HVC;
		out->imm = (uint16_t)ESR_ISS(esr);
		break;
	case ESR_EC_SMC64:
		out->kind = ESR_KIND_SMC;
		out->imm = (uint16_t)ESR_ISS(esr);
		out->pc_advance = 4;
		break;
	case ESR_EC_WFX:
		/* TI bit 0 also tells WFET from WFIT (TI = 3 and 2), which behave alike here. */
		out->kind = (ESR_ISS(esr) & ESR_WFX_TI_WFE) ? ESR_KIND_WFE : ESR_KIND_WFI;
		out->pc_advance = esr_insn_len(esr);
		break;
	default:
		break;
	}
	return 0;
}

uint64_t esr_dabt_load_value(const struct esr_dabt *d, uint64_t raw)
{
	unsigned w = d->width && d->width < 8 ? d->width * 8 : 64;
	uint64_t v = w == 64 ? raw : raw & ((1ULL << w) - 1);

	if (d->sign_extend && w < 64 && (v >> (w - 1)) & 1)
		v |= ~0ULL << w;
	/* A W register load clears the upper half, sign extension included. */
	if (!d->sf)
		v &= 0xffffffffULL;
	return v;
}

static uint64_t el1_entry_pstate(uint64_t cpsr, uint64_t sctlr)
{
	uint64_t dit = (cpsr & PSR_NRW) ? (cpsr & PSR_AA32_DIT) : (cpsr & PSR_DIT);
	uint64_t pstate = (cpsr & (PSR_NZCV | PSR_PAN)) | PSR_DAIF | PSR_M_EL1H;

	/* NZCV, DIT and PAN carry over; SS, IL, BTYPE and UAO are cleared. */
	if (dit)
		pstate |= PSR_DIT;
	if (!(sctlr & SCTLR_SPAN))
		pstate |= PSR_PAN;
	if (sctlr & SCTLR_DSSBS)
		pstate |= PSR_SSBS;
	return pstate;
}

void esr_el1_exception(uint64_t esr, uint64_t far, uint64_t pc, uint64_t cpsr, uint64_t sctlr,
		       uint64_t vbar, struct esr_el1_entry *out)
{
	bool lower = (cpsr & PSR_NRW) || (cpsr & PSR_M_MASK) == PSR_M_EL0T;
	uint32_t il = (uint32_t)esr & ESR_IL, iss = ESR_ISS(esr);
	uint64_t vector;
	uint32_t ec;

	*out = (struct esr_el1_entry){ .elr = pc, .spsr = cpsr, .far = far };
	switch (ESR_EC(esr)) {
	case ESR_EC_IABT_LOW:
		ec = lower ? ESR_EC_IABT_LOW : ESR_EC_IABT_CUR;
		out->esr = (uint64_t)ec << ESR_EC_SHIFT | il | ESR_FSC_SEA;
		out->far_valid = true;
		break;
	case ESR_EC_DABT_LOW:
		ec = lower ? ESR_EC_DABT_LOW : ESR_EC_DABT_CUR;
		out->esr = (uint64_t)ec << ESR_EC_SHIFT | il | ESR_FSC_SEA;
		/* The direction of the access, unless it was the table walk's own read. */
		if (!(iss & ESR_DABT_S1PTW))
			out->esr |= iss & ESR_DABT_WNR;
		out->far_valid = true;
		break;
	default:
		/* EC 0: "unknown reason", the Undefined Instruction exception; IL is RES1. */
		out->esr = ESR_IL;
		out->far = 0;
		break;
	}
	if (lower)
		vector = (cpsr & PSR_NRW) ? VECTOR_LOWER_A32 : VECTOR_LOWER_A64;
	else
		vector = (cpsr & PSR_SP_ELX) ? VECTOR_CUR_SPX : VECTOR_CUR_SP0;
	out->pc = (vbar & VBAR_ADDR_MASK) + vector;
	out->cpsr = el1_entry_pstate(cpsr, sctlr);
}

uint16_t esr_sysreg_id(const struct esr_sysreg *s)
{
	return (uint16_t)(s->op0 << 14 | s->op1 << 11 | s->crn << 7 | s->crm << 3 | s->op2);
}

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

uint16_t esr_sysreg_id(const struct esr_sysreg *s)
{
	return (uint16_t)(s->op0 << 14 | s->op1 << 11 | s->crn << 7 | s->crm << 3 | s->op2);
}

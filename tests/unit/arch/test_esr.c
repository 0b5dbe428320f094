// SPDX-License-Identifier: MIT
/*
 * Syndromes as ESR_EL2 reports them for real instructions. Each value is built from the fields
 * the Arm ARM (D24.2.40, ESR_ELx) says the instruction produces:
 *
 *   ESR = EC << 26 | IL << 25 | ISS, IL = 1 for every A64 instruction.
 *   Data abort from a lower EL (EC 0x24) on an unmapped IPA, stage-2 translation fault level 2
 *   (DFSC 0b000110):
 *     ISS = ISV << 24 | SAS << 22 | SSE << 21 | SRT << 16 | SF << 15 | AR << 14 | CM << 8 |
 *           S1PTW << 7 | WnR << 6 | DFSC
 *   MSR/MRS trap (EC 0x18):
 *     ISS = Op0 << 20 | Op2 << 17 | Op1 << 14 | CRn << 10 | Rt << 5 | CRm << 1 | Direction
 *   HVC/SMC (EC 0x16/0x17): ISS = imm16. WFx (EC 0x01): ISS = TI (0 WFI, 1 WFE, 2 WFIT, 3 WFET).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arch/aarch64/esr.h"

#define EC(x)	  ((uint64_t)(x) << 26)
#define IL	  (1ULL << 25)
#define DABT(iss) (EC(0x24) | IL | (1u << 24) | (iss) | 0x06)
#define SAS(n)	  ((n) << 22)
#define SSE	  (1u << 21)
#define SRT(n)	  ((n) << 16)
#define SF	  (1u << 15)
#define AR	  (1u << 14)
#define WNR	  (1u << 6)

static const struct dabt_case {
	const char *insn;
	uint64_t literal; /* the value as a hypervisor prints it */
	uint64_t esr; /* the same, built from its fields */
	unsigned width, rt;
	bool write, sse, sf, ar;
} dabt_cases[] = {
	{ "ldrb w0, [x1]", 0x93000006, DABT(SAS(0) | SRT(0)), 1, 0, false, false, false, false },
	/* the 8250 driver's byte store */
	{ "strb w2, [x1]", 0x93020046, DABT(SAS(0) | SRT(2) | WNR), 1, 2, true, false, false,
	  false },
	{ "ldrh w3, [x1]", 0x93430006, DABT(SAS(1) | SRT(3)), 2, 3, false, false, false, false },
	{ "ldrsh x4, [x1]", 0x93648006, DABT(SAS(1) | SSE | SRT(4) | SF), 2, 4, false, true, true,
	  false },
	{ "ldrsb w5, [x1]", 0x93250006, DABT(SAS(0) | SSE | SRT(5)), 1, 5, false, true, false,
	  false },
	{ "ldr w6, [x1]", 0x93860006, DABT(SAS(2) | SRT(6)), 4, 6, false, false, false, false },
	{ "ldr x7, [x1]", 0x93c78006, DABT(SAS(3) | SRT(7) | SF), 8, 7, false, false, true, false },
	{ "ldrsw x9, [x1]", 0x93a98006, DABT(SAS(2) | SSE | SRT(9) | SF), 4, 9, false, true, true,
	  false },
	/* store-release */
	{ "stlr w8, [x1]", 0x93884046, DABT(SAS(2) | SRT(8) | AR | WNR), 4, 8, true, false, false,
	  true },
	/* Rt = 31 is XZR here, never SP or PC */
	{ "str xzr, [x1]", 0x93df8046, DABT(SAS(3) | SRT(31) | SF | WNR), 8, 31, true, false, true,
	  false },
	/* a halfword store of zero */
	{ "strh wzr, [x1]", 0x935f0046, DABT(SAS(1) | SRT(31) | WNR), 2, 31, true, false, false,
	  false },
};

static void test_dabt_table(void **state)
{
	struct esr_exit x;
	struct errbuf e;

	(void)state;
	for (size_t i = 0; i < sizeof(dabt_cases) / sizeof(dabt_cases[0]); i++) {
		const struct dabt_case *c = &dabt_cases[i];

		assert_int_equal(c->esr, c->literal);
		assert_int_equal(esr_decode(c->literal, 0x9000005, 0x9000005, 0x40001000, &x, &e),
				 0);
		assert_int_equal(x.kind, ESR_KIND_DABT);
		assert_int_equal(x.ec, ESR_EC_DABT_LOW);
		assert_int_equal(x.pc_advance, 4);
		assert_int_equal(x.dabt.width, c->width);
		assert_int_equal(x.dabt.rt, c->rt);
		assert_int_equal(x.dabt.write, c->write);
		assert_int_equal(x.dabt.sign_extend, c->sse);
		assert_int_equal(x.dabt.sf, c->sf);
		assert_int_equal(x.dabt.acq_rel, c->ar);
		assert_false(x.dabt.cm);
		assert_false(x.dabt.s1ptw);
		assert_int_equal(x.dabt.ipa, 0x9000005);
		assert_int_equal(x.dabt.far, 0x9000005);
	}
}

/* CM and S1PTW decoded on their own, each bit alone on an otherwise plain syndrome. */
static void test_dabt_flag_bits(void **state)
{
	struct esr_exit x;
	struct errbuf e;

	(void)state;
	assert_int_equal(esr_decode(DABT(1u << 8), 0, 0, 0, &x, &e), 0);
	assert_true(x.dabt.cm);
	assert_false(x.dabt.s1ptw);
	assert_int_equal(esr_decode(DABT(1u << 7), 0, 0, 0, &x, &e), 0);
	assert_true(x.dabt.s1ptw);
	assert_false(x.dabt.cm);
}

/* ldp x0, x1, [x2] has two destination registers: ISV = 0, ESR 0x92000006. */
static void test_dabt_no_isv(void **state)
{
	struct esr_exit x;
	struct errbuf e;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(esr_decode(EC(0x24) | IL | 0x06, 0xffff000009000010, 0x9000010, 0x40081234,
				    &x, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "PC 0x40081234"));
	assert_non_null(strstr(e.msg, "FAR 0xffff000009000010"));
	assert_non_null(strstr(e.msg, "IPA 0x9000010"));
	assert_non_null(strstr(e.msg, "ESR 0x92000006"));
}

static void test_load_value(void **state)
{
	static const struct {
		unsigned width;
		bool sse, sf;
		uint64_t raw, want;
	} cases[] = {
		{ 1, false, false, 0xffffffffffffff80, 0x80 }, /* ldrb w */
		{ 1, true, false, 0x80, 0xffffff80 }, /* ldrsb w */
		{ 1, true, true, 0x80, 0xffffffffffffff80 }, /* ldrsb x */
		{ 1, true, true, 0x7f, 0x7f }, /* positive stays */
		{ 2, false, false, 0x12348001, 0x8001 }, /* ldrh w */
		{ 2, true, true, 0x12348001, 0xffffffffffff8001 }, /* ldrsh x */
		{ 2, true, false, 0x8001, 0xffff8001 }, /* ldrsh w */
		{ 4, false, false, 0xffffffff80000000, 0x80000000 }, /* ldr w */
		{ 4, true, true, 0x80000000, 0xffffffff80000000 }, /* ldrsw x */
		{ 4, true, true, 0x7fffffff, 0x7fffffff }, /* ldrsw x */
		{ 8, false, true, 0x8877665544332211, 0x8877665544332211 }, /* ldr x */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct esr_dabt d = {
			.width = cases[i].width,
			.sign_extend = cases[i].sse,
			.sf = cases[i].sf,
		};

		assert_int_equal(esr_dabt_load_value(&d, cases[i].raw), cases[i].want);
	}
}

static const struct sys_case {
	const char *insn;
	uint64_t esr;
	unsigned op0, op1, crn, crm, op2, rt;
	bool read;
	uint16_t hv_id; /* HVF's hv_sys_reg_t for the same register */
} sys_cases[] = {
	/* 0x622807e0: Linux clearing the OS lock at boot */
	{ "msr oslar_el1, xzr", 0x622807e0, 2, 0, 1, 0, 4, 31, false, 0x8084 },
	/* 0x62280423 */
	{ "mrs x1, oslsr_el1", 0x62280423, 2, 0, 1, 1, 4, 1, true, 0x808c },
	/* 0x62240045 */
	{ "mrs x2, mdscr_el1", 0x62240045, 2, 0, 0, 2, 2, 2, true, 0x8012 },
	/* 0x622a00a6 */
	{ "msr dbgbcr3_el1, x5", 0x622a00a6, 2, 0, 0, 3, 5, 5, false, 0x801d },
	/* 0x62300069 */
	{ "mrs x3, id_aa64pfr0_el1", 0x62300069, 3, 0, 0, 4, 0, 3, true, 0xc020 },
	/* 0x6232f8e5 */
	{ "mrs x7, cntp_ctl_el0", 0x6232f8e5, 3, 3, 14, 2, 1, 7, true, 0xdf11 },
};

static uint64_t sys_esr(const struct sys_case *c)
{
	return EC(0x18) | IL | (uint64_t)c->op0 << 20 | c->op2 << 17 | c->op1 << 14 | c->crn << 10 |
	       c->rt << 5 | c->crm << 1 | c->read;
}

static void test_sysreg_table(void **state)
{
	struct esr_exit x;
	struct errbuf e;

	(void)state;
	for (size_t i = 0; i < sizeof(sys_cases) / sizeof(sys_cases[0]); i++) {
		const struct sys_case *c = &sys_cases[i];

		/* The literal in the table agrees with the fields it claims. */
		assert_int_equal(sys_esr(c), c->esr);
		assert_int_equal(esr_decode(c->esr, 0, 0, 0x40000000, &x, &e), 0);
		assert_int_equal(x.kind, ESR_KIND_SYSREG);
		assert_int_equal(x.pc_advance, 4);
		assert_int_equal(x.sysreg.op0, c->op0);
		assert_int_equal(x.sysreg.op1, c->op1);
		assert_int_equal(x.sysreg.crn, c->crn);
		assert_int_equal(x.sysreg.crm, c->crm);
		assert_int_equal(x.sysreg.op2, c->op2);
		assert_int_equal(x.sysreg.rt, c->rt);
		assert_int_equal(x.sysreg.read, c->read);
		assert_int_equal(esr_sysreg_id(&x.sysreg), c->hv_id);
	}
}

static void test_other_classes(void **state)
{
	static const struct {
		const char *insn;
		uint64_t esr;
		enum esr_kind kind;
		unsigned pc_advance;
		uint16_t imm;
	} cases[] = {
		/* HVC: ELR_EL2 already points past it */
		{ "hvc #0", 0x5a000000, ESR_KIND_HVC, 0, 0 },
		{ "hvc #0x1234", 0x5a001234, ESR_KIND_HVC, 0, 0x1234 },
		/* SMC trapped by HCR_EL2.TSC: ELR_EL2 is the SMC itself */
		{ "smc #0", 0x5e000000, ESR_KIND_SMC, 4, 0 },
		{ "smc #0xffff", 0x5e00ffff, ESR_KIND_SMC, 4, 0xffff },
		{ "wfi", 0x06000000, ESR_KIND_WFI, 4, 0 },
		{ "wfe", 0x06000001, ESR_KIND_WFE, 4, 0 },
		{ "wfit x0", 0x06000002, ESR_KIND_WFI, 4, 0 },
		{ "wfet x0", 0x06000003, ESR_KIND_WFE, 4, 0 },
		/* 16-bit T32 wfi from an AArch32 EL0: IL = 0, CV = 1, COND = 0xe */
		{ "wfi (T16)", 0x05e00000, ESR_KIND_WFI, 2, 0 },
		{ "brk #0", 0xf2000000, ESR_KIND_OTHER, 0, 0 },
		{ "instruction abort", 0x82000006, ESR_KIND_OTHER, 0, 0 },
		{ "unknown reason", 0x02000000, ESR_KIND_OTHER, 0, 0 },
		{ "data abort, current EL", 0x97c78006, ESR_KIND_OTHER, 0, 0 },
	};
	struct esr_exit x;
	struct errbuf e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(esr_decode(cases[i].esr, 0, 0, 0x40000000, &x, &e), 0);
		assert_int_equal(x.kind, cases[i].kind);
		assert_int_equal(x.ec, ESR_EC(cases[i].esr));
		assert_int_equal(x.pc_advance, cases[i].pc_advance);
		if (x.kind == ESR_KIND_HVC || x.kind == ESR_KIND_SMC)
			assert_int_equal(x.imm, cases[i].imm);
	}
}

/*
 * Exceptions the VMM injects (esr_el1_exception): the vector for each EL and stack pointer, the
 * syndrome class for the EL it came from, and PSTATE on entry (Arm ARM, AArch64.TakeException).
 */
static void test_el1_exception(void **state)
{
	static const struct {
		const char *what;
		uint64_t esr, cpsr, sctlr;
		uint64_t want_esr, want_cpsr, vector;
		bool far_valid;
	} cases[] = {
		/* data abort, ISV = 0, WnR: from EL1h to the current-EL SP_ELx vector */
		{ "stp from EL1h", 0x92000047, 0x60000005, 1u << 23, 0x96000050, 0x600003c5, 0x200,
		  true },
		/* from EL1t (SP_EL0): offset 0; DIT kept, SSBS from SCTLR.DSSBS */
		{ "ldr from EL1t", 0x92000007, 0x01000004, 1ull << 44 | 1u << 23, 0x96000010,
		  0x010013c5, 0x000, true },
		/* AArch64 EL0: lower-EL vector 0x400, EC stays 0x24; SPAN = 0 sets PAN */
		{ "ldp from EL0", 0x92000007, 0x80000000, 0, 0x92000010, 0x804003c5, 0x400, true },
		/* AArch32 EL0 (nRW): vector 0x600; AArch32 DIT (bit 21) becomes bit 24 */
		{ "ldm from AArch32 EL0", 0x92000007, 0x00200010, 1u << 23, 0x92000010, 0x010003c5,
		  0x600, true },
		/* instruction abort from EL1h: EC 0x21 */
		{ "fetch from EL1h", 0x82000007, 0x00000005, 1u << 23, 0x86000010, 0x000003c5,
		  0x200, true },
		/* S1PTW: WnR is the walk's, not the access's */
		{ "walk for a store", 0x93c180c7, 0x00000005, 1u << 23, 0x96000010, 0x000003c5,
		  0x200, true },
		/* anything else: EC 0, IL set, no fault address */
		{ "sve trap from EL0", 0x66000000, 0x00000000, 1u << 23, 0x02000000, 0x000003c5,
		  0x400, false },
	};
	struct esr_el1_entry t;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		esr_el1_exception(cases[i].esr, 0xdead0000, 0x40001234, cases[i].cpsr,
				  cases[i].sctlr, 0x40010fff, &t);
		assert_int_equal(t.esr, cases[i].want_esr);
		assert_int_equal(t.cpsr, cases[i].want_cpsr);
		assert_int_equal(t.pc, 0x40010800 + cases[i].vector); /* VBAR[10:0] are RES0 */
		assert_int_equal(t.elr, 0x40001234);
		assert_int_equal(t.spsr, cases[i].cpsr);
		assert_int_equal(t.far_valid, cases[i].far_valid);
		if (t.far_valid)
			assert_int_equal(t.far, 0xdead0000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dabt_table),    cmocka_unit_test(test_dabt_flag_bits),
		cmocka_unit_test(test_dabt_no_isv),   cmocka_unit_test(test_load_value),
		cmocka_unit_test(test_sysreg_table),  cmocka_unit_test(test_other_classes),
		cmocka_unit_test(test_el1_exception),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

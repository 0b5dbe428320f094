// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <stdio.h>

#include "arch/aarch64/sysreg.h"
#include "util/compiler.h"
#include "util/log.h"

/* Numbered debug registers: CRm is the register number n (0..15), as in DBGBVR<n>_EL1. */
#define ANY_CRM 0xffu

struct sysreg_desc {
	const char *name; /* for ANY_CRM, the part before <n>; "_EL1" follows */
	uint8_t op0, op1, crn, crm, op2;
};

/*
 * Registers a guest is expected to touch when the hypervisor traps them: the OS lock and debug
 * registers (Linux clears the OS lock and saves breakpoints at boot), the PMU (probed through
 * ID_AA64DFR0), and the physical timer, which the guest sees but never needs under a hypervisor.
 * Each reads as zero and ignores writes, like absent debug and PMU hardware.
 */
static const struct sysreg_desc sysregs[] = {
	{ "MDCCINT_EL1", 2, 0, 0, 2, 0 },	 { "MDSCR_EL1", 2, 0, 0, 2, 2 },
	{ "OSDTRRX_EL1", 2, 0, 0, 0, 2 },	 { "OSDTRTX_EL1", 2, 0, 0, 3, 2 },
	{ "OSECCR_EL1", 2, 0, 0, 6, 2 },	 { "DBGBVR", 2, 0, 0, ANY_CRM, 4 },
	{ "DBGBCR", 2, 0, 0, ANY_CRM, 5 },	 { "DBGWVR", 2, 0, 0, ANY_CRM, 6 },
	{ "DBGWCR", 2, 0, 0, ANY_CRM, 7 },	 { "MDRAR_EL1", 2, 0, 1, 0, 0 },
	{ "OSLAR_EL1", 2, 0, 1, 0, 4 },		 { "OSLSR_EL1", 2, 0, 1, 1, 4 },
	{ "OSDLR_EL1", 2, 0, 1, 3, 4 },		 { "DBGPRCR_EL1", 2, 0, 1, 4, 4 },
	{ "DBGCLAIMSET_EL1", 2, 0, 7, 8, 6 },	 { "DBGCLAIMCLR_EL1", 2, 0, 7, 9, 6 },
	{ "DBGAUTHSTATUS_EL1", 2, 0, 7, 14, 6 }, { "MDCCSR_EL0", 2, 3, 0, 1, 0 },
	{ "PMINTENSET_EL1", 3, 0, 9, 14, 1 },	 { "PMINTENCLR_EL1", 3, 0, 9, 14, 2 },
	{ "PMCR_EL0", 3, 3, 9, 12, 0 },		 { "PMCNTENSET_EL0", 3, 3, 9, 12, 1 },
	{ "PMCNTENCLR_EL0", 3, 3, 9, 12, 2 },	 { "PMOVSCLR_EL0", 3, 3, 9, 12, 3 },
	{ "PMSELR_EL0", 3, 3, 9, 12, 5 },	 { "PMCCNTR_EL0", 3, 3, 9, 13, 0 },
	{ "PMUSERENR_EL0", 3, 3, 9, 14, 0 },	 { "PMOVSSET_EL0", 3, 3, 9, 14, 3 },
	{ "PMCCFILTR_EL0", 3, 3, 14, 15, 7 },	 { "CNTPCT_EL0", 3, 3, 14, 0, 1 },
	{ "CNTP_TVAL_EL0", 3, 3, 14, 2, 0 },	 { "CNTP_CTL_EL0", 3, 3, 14, 2, 1 },
	{ "CNTP_CVAL_EL0", 3, 3, 14, 2, 2 },
};

/* The ID space, op0 = 3, op1 = 0, CRn = 0, indexed by CRm * 8 + op2; NULL is reserved (RAZ). */
static const char *const id_regs[64] = {
	[0] = "MIDR_EL1",	   [5] = "MPIDR_EL1",	      [6] = "REVIDR_EL1",
	[8] = "ID_PFR0_EL1",	   [9] = "ID_PFR1_EL1",	      [10] = "ID_DFR0_EL1",
	[11] = "ID_AFR0_EL1",	   [12] = "ID_MMFR0_EL1",     [13] = "ID_MMFR1_EL1",
	[14] = "ID_MMFR2_EL1",	   [15] = "ID_MMFR3_EL1",     [16] = "ID_ISAR0_EL1",
	[17] = "ID_ISAR1_EL1",	   [18] = "ID_ISAR2_EL1",     [19] = "ID_ISAR3_EL1",
	[20] = "ID_ISAR4_EL1",	   [21] = "ID_ISAR5_EL1",     [22] = "ID_MMFR4_EL1",
	[23] = "ID_ISAR6_EL1",	   [24] = "MVFR0_EL1",	      [25] = "MVFR1_EL1",
	[26] = "MVFR2_EL1",	   [28] = "ID_PFR2_EL1",      [29] = "ID_DFR1_EL1",
	[30] = "ID_MMFR5_EL1",	   [32] = "ID_AA64PFR0_EL1",  [33] = "ID_AA64PFR1_EL1",
	[36] = "ID_AA64ZFR0_EL1",  [37] = "ID_AA64SMFR0_EL1", [40] = "ID_AA64DFR0_EL1",
	[41] = "ID_AA64DFR1_EL1",  [44] = "ID_AA64AFR0_EL1",  [45] = "ID_AA64AFR1_EL1",
	[48] = "ID_AA64ISAR0_EL1", [49] = "ID_AA64ISAR1_EL1", [50] = "ID_AA64ISAR2_EL1",
	[56] = "ID_AA64MMFR0_EL1", [57] = "ID_AA64MMFR1_EL1", [58] = "ID_AA64MMFR2_EL1",
	[59] = "ID_AA64MMFR3_EL1",
};

static bool sysreg_desc_match(const struct sysreg_desc *d, const struct esr_sysreg *s)
{
	return d->op0 == s->op0 && d->op1 == s->op1 && d->crn == s->crn && d->op2 == s->op2 &&
	       (d->crm == ANY_CRM || d->crm == s->crm);
}

static const struct sysreg_desc *sysreg_find(const struct esr_sysreg *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(sysregs); i++)
		if (sysreg_desc_match(&sysregs[i], s))
			return &sysregs[i];
	return NULL;
}

bool sysreg_is_id(const struct esr_sysreg *s)
{
	return s->op0 == 3 && s->op1 == 0 && s->crn == 0;
}

static const char *sysreg_id_name(const struct esr_sysreg *s)
{
	unsigned i = (s->crm & 7) * 8 + (s->op2 & 7);

	return s->crm < 8 ? id_regs[i] : NULL;
}

const char *sysreg_name(const struct esr_sysreg *s, char *buf, unsigned bufsize)
{
	const struct sysreg_desc *d = sysreg_find(s);
	const char *name = sysreg_is_id(s) ? sysreg_id_name(s) : NULL;

	if (!bufsize)
		return "";
	if (d && d->crm == ANY_CRM)
		snprintf(buf, bufsize, "%s%u_EL1", d->name, s->crm);
	else if (d)
		snprintf(buf, bufsize, "%s", d->name);
	else if (name)
		snprintf(buf, bufsize, "%s", name);
	else
		snprintf(buf, bufsize, "S%u_%u_C%u_C%u_%u", s->op0, s->op1, s->crn, s->crm, s->op2);
	return buf;
}

/*
 * Unknown registers are reported once each. The guest can try all 65536 encodings, so the memory
 * of what was reported is a fixed table; once it is full, the rest go unreported.
 */
static pthread_mutex_t warned_lock = PTHREAD_MUTEX_INITIALIZER;
static uint16_t warned[SYSREG_WARN_MAX];
static unsigned nr_warned;

/* True when the register was not reported yet (now recorded); *last once the table is full. */
static bool sysreg_first_sighting(uint16_t id, bool *last)
{
	bool first = false;
	unsigned i;

	pthread_mutex_lock(&warned_lock);
	for (i = 0; i < nr_warned && warned[i] != id; i++)
		;
	if (i == nr_warned && nr_warned < SYSREG_WARN_MAX) {
		warned[nr_warned++] = id;
		first = true;
	}
	*last = nr_warned == SYSREG_WARN_MAX;
	pthread_mutex_unlock(&warned_lock);
	return first;
}

bool sysreg_emulate(const struct esr_sysreg *s, uint64_t write_value, uint64_t *read_value)
{
	char name[32];
	bool known = sysreg_is_id(s) || sysreg_find(s);
	bool last;

	if (s->read && read_value)
		*read_value = 0;
	if (!known && sysreg_first_sighting(esr_sysreg_id(s), &last))
		pr_warn("guest %s unknown system register %s; it reads as zero, writes are "
			"ignored%s",
			s->read ? "read" : "wrote", sysreg_name(s, name, sizeof(name)),
			last ? " (further unknown registers go unreported)" : "");
	return known;
}

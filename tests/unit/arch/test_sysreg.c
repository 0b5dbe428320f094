// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arch/aarch64/sysreg.h"
#include "util/log.h"

struct log_rec {
	unsigned warnings;
	char last[1024];
};

static void log_record(enum log_level level, const char *line, void *opaque)
{
	struct log_rec *l = opaque;

	if (level != LOG_WARN)
		return;
	l->warnings++;
	snprintf(l->last, sizeof(l->last), "%s", line);
}

static struct esr_sysreg reg(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2,
			     bool read)
{
	return (struct esr_sysreg){ op0, op1, crn, crm, op2, 1, read };
}

static void test_names(void **state)
{
	static const struct {
		unsigned op0, op1, crn, crm, op2;
		const char *name;
	} cases[] = {
		{ 2, 0, 1, 0, 4, "OSLAR_EL1" },
		{ 2, 0, 1, 1, 4, "OSLSR_EL1" },
		{ 2, 0, 1, 3, 4, "OSDLR_EL1" },
		{ 2, 0, 0, 2, 2, "MDSCR_EL1" },
		{ 2, 0, 0, 2, 0, "MDCCINT_EL1" },
		{ 2, 0, 0, 0, 4, "DBGBVR0_EL1" },
		{ 2, 0, 0, 3, 5, "DBGBCR3_EL1" },
		{ 2, 0, 0, 15, 6, "DBGWVR15_EL1" },
		{ 2, 0, 0, 7, 7, "DBGWCR7_EL1" },
		{ 3, 3, 14, 2, 1, "CNTP_CTL_EL0" },
		{ 3, 3, 9, 12, 0, "PMCR_EL0" },
		{ 3, 0, 0, 0, 0, "MIDR_EL1" },
		{ 3, 0, 0, 1, 0, "ID_PFR0_EL1" },
		{ 3, 0, 0, 4, 0, "ID_AA64PFR0_EL1" },
		{ 3, 0, 0, 5, 0, "ID_AA64DFR0_EL1" },
		{ 3, 0, 0, 6, 1, "ID_AA64ISAR1_EL1" },
		{ 3, 0, 0, 7, 0, "ID_AA64MMFR0_EL1" },
		/* Reserved ID encodings and everything unknown get the generic form. */
		{ 3, 0, 0, 7, 7, "S3_0_C0_C7_7" },
		{ 3, 0, 0, 9, 0, "S3_0_C0_C9_0" },
		{ 3, 5, 15, 3, 2, "S3_5_C15_C3_2" },
		{ 2, 0, 0, 1, 4, "DBGBVR1_EL1" },
		{ 2, 1, 0, 1, 4, "S2_1_C0_C1_4" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct esr_sysreg s = reg(cases[i].op0, cases[i].op1, cases[i].crn, cases[i].crm,
					  cases[i].op2, true);

		assert_string_equal(sysreg_name(&s, buf, sizeof(buf)), cases[i].name);
	}
}

static void test_name_small_buffer(void **state)
{
	struct esr_sysreg s = reg(3, 5, 15, 3, 2, true);
	char buf[6];

	(void)state;
	assert_string_equal(sysreg_name(&s, buf, sizeof(buf)), "S3_5_");
	assert_string_equal(sysreg_name(&s, buf, 0), "");
}

static void test_id_space(void **state)
{
	(void)state;
	for (unsigned crm = 0; crm < 16; crm++)
		for (unsigned op2 = 0; op2 < 8; op2++) {
			struct esr_sysreg s = reg(3, 0, 0, crm, op2, true);

			assert_true(sysreg_is_id(&s));
		}
	assert_false(sysreg_is_id(&(struct esr_sysreg){ 3, 0, 1, 0, 0, 0, true }));
	assert_false(sysreg_is_id(&(struct esr_sysreg){ 3, 1, 0, 0, 0, 0, true }));
	assert_false(sysreg_is_id(&(struct esr_sysreg){ 2, 0, 0, 0, 0, 0, true }));
}

static void test_known_raz_wi(void **state)
{
	static const struct esr_sysreg known[] = {
		{ 2, 0, 1, 0, 4, 31, false }, /* msr oslar_el1, xzr */
		{ 2, 0, 1, 1, 4, 0, true }, /* mrs x0, oslsr_el1 */
		{ 2, 0, 0, 2, 2, 0, true }, /* mdscr_el1 */
		{ 2, 0, 0, 9, 5, 0, false }, /* dbgbcr9_el1 */
		{ 3, 0, 0, 4, 0, 0, true }, /* id_aa64pfr0_el1 */
		{ 3, 0, 0, 7, 7, 0, true }, /* reserved ID encoding: RAZ, no warning */
		{ 3, 3, 14, 2, 2, 0, false }, /* cntp_cval_el0 */
	};
	struct log_rec rec = { 0 };

	(void)state;
	log_set_hook(log_record, &rec);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		uint64_t v = 0x1234;

		assert_true(sysreg_emulate(&known[i], 0xffff, &v));
		assert_int_equal(v, known[i].read ? 0 : 0x1234);
	}
	assert_int_equal(rec.warnings, 0);
	log_set_hook(NULL, NULL);
}

/* Must run before test_unknown_bounded, which fills the table of reported registers. */
static void test_unknown_warns_once(void **state)
{
	struct esr_sysreg s = reg(3, 4, 15, 1, 0, true);
	struct log_rec rec = { 0 };
	uint64_t v = 0x1234;

	(void)state;
	log_set_hook(log_record, &rec);
	assert_false(sysreg_emulate(&s, 0, &v));
	assert_int_equal(v, 0);
	assert_int_equal(rec.warnings, 1);
	assert_non_null(strstr(rec.last, "S3_4_C15_C1_0"));
	assert_non_null(strstr(rec.last, "read"));

	/* Again, as a write, and again: no more lines. */
	s.read = false;
	v = 0x1234;
	for (int i = 0; i < 1000; i++)
		assert_false(sysreg_emulate(&s, 0xdead, &v));
	assert_int_equal(v, 0x1234);
	assert_int_equal(rec.warnings, 1);

	/* A different register is reported on its own. */
	s = reg(3, 4, 15, 1, 1, false);
	assert_false(sysreg_emulate(&s, 1, NULL));
	assert_int_equal(rec.warnings, 2);
	assert_non_null(strstr(rec.last, "S3_4_C15_C1_1"));
	assert_non_null(strstr(rec.last, "wrote"));
	log_set_hook(NULL, NULL);
}

/* A guest walking all 65536 encodings cannot grow memory or flood the log. */
static void test_unknown_bounded(void **state)
{
	struct log_rec rec = { 0 };
	unsigned first;

	(void)state;
	log_set_hook(log_record, &rec);
	for (unsigned id = 0; id < 0x10000; id++) {
		struct esr_sysreg s =
			reg(id >> 14, (id >> 11) & 7, (id >> 7) & 15, (id >> 3) & 15, id & 7, true);
		uint64_t v = 1;

		sysreg_emulate(&s, 0, &v);
		assert_int_equal(v, 0);
	}
	/* test_unknown_warns_once took two slots of the table. */
	first = rec.warnings;
	assert_int_equal(first, SYSREG_WARN_MAX - 2);
	assert_non_null(strstr(rec.last, "further unknown registers go unreported"));
	/* A second sweep adds nothing. */
	for (unsigned id = 0; id < 0x10000; id += 7) {
		struct esr_sysreg s =
			reg(id >> 14, (id >> 11) & 7, (id >> 7) & 15, (id >> 3) & 15, id & 7, true);
		uint64_t v;

		sysreg_emulate(&s, 0, &v);
	}
	assert_int_equal(rec.warnings, first);
	log_set_hook(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_name_small_buffer),
		cmocka_unit_test(test_id_space),
		cmocka_unit_test(test_known_raz_wi),
		cmocka_unit_test(test_unknown_warns_once),
		cmocka_unit_test(test_unknown_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

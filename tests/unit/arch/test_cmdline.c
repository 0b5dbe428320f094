// SPDX-License-Identifier: MIT
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "arch/aarch64/cmdline.h"

#define EC CMDLINE_EARLYCON

static void test_cmdline_cases(void **state)
{
	static const struct {
		struct cmdline_opts o;
		const char *want;
	} cases[] = {
		/* the machine model's default, word for word */
		{ { 0 }, "console=ttyS0 earlycon=uart8250,mmio,0x9000000 reboot=k panic=1" },
		{ { .has_disk = true }, CMDLINE_DEFAULT " root=/dev/vda rw" },
		{ { .has_disk = true, .root_ro = true }, CMDLINE_DEFAULT " root=/dev/vda ro" },
		/* the user's loglevel comes before the early console, so that it applies to it */
		{ { .append = "quiet" }, CMDLINE_BASE " quiet " EC },
		{ { .has_disk = true, .append = "init=/bin/sh" },
		  CMDLINE_BASE " root=/dev/vda rw init=/bin/sh " EC },
		/* after "--" the words are init's: the early console stays before them */
		{ { .append = "quiet -- single" }, CMDLINE_BASE " quiet " EC " -- single" },
		{ { .append = "--" }, CMDLINE_DEFAULT " --" },
		{ { .append = "  -- a -- b" }, CMDLINE_DEFAULT " -- a -- b" },
		{ { .append = "quiet\t--\tx" }, CMDLINE_BASE " quiet " EC " --\tx" },
		/* not a separator: part of a word, or quoted */
		{ { .append = "a--b --x" }, CMDLINE_BASE " a--b --x " EC },
		{ { .append = "x=\"a -- b\" --" }, CMDLINE_BASE " x=\"a -- b\" " EC " --" },
		/* --cmdline replaces the default and the root= it would have added */
		{ { .replace = "console=hvc0", .has_disk = true }, "console=hvc0" },
		{ { .replace = "console=hvc0", .append = "x=1" }, "console=hvc0 x=1" },
		{ { .replace = "console=hvc0", .append = "-- x" }, "console=hvc0 -- x" },
		{ { .replace = "" }, "" },
		{ { .replace = "", .append = "x=1" }, "x=1" },
		{ { .append = "" }, CMDLINE_DEFAULT },
		{ { .append = "   " }, CMDLINE_DEFAULT },
	};
	char out[CMDLINE_MAX];
	struct errbuf e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cmdline_build(out, &cases[i].o, &e), 0);
		assert_string_equal(out, cases[i].want);
	}
}

/* The arm64 limit is 2048 bytes with the NUL: 2047 characters fit, 2048 do not. */
static void test_cmdline_limit(void **state)
{
	static char big[4096];
	/* the default, the earlycon and a space before each */
	size_t base = strlen(CMDLINE_BASE) + 1 + strlen(EC) + 1;
	struct cmdline_opts o = { .append = big };
	char out[CMDLINE_MAX];
	struct errbuf e;

	(void)state;
	memset(big, 'a', CMDLINE_MAX - 1 - base);
	assert_int_equal(cmdline_build(out, &o, &e), 0);
	assert_int_equal(strlen(out), CMDLINE_MAX - 1);
	assert_true(strncmp(out, CMDLINE_BASE " aaa", strlen(CMDLINE_BASE) + 4) == 0);
	assert_string_equal(out + strlen(out) - strlen(EC) - 2, "a " EC);

	big[CMDLINE_MAX - 1 - base] = 'a';
	assert_int_equal(cmdline_build(out, &o, &e), -E2BIG);
	assert_string_equal(e.msg, "kernel command line is 2048 bytes; arm64 allows at most 2047");
	assert_string_equal(out, "");

	memset(big, 'b', sizeof(big) - 1);
	o = (struct cmdline_opts){ .replace = big };
	assert_int_equal(cmdline_build(out, &o, &e), -E2BIG);
	assert_string_equal(e.msg, "kernel command line is 4095 bytes; arm64 allows at most 2047");

	big[CMDLINE_MAX - 1] = '\0';
	assert_int_equal(cmdline_build(out, &o, &e), 0);
	assert_int_equal(strlen(out), 2047);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmdline_cases),
		cmocka_unit_test(test_cmdline_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

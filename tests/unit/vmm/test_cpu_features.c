// SPDX-License-Identifier: MIT
/* --cpu against what a backend offers: AUTO takes it, ON insists, OFF hides what can be hidden. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/options.h"

#define ALL (HV_CPU_PMU | HV_CPU_SVE | HV_CPU_PAUTH)

static unsigned choose(const char *arg, unsigned offered, unsigned fixed, int want_r,
		       const char *want_msg)
{
	struct vm_config cfg = { .nr_vcpus = 1 };
	struct hv_caps caps = { .cpu_features = offered, .cpu_fixed = fixed };
	struct errbuf e = { .msg = "" };
	unsigned f = 0xdead;

	if (arg)
		assert_int_equal(options_parse_cpu(arg, &cfg, &e), 0);
	assert_int_equal(cpu_features_choose(&cfg.cpu, &caps, "kvm", &f, &e), want_r);
	if (want_msg)
		assert_string_equal(e.msg, want_msg);
	return f;
}

static void test_defaults_take_what_is_offered(void **state)
{
	(void)state;
	assert_int_equal(choose(NULL, ALL, 0, 0, NULL), ALL);
	assert_int_equal(choose(NULL, HV_CPU_SVE, 0, 0, NULL), HV_CPU_SVE);
	assert_int_equal(choose(NULL, 0, 0, 0, NULL), 0);
}

static void test_off_hides(void **state)
{
	(void)state;
	assert_int_equal(choose("pmu=off", ALL, 0, 0, NULL), HV_CPU_SVE | HV_CPU_PAUTH);
	assert_int_equal(choose("pmu=off,sve=off,pauth=off", ALL, 0, 0, NULL), 0);
	assert_int_equal(choose("sve=no,pauth=0", ALL, 0, 0, NULL), HV_CPU_PMU);
}

static void test_on_requires(void **state)
{
	(void)state;
	assert_int_equal(choose("pmu=on,sve=on,pauth=on", ALL, 0, 0, NULL), ALL);
	choose("pmu=on", HV_CPU_SVE, 0, -ENOTSUP,
	       "--cpu pmu=on: the kvm backend offers no PMU on this host");
	choose("sve=on", HV_CPU_PMU | HV_CPU_PAUTH, 0, -ENOTSUP,
	       "--cpu sve=on: the kvm backend offers no SVE on this host");
	choose("pmu=off,pauth=on", HV_CPU_PMU, 0, -ENOTSUP,
	       "--cpu pauth=on: the kvm backend offers no pointer authentication on this host");
}

/* HVF: pointer authentication is the host's and cannot be hidden; asking to is an error. */
static void test_fixed_cannot_be_hidden(void **state)
{
	(void)state;
	assert_int_equal(choose(NULL, HV_CPU_PAUTH, HV_CPU_PAUTH, 0, NULL), HV_CPU_PAUTH);
	assert_int_equal(choose("pmu=off,sve=off", HV_CPU_PAUTH, HV_CPU_PAUTH, 0, NULL),
			 HV_CPU_PAUTH);
	choose("pauth=off", HV_CPU_PAUTH, HV_CPU_PAUTH, -ENOTSUP,
	       "--cpu pauth=off: the kvm backend cannot hide the host's pointer authentication "
	       "from the guest");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_take_what_is_offered),
		cmocka_unit_test(test_off_hides),
		cmocka_unit_test(test_on_requires),
		cmocka_unit_test(test_fixed_cannot_be_hidden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

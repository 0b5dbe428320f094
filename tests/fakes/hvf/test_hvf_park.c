// SPDX-License-Identifier: MIT
/*
 * WFI on HVF: the backend parks the vCPU until the virtual timer is due, a kick, an SPI or (with
 * other vCPUs) a new SGI in its redistributor, never longer than a safety bound, and kicks reach
 * the vCPU wherever it is.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "rig.h"
#include "util/log.h"

#define MS 1000000ull
/*
 * Checks on time need the other thread to act within a few ms. On a busy host it sometimes does
 * not; such a run proves nothing either way and is repeated, while a broken backend fails every
 * conclusive run. A host too busy for any conclusive run skips the test rather than guess.
 */
#define ATTEMPTS 20

/* A WFI with the given timer state, then an HVC; returns the ns between the two exits. */
static uint64_t park_ns(struct rig *r, uint64_t ctl, int64_t due_in_ns, struct knocker *k)
{
	struct fake_step steps[] = {
		{ .what = "wfi", .esr = ESR_WFI },
		{ .what = "hvc #0 (end of test)",
		  .expect = { PC(ENTRY + 4) },
		  .guest = { PC(ENTRY + 8) },
		  .esr = ESR_HVC(0) },
	};
	uint64_t guest_now;

	fake_script(MPIDR0, steps, 2);
	rig_vm(r, 1);
	rig_vcpu(r);
	/* The guest's counter: host ticks minus the offset the backend gave every vCPU. */
	guest_now = fake_ticks(fake_now_ns()) - fake_reg(MPIDR0, FAKE_VTIMER_OFFSET);
	steps[0].guest[0] = (struct fake_reg)SYS(HV_SYS_REG_CNTV_CTL_EL0, ctl);
	steps[0].guest[1] = (struct fake_reg)SYS(
		HV_SYS_REG_CNTV_CVAL_EL0, due_in_ns < 0 ? 0 : guest_now + fake_ticks(due_in_ns));
	if (k)
		knocker_start(k);
	run_expect(r, HV_EXIT_CALL);
	if (k)
		knocker_join(k);
	return fake_step_time(MPIDR0, 1) - fake_step_time(MPIDR0, 0);
}

static void test_wfi_until_timer(void **state)
{
	uint64_t ns = park_ns(*state, CNTV_ENABLE, 5 * MS, NULL);

	assert_true(ns >= 4 * MS);
	assert_true(ns < 1000 * MS);
}

static void test_wfi_timer_due(void **state)
{
	struct rig *r = *state;

	/* Already due: the GIC has the PPI pending, the guest must run now, not in 10 ms. */
	for (int i = 0; i < ATTEMPTS; i++, rig_again(r))
		if (park_ns(r, CNTV_ENABLE, -1, NULL) < 9 * MS)
			return;
	fail_msg("a WFI with the timer already due parked the vCPU");
}

static void test_wfi_park_bounded(void **state)
{
	/* No timer, no other vCPU: only the safety bound ends the park. */
	uint64_t ns = park_ns(*state, 0, 0, NULL);

	assert_true(ns >= 5 * MS);
	assert_true(ns < 1000 * MS);
	/* Alone, nobody can send it an SGI: the redistributor is not polled. */
	assert_int_equal(fake_calls("hv_gic_get_redistributor_reg"), 0);
}

/* Another vCPU's IPI, made pending inside HVF's GIC at some point of the park. */
struct ipi {
	pthread_t thread;
	unsigned reads_before;
	uint64_t delay_ns, at;
	unsigned intid;
	bool release, waited;
};

static void *ipi_main(void *arg)
{
	struct ipi *p = arg;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)p->delay_ns };

	if (p->release)
		p->waited = fake_wait_steps(MPIDR0, 1, 5000);
	else
		p->waited = fake_wait_sys_reads(MPIDR0, HV_SYS_REG_CNTV_CTL_EL0,
						p->reads_before + 1, 5000);
	nanosleep(&ts, NULL);
	p->at = fake_now_ns();
	fake_gic_pend(MPIDR0, p->intid, true);
	if (p->release)
		fake_release(MPIDR0);
	return NULL;
}

static const struct fake_step wfi_then_hvc[] = {
	{ .what = "wfi (timer off)", .guest = { SYS(HV_SYS_REG_CNTV_CTL_EL0, 0) }, .esr = ESR_WFI },
	{ .what = "hvc #0 in the IPI handler (end of test)",
	  .expect = { PC(ENTRY + 4) },
	  .guest = { PC(ENTRY + 8) },
	  .esr = ESR_HVC(0) },
};

/*
 * With two vCPUs, an SGI to the parked one is delivered by the in-kernel GIC without telling the
 * VMM; the parked vCPU must notice it within a poll or two, and must not return to the guest
 * before it (the old 10 ms bound did, 100 times a second). An SGI pending but disabled is not one
 * the guest takes: it does not end the park.
 */
static void test_sgi_wakes_parked_vcpu(void **state)
{
	struct rig *r = *state;

	for (int i = 0; i < ATTEMPTS; i++, rig_again(r)) {
		struct ipi p = { .delay_ns = 30 * MS, .intid = 1 /* IPI_CALL_FUNC */ };
		uint64_t woke;

		fake_script(MPIDR0, wfi_then_hvc, 2);
		rig_vm(r, 2);
		rig_vcpu(r);
		fake_gic_pend(MPIDR0, 2, false);
		p.reads_before = fake_sys_reads(MPIDR0, HV_SYS_REG_CNTV_CTL_EL0);
		assert_int_equal(pthread_create(&p.thread, NULL, ipi_main, &p), 0);
		run_expect(r, HV_EXIT_CALL);
		pthread_join(p.thread, NULL);
		assert_true(p.waited);
		woke = fake_step_time(MPIDR0, 1);
		/* Never back in the guest before the IPI (a late IPI thread proves nothing). */
		assert_true(woke >= p.at || p.at - fake_step_time(MPIDR0, 0) > 90 * MS);
		assert_true(fake_calls("hv_gic_get_redistributor_reg") > 0);
		if (woke >= p.at && woke - p.at < 10 * MS)
			return;
	}
	fail_msg("a pending SGI did not end the park within 10 ms");
}

/* An SGI that arrives between the guest's WFI exit and the park: the vCPU must not park. */
static void test_sgi_before_park(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		{ .what = "wfi, while another vCPU sends an IPI",
		  .guest = { SYS(HV_SYS_REG_CNTV_CTL_EL0, 0) },
		  .esr = ESR_WFI,
		  .hold = true },
		{ .what = "hvc #0 in the IPI handler (end of test)",
		  .expect = { PC(ENTRY + 4) },
		  .guest = { PC(ENTRY + 8) },
		  .esr = ESR_HVC(0) },
	};

	for (int i = 0; i < ATTEMPTS; i++, rig_again(r)) {
		struct ipi p = { .intid = 3, .release = true };

		fake_script(MPIDR0, steps, 2);
		rig_vm(r, 2);
		rig_vcpu(r);
		assert_int_equal(pthread_create(&p.thread, NULL, ipi_main, &p), 0);
		run_expect(r, HV_EXIT_CALL);
		pthread_join(p.thread, NULL);
		assert_true(p.waited);
		if (fake_step_time(MPIDR0, 1) - p.at < 6 * MS)
			return;
	}
	fail_msg("an SGI pending before the park let the vCPU park anyway");
}

static void test_wfi_masked_timer_bounded(void **state)
{
	uint64_t ns = park_ns(*state, CNTV_ENABLE | CNTV_IMASK, 0, NULL);

	assert_true(ns >= 5 * MS);
	assert_true(ns < 1000 * MS);
}

static void test_wfi_far_timer_bounded(void **state)
{
	uint64_t ns = park_ns(*state, CNTV_ENABLE, 60000 * (int64_t)MS, NULL);

	assert_true(ns >= 5 * MS);
	assert_true(ns < 1000 * MS);
}

static void test_spi_wakes_parked_vcpu(void **state)
{
	struct rig *r = *state;
	unsigned conclusive = 0;
	uint64_t parked, woke;
	uint32_t intid;
	bool level;

	for (int i = 0; i < ATTEMPTS; i++, rig_again(r)) {
		struct knocker k = { .r = r,
				     .wait_reg = HV_SYS_REG_CNTV_CTL_EL0,
				     .spi = SPI_INTID(1) };

		park_ns(r, 0, 0, &k);
		assert_true(fake_last_spi(&intid, &level));
		assert_int_equal(intid, 33); /* the absolute INTID of SPI 1 */
		assert_true(level);
		parked = fake_step_time(MPIDR0, 0);
		woke = fake_step_time(MPIDR0, 1);
		if (k.at < parked || k.at - parked > 2 * MS)
			continue; /* the SPI came too late to tell a wake-up from the bound */
		conclusive++;
		/* Unwoken, poll() would have kept it until the 10 ms bound at least. */
		if (woke >= k.at && woke - parked < 10 * MS)
			return;
	}
	if (!conclusive)
		skip();
	fail_msg("the SPI did not end the park in %u runs", conclusive);
}

/* An SPI raised while the guest ran towards its WFI: the vCPU must not park at all. */
static void test_spi_before_park(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		{ .what = "wfi, after a device raised its SPI",
		  .guest = { SYS(HV_SYS_REG_CNTV_CTL_EL0, 0) },
		  .esr = ESR_WFI,
		  .hold = true },
		{ .what = "hvc #0 (end of test)",
		  .expect = { PC(ENTRY + 4) },
		  .guest = { PC(ENTRY + 8) },
		  .esr = ESR_HVC(0) },
	};

	for (int i = 0; i < ATTEMPTS; i++, rig_again(r)) {
		struct knocker k = { .r = r, .wait_steps = 1, .spi = SPI_INTID(0), .release = true };

		fake_script(MPIDR0, steps, 2);
		rig_vm(r, 1);
		rig_vcpu(r);
		knocker_start(&k);
		run_expect(r, HV_EXIT_CALL);
		knocker_join(&k);
		if (fake_step_time(MPIDR0, 1) - k.at < 6 * MS)
			return;
	}
	fail_msg("an SPI raised before the WFI let the vCPU park anyway");
}

/* A kick that lands between the guest's WFI exit and the park. */
static void test_kick_before_park(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		{ .what = "wfi, while the VMM kicks",
		  .guest = { SYS(HV_SYS_REG_CNTV_CTL_EL0, 0) },
		  .esr = ESR_WFI,
		  .hold = true },
		{ .what = "hvc #0 (end of test)",
		  .expect = { PC(ENTRY + 4) },
		  .guest = { PC(ENTRY + 8) },
		  .esr = ESR_HVC(0) },
	};
	uint64_t back;

	for (int i = 0; i < ATTEMPTS; i++, rig_again(r)) {
		struct knocker k = { .r = r, .wait_steps = 1, .release = true };

		fake_script(MPIDR0, steps, 2);
		rig_vm(r, 1);
		rig_vcpu(r);
		knocker_start(&k);
		run_expect(r, HV_EXIT_CANCELED);
		back = fake_now_ns();
		knocker_join(&k);
		/* HVF still holds the request; the backend absorbs it and the guest runs on. */
		run_expect(r, HV_EXIT_CALL);
		if (back - k.at < 6 * MS)
			return;
	}
	fail_msg("a kick before the park did not stop the vCPU from parking");
}

static void test_kick_during_wfi(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		{ .what = "wfi",
		  .guest = { SYS(HV_SYS_REG_CNTV_CTL_EL0, CNTV_ENABLE),
			     SYS(HV_SYS_REG_CNTV_CVAL_EL0, ~0ull) },
		  .esr = ESR_WFI },
		/* Should the park end before the kick: the guest idles on after the WFI. */
		{ .what = "b . after wfi", .expect = { PC(ENTRY + 4) }, .kind = FAKE_BLOCK },
	};
	unsigned conclusive = 0;
	uint64_t parked, back;

	for (int i = 0; i < ATTEMPTS; i++, rig_again(r)) {
		struct knocker k = { .r = r, .wait_reg = HV_SYS_REG_CNTV_CVAL_EL0 };

		fake_script(MPIDR0, steps, 2);
		rig_vm(r, 1);
		rig_vcpu(r);
		knocker_start(&k);
		run_expect(r, HV_EXIT_CANCELED);
		back = fake_now_ns();
		knocker_join(&k);
		assert_int_equal(fake_reg(MPIDR0, FAKE_PC), ENTRY + 4);
		parked = fake_step_time(MPIDR0, 0);
		if (k.at < parked || k.at - parked > 2 * MS)
			continue; /* too late to tell a wake-up from the bound */
		conclusive++;
		/* Back before the bound, and without re-entering the guest. */
		if (back - parked < 10 * MS && fake_steps_entered(MPIDR0) == 1)
			return;
	}
	if (!conclusive)
		skip();
	fail_msg("the kick did not end the park in %u runs", conclusive);
}

/*
 * A kick while the vCPU is in the VMM (here: between an MMIO exit and the next run) is reported
 * once. HVF keeps the hv_vcpus_exit() request and cancels the following hv_vcpu_run as well; that
 * second cancel must not reach the VMM as a second, spurious exit.
 */
static void test_kick_outside_run(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		{ .what = "strb w1, [x0]",
		  .guest = { X(0, UART_BASE), X(1, 'k') },
		  .esr = dabt(0, false, 1, false, true),
		  .ipa = UART_BASE },
		{ .what = "hvc #0 (end of test)",
		  .expect = { PC(ENTRY + 4), X(1, 'k') },
		  .guest = { PC(ENTRY + 8), X(0, 0x84000000) },
		  .esr = ESR_HVC(0) },
	};
	struct hv_exit x;

	fake_script(MPIDR0, steps, 2);
	rig_vm(r, 1);
	rig_vcpu(r);
	run_expect(r, HV_EXIT_MMIO);
	hv->kick(r->vcpu);
	run_expect(r, HV_EXIT_CANCELED);
	assert_int_equal(fake_calls("hv_vcpu_run"), 1); /* reported without entering HVF */
	x = run_expect(r, HV_EXIT_CALL);
	assert_int_equal(x.call.fn, 0x84000000);
	/* The stale cancel came back from HVF once and was run through, not handed up. */
	assert_int_equal(fake_calls("hv_vcpu_run"), 3);
	assert_int_equal(fake_steps_entered(MPIDR0), 2);
	assert_int_equal(fake_reg(MPIDR0, FAKE_PC), ENTRY + 8);
}

static void test_kick_in_guest(void **state)
{
	struct rig *r = *state;
	static const struct fake_step steps[] = {
		{ .what = "b . (a busy guest)", .kind = FAKE_BLOCK },
	};
	struct knocker k = { .r = r, .wait_steps = 1 };

	fake_script(MPIDR0, steps, 1);
	rig_vm(r, 1);
	rig_vcpu(r);
	knocker_start(&k);
	run_expect(r, HV_EXIT_CANCELED);
	knocker_join(&k);
	assert_int_equal(fake_calls("hv_vcpus_exit"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_wfi_until_timer),       T(test_wfi_timer_due),
		T(test_wfi_park_bounded),      T(test_wfi_masked_timer_bounded),
		T(test_wfi_far_timer_bounded), T(test_spi_wakes_parked_vcpu),
		T(test_spi_before_park),       T(test_sgi_wakes_parked_vcpu),
		T(test_sgi_before_park),       T(test_kick_before_park),
		T(test_kick_during_wfi),       T(test_kick_outside_run),
		T(test_kick_in_guest),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

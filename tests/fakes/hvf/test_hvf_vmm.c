// SPDX-License-Identifier: MIT
/*
 * The whole VMM on the HVF backend: vm_run() builds the machine from a tiny arm64 Image, the fake
 * plays the exits a booting guest causes, and the VMM answers them (PSCI, MMIO through the bus)
 * until the guest powers off.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch/aarch64/psci.h"
#include "rig.h"
#include "util/log.h"
#include "vmm/vm.h"

#define MEM_MIB		64ull
#define KERNEL_ENTRY	RAM_BASE /* text_offset 0 at the 2 MiB aligned RAM base */
#define SECONDARY_ENTRY (RAM_BASE + 0x1000)
#define CONTEXT_ID	0x5eedull

/* An arm64 Image that is only its 64-byte header (Documentation/arch/arm64/booting.rst). */
static void write_image(char *path, size_t size)
{
	uint8_t hdr[64] = { 0 };
	int fd;

	snprintf(path, size, "%s/ignition-hvf-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	hdr[18] = 0x01; /* image_size = 0x10000: a modern header, text_offset 0 */
	hdr[24] = 0x02; /* flags: little-endian, 4 KiB pages */
	memcpy(hdr + 56, "ARM\x64", 4);
	assert_int_equal(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	close(fd);
}

static int boot(unsigned nr_vcpus, struct errbuf *e)
{
	struct vm_config cfg = {
		.nr_vcpus = nr_vcpus,
		.mem_mib = MEM_MIB,
		.quiet = true,
	};
	char kernel[256];
	int status;

	write_image(kernel, sizeof(kernel));
	cfg.kernel = kernel;
	status = vm_run(&cfg, &hv_hvf_ops, e);
	unlink(kernel);
	return status;
}

#define BOOT_REGS                                        \
	PC(KERNEL_ENTRY), X(0, fdt_addr(MEM_MIB << 20)), \
	{                                                \
		FAKE_CPSR, 0x3c5                         \
	}

static void test_smp_boot_and_poweroff(void **state)
{
	/* The boot CPU probes PSCI, starts CPU 1, waits for it, then powers off. */
	const struct fake_step cpu0[] = {
		{ .what = "hvc #0: PSCI_VERSION",
		  .expect = { BOOT_REGS },
		  .guest = { PC(KERNEL_ENTRY + 4), X(0, PSCI_VERSION) },
		  .esr = ESR_HVC(0) },
		{ .what = "hvc #0: PSCI_FEATURES(CPU_ON)",
		  .expect = { PC(KERNEL_ENTRY + 4), X(0, PSCI_VERSION_1_1) },
		  .guest = { PC(KERNEL_ENTRY + 8), X(0, PSCI_FEATURES), X(1, PSCI_CPU_ON64) },
		  .esr = ESR_HVC(0) },
		{ .what = "hvc #0: PSCI_CPU_ON(1, entry, context)",
		  .expect = { X(0, PSCI_RET_SUCCESS) },
		  .guest = { PC(KERNEL_ENTRY + 12), X(0, PSCI_CPU_ON64), X(1, 1),
			     X(2, SECONDARY_ENTRY), X(3, CONTEXT_ID) },
		  .esr = ESR_HVC(0) },
		/* Asked once CPU 1 runs: the answer is then ON, not ON_PENDING. */
		{ .what = "hvc #0: PSCI_AFFINITY_INFO(1)",
		  .expect = { X(0, PSCI_RET_SUCCESS) },
		  .guest = { PC(KERNEL_ENTRY + 16), X(0, PSCI_AFFINITY_INFO64), X(1, 1), X(2, 0) },
		  .esr = ESR_HVC(0),
		  .wait = true,
		  .wait_mpidr = MPIDR1,
		  .wait_steps = 1 },
		{ .what = "hvc #0: PSCI_SYSTEM_OFF",
		  .expect = { X(0, PSCI_AFFINITY_ON) },
		  .guest = { PC(KERNEL_ENTRY + 20), X(0, PSCI_SYSTEM_OFF) },
		  .esr = ESR_HVC(0) },
	};
	/* CPU 1 starts where CPU_ON said, then idles until the VMM stops it. */
	const struct fake_step cpu1[] = {
		{ .what = "secondary_entry: b .",
		  .expect = { PC(SECONDARY_ENTRY), X(0, CONTEXT_ID), { FAKE_CPSR, 0x3c5 } },
		  .kind = FAKE_BLOCK },
	};
	struct errbuf e = { { 0 } };

	(void)state;
	fake_script(MPIDR0, cpu0, 5);
	fake_script(MPIDR1, cpu1, 1);
	assert_int_equal(boot(2, &e), VM_EXIT_POWEROFF);
	assert_int_equal(fake_steps_entered(MPIDR0), 5);
	assert_int_equal(fake_steps_entered(MPIDR1), 1);
	/* Each vCPU on a thread of its own, neither of them the caller's. */
	assert_false(pthread_equal(fake_vcpu_thread(MPIDR0), fake_vcpu_thread(MPIDR1)));
	assert_false(pthread_equal(fake_vcpu_thread(MPIDR0), pthread_self()));
	assert_false(pthread_equal(fake_vcpu_thread(MPIDR1), pthread_self()));
	assert_false(fake_vm_exists());
}

static void test_uart_through_the_bus(void **state)
{
	/* A UART register read goes VMM bus -> 16550 -> complete_mmio_read -> X5. */
	static const struct fake_step cpu0[] = {
		{ .what = "ldrb w5, [x1, #5] (LSR)",
		  .guest = { X(1, UART_BASE), X(5, POISON) },
		  .esr = dabt(0, false, 5, false, false),
		  .ipa = UART_BASE + 5 },
		{ .what = "hvc #0: PSCI_SYSTEM_OFF",
		  .expect = { PC(KERNEL_ENTRY + 4), X(5, 0x60) }, /* THRE | TEMT: all sent */
		  .guest = { PC(KERNEL_ENTRY + 8), X(0, PSCI_SYSTEM_OFF) },
		  .esr = ESR_HVC(0) },
	};
	struct errbuf e = { { 0 } };

	(void)state;
	fake_script(MPIDR0, cpu0, 2);
	assert_int_equal(boot(1, &e), VM_EXIT_POWEROFF);
	assert_int_equal(fake_steps_entered(MPIDR0), 2);
}

static void test_reset_exit_status(void **state)
{
	static const struct fake_step cpu0[] = {
		{ .what = "hvc #0: PSCI_SYSTEM_RESET (panic=1)",
		  .guest = { PC(KERNEL_ENTRY + 4), X(0, PSCI_SYSTEM_RESET) },
		  .esr = ESR_HVC(0) },
	};
	struct errbuf e = { { 0 } };

	(void)state;
	fake_script(MPIDR0, cpu0, 1);
	assert_int_equal(boot(1, &e), VM_EXIT_RESET);
}

static void test_fault_keeps_the_vm(void **state)
{
	/*
	 * A guest fault the VMM cannot emulate is the guest's: it gets an external abort at EL1
	 * (its handler here panics with panic=1, i.e. SYSTEM_RESET); the VMM neither stops with
	 * an error nor crashes.
	 */
	static const struct fake_step cpu0[] = {
		{ .what = "stp x1, x2, [x0] to the UART",
		  .guest = { PC(KERNEL_ENTRY + 0x40), X(0, UART_BASE),
			     SYS(HV_SYS_REG_VBAR_EL1, KERNEL_ENTRY + 0x800) },
		  .esr = EC(EC_DABT_LOW) | IL | WNR | FSC_TRANSLATION_L3,
		  .far = UART_BASE,
		  .ipa = UART_BASE },
		{ .what = "hvc #0: PSCI_SYSTEM_RESET from the sync handler",
		  .expect = { PC(KERNEL_ENTRY + 0xa00),
			      { FAKE_CPSR, 0x3c5 },
			      SYS(HV_SYS_REG_ESR_EL1, 0x96000050), /* EC 0x25, WnR, SEA */
			      SYS(HV_SYS_REG_FAR_EL1, UART_BASE),
			      SYS(HV_SYS_REG_ELR_EL1, KERNEL_ENTRY + 0x40),
			      SYS(HV_SYS_REG_SPSR_EL1, 0x3c5) },
		  .guest = { PC(KERNEL_ENTRY + 0xa04), X(0, PSCI_SYSTEM_RESET) },
		  .esr = ESR_HVC(0) },
	};
	struct errbuf e = { { 0 } };

	(void)state;
	fake_script(MPIDR0, cpu0, 2);
	assert_int_equal(boot(1, &e), VM_EXIT_RESET);
	assert_int_equal(fake_steps_entered(MPIDR0), 2);
	assert_false(fake_vm_exists());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_smp_boot_and_poweroff),
		T(test_uart_through_the_bus),
		T(test_reset_exit_status),
		T(test_fault_keeps_the_vm),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

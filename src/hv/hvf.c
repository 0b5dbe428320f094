// SPDX-License-Identifier: MIT
/*
 * Hypervisor.framework backend (Apple Silicon, macOS 15+ for the in-kernel GICv3): the VM, guest
 * RAM and vCPU life cycles. hvf_gic.c creates the GIC, hvf_run.c runs the vCPUs.
 *
 * What HVF insists on:
 *  - a vCPU belongs to the thread that created it: every hv_vcpu_* call except hv_vcpus_exit()
 *    must come from that thread;
 *  - the GIC exists before any vCPU, and a vCPU's MPIDR is set before anyone asks for its
 *    redistributor (the GIC matches them by affinity);
 *  - guest RAM is mmap'ed host memory aligned to the 16 KiB host page; GPA 0 is refused;
 *  - the binary carries the com.apple.security.hypervisor entitlement (scripts/sign.sh).
 * The hv_gic_* calls exist from macOS 15 on; the binary is built for older systems too, so every
 * such call sits behind __builtin_available and an older macOS gets a clear error, not a crash.
 * Firmware calls (PSCI over HVC) go to the VMM, which also parks powered-off secondaries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv/hvf.h"
#include "util/log.h"

/* PSTATE at boot: EL1h with D, A, I and F masked, as Linux's arm64 boot protocol asks. */
#define CPSR_EL1H_DAIF 0x3c5
/*
 * HV_EXISTS of the macOS 26 SDK (err_local | err_sub(0xba5) | 8), which newer systems return for
 * a second VM. The 15.x SDKs lack the name, so the value is spelled out here.
 */
#define HVF_EXISTS ((hv_return_t)(0xfae94000u | 0x08))

const char *hvf_strerror(hv_return_t r)
{
	switch (r) {
	case HV_SUCCESS:
		return "HV_SUCCESS";
	case HV_ERROR:
		return "HV_ERROR";
	case HV_BUSY:
		return "HV_BUSY";
	case HV_BAD_ARGUMENT:
		return "HV_BAD_ARGUMENT";
	case HV_ILLEGAL_GUEST_STATE:
		return "HV_ILLEGAL_GUEST_STATE";
	case HV_NO_RESOURCES:
		return "HV_NO_RESOURCES";
	case HV_NO_DEVICE:
		return "HV_NO_DEVICE";
	case HV_DENIED:
		return "HV_DENIED";
	case HVF_EXISTS:
		return "HV_EXISTS";
	case HV_UNSUPPORTED:
		return "HV_UNSUPPORTED";
	}
	return "unknown hv_return_t";
}

static int hvf_errno(hv_return_t r)
{
	switch (r) {
	case HV_BUSY:
	case HVF_EXISTS:
		return -EBUSY;
	case HV_BAD_ARGUMENT:
		return -EINVAL;
	case HV_NO_RESOURCES:
		return -ENOMEM;
	case HV_NO_DEVICE:
		return -ENODEV;
	case HV_DENIED:
		return -EPERM;
	case HV_UNSUPPORTED:
		return -ENOTSUP;
	}
	return -EIO;
}

int hvf_fail(struct errbuf *e, hv_return_t r, const char *what)
{
	return err_set(e, hvf_errno(r), "%s failed: %s (%#x)", what, hvf_strerror(r), (unsigned)r);
}

/* HVF aborts or misbehaves when a vCPU is touched from a foreign thread: refuse instead. */
bool hvf_owner(const struct hv_vcpu *v, const char *op)
{
	if (likely(pthread_equal(pthread_self(), v->owner)))
		return true;
	pr_err("hvf: %s on vCPU %u from a thread that did not create it", op, v->index);
	return false;
}

/* ---- host and VM ---- */

static int hvf_no_gic(struct errbuf *e)
{
	return err_set(e, -ENOTSUP,
		       "this macOS has no in-kernel GIC in Hypervisor.framework (hv_gic_*): "
		       "ignition needs macOS 15 or later");
}

static int hvf_probe(struct hv_caps *caps, struct errbuf *e)
{
	if (__builtin_available(macOS 15, *))
		return hvf_probe_gic(caps, e);
	return hvf_no_gic(e);
}

static int hvf_vm_create_failed(hv_return_t r, struct errbuf *e)
{
	switch (r) {
	case HV_BUSY:
	case HVF_EXISTS:
		return err_set(e, -EBUSY, "hv_vm_create failed (%s): this process already has a VM",
			       hvf_strerror(r));
	case HV_UNSUPPORTED:
		return err_set(e, -ENOTSUP,
			       "hv_vm_create failed (HV_UNSUPPORTED): this Mac offers no hardware "
			       "virtualisation (is it a virtual machine itself?)");
	}
	return err_set(e, hvf_errno(r),
		       "hv_vm_create failed (%s): is the binary signed with the "
		       "com.apple.security.hypervisor entitlement? Every relink drops it: "
		       "build with make, or run scripts/sign.sh BINARY",
		       hvf_strerror(r));
}

/* The default IPA size (36 bits on M1) covers 64 GiB; only bigger guests ask for more. */
static int hvf_config_ipa(hv_vm_config_t cfg, unsigned bits, struct errbuf *e)
{
	uint32_t def, max;
	hv_return_t r;

	r = hv_vm_config_get_default_ipa_size(&def);
	if (r != HV_SUCCESS)
		return hvf_fail(e, r, "hv_vm_config_get_default_ipa_size");
	if (bits <= def)
		return 0;
	r = hv_vm_config_get_max_ipa_size(&max);
	if (r != HV_SUCCESS)
		return hvf_fail(e, r, "hv_vm_config_get_max_ipa_size");
	if (bits > max)
		return err_set(
			e, -EINVAL,
			"the guest needs a %u-bit physical address space, this Mac offers %u bits: use less --mem",
			bits, max);
	r = hv_vm_config_set_ipa_size(cfg, bits);
	return r == HV_SUCCESS ? 0 : hvf_fail(e, r, "hv_vm_config_set_ipa_size");
}

static int hvf_vm_create(const struct hv_vm_params *p, struct hv_vm **out, struct errbuf *e)
{
	hv_vm_config_t cfg;
	struct hv_vm *vm;
	hv_return_t r;
	int ret;

	if (p->nr_vcpus == 0 || p->nr_vcpus > MAX_VCPUS)
		return err_set(e, -EINVAL, "hvf: %u vCPUs requested, 1..%u supported", p->nr_vcpus,
			       MAX_VCPUS);
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return err_set(e, -ENOMEM, "out of memory");
	if (mach_timebase_info(&vm->timebase) != 0 || !vm->timebase.numer || !vm->timebase.denom) {
		free(vm);
		return err_set(e, -EIO, "mach_timebase_info failed");
	}
	cfg = hv_vm_config_create();
	if (!cfg) {
		free(vm);
		return err_set(e, -ENOMEM, "hv_vm_config_create failed");
	}
	ret = hvf_config_ipa(cfg, p->ipa_bits, e);
	if (ret == 0) {
		r = hv_vm_create(cfg);
		if (r != HV_SUCCESS)
			ret = hvf_vm_create_failed(r, e);
	}
	os_release(cfg);
	if (ret < 0) {
		free(vm);
		return ret;
	}
	vm->nr_vcpus = p->nr_vcpus;
	vm->vtimer_offset = mach_absolute_time(); /* the guest's counter starts near zero */
	pthread_mutex_init(&vm->lock, NULL);
	*out = vm;
	return 0;
}

static int hvf_map_ram(struct hv_vm *vm, uint64_t gpa, void *host, uint64_t size, struct errbuf *e)
{
	hv_return_t r;

	if (!host || (uintptr_t)host % HVF_PAGE || gpa % HVF_PAGE || !size || size % HVF_PAGE)
		return err_set(e, -EINVAL, "hvf: RAM at GPA %#llx (+%#llx) must be 16 KiB aligned",
			       (unsigned long long)gpa, (unsigned long long)size);
	if (gpa == 0 || gpa + size < gpa)
		return err_set(e, -EINVAL, "hvf: RAM cannot start at GPA 0 or wrap: %#llx +%#llx",
			       (unsigned long long)gpa, (unsigned long long)size);
	if (vm->nr_maps == HVF_MAX_MAPS)
		return err_set(e, -ENOSPC, "hvf: at most %d RAM regions", HVF_MAX_MAPS);
	r = hv_vm_map(host, gpa, (size_t)size, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC);
	if (r != HV_SUCCESS)
		return hvf_fail(e, r, "hv_vm_map (guest RAM must come from mmap)");
	vm->maps[vm->nr_maps++] = (struct hvf_map){ .gpa = gpa, .size = size };
	return 0;
}

static int hvf_gic_create(struct hv_vm *vm, const struct layout *l, struct errbuf *e)
{
	if (__builtin_available(macOS 15, *))
		return hvf_gic_setup(vm, l, e);
	return hvf_no_gic(e);
}

static void hvf_vm_destroy(struct hv_vm *vm)
{
	hv_return_t r;

	if (vm->vcpus_created)
		pr_err("hvf: destroying the VM with %u vCPUs left", vm->vcpus_created);
	for (unsigned i = 0; i < vm->nr_maps; i++)
		hv_vm_unmap(vm->maps[i].gpa, (size_t)vm->maps[i].size);
	r = hv_vm_destroy();
	if (r != HV_SUCCESS)
		pr_warn("hv_vm_destroy failed: %s", hvf_strerror(r));
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

/* ---- vCPUs ---- */

/*
 * The EL1 context a CPU powers on with. PSCI CPU_ON after CPU_OFF reuses the HVF vCPU, which still
 * holds what the guest left in it (MMU and caches on, its vectors, page tables and timer); the
 * entry point is physical and expects them off, like the boot CPU's first instruction.
 */
static const hv_sys_reg_t hvf_fresh_regs[] = {
	HV_SYS_REG_SCTLR_EL1, /* first: hvf_save_fresh() turns its MMU and caches off */
	HV_SYS_REG_CPACR_EL1,	 HV_SYS_REG_TTBR0_EL1,	    HV_SYS_REG_TTBR1_EL1,
	HV_SYS_REG_TCR_EL1,	 HV_SYS_REG_MAIR_EL1,	    HV_SYS_REG_AMAIR_EL1,
	HV_SYS_REG_VBAR_EL1,	 HV_SYS_REG_CONTEXTIDR_EL1, HV_SYS_REG_SPSR_EL1,
	HV_SYS_REG_ELR_EL1,	 HV_SYS_REG_ESR_EL1,	    HV_SYS_REG_FAR_EL1,
	HV_SYS_REG_AFSR0_EL1,	 HV_SYS_REG_AFSR1_EL1,	    HV_SYS_REG_PAR_EL1,
	HV_SYS_REG_SP_EL0,	 HV_SYS_REG_SP_EL1,	    HV_SYS_REG_TPIDR_EL0,
	HV_SYS_REG_TPIDRRO_EL0,	 HV_SYS_REG_TPIDR_EL1,	    HV_SYS_REG_CNTKCTL_EL1,
	HV_SYS_REG_CNTV_CTL_EL0, HV_SYS_REG_CNTV_CVAL_EL0,  HV_SYS_REG_MDSCR_EL1,
};

/* SCTLR_EL1.M, .C and .I: MMU, data and instruction caches (Arm ARM D19.2.118). */
#define SCTLR_MMU_CACHES ((1ull << 0) | (1ull << 2) | (1ull << 12))

_Static_assert(sizeof(hvf_fresh_regs) / sizeof(hvf_fresh_regs[0]) == HVF_FRESH_SYSREGS,
	       "hvf.h sizes the saved context");

/*
 * A register HVF will not read (an older framework, say) is left out of the reset rather than
 * failing the vCPU: the boot CPU runs with it as HVF set it, a powered-on one as the guest left it.
 */
static int hvf_save_fresh(struct hv_vcpu *v, struct errbuf *e)
{
	hv_return_t r;

	v->fresh_valid = 0;
	for (unsigned i = 0; i < HVF_FRESH_SYSREGS; i++) {
		r = hv_vcpu_get_sys_reg(v->id, hvf_fresh_regs[i], &v->fresh_sys[i]);
		if (r == HV_SUCCESS)
			v->fresh_valid |= 1u << i;
		else
			pr_warn_once("hvf: system register %#x of a new vCPU unreadable (%s): not "
				     "reset at CPU_ON",
				     (unsigned)hvf_fresh_regs[i], hvf_strerror(r));
	}
	r = hv_vcpu_get_reg(v->id, HV_REG_FPCR, &v->fresh_fpcr);
	if (r == HV_SUCCESS)
		r = hv_vcpu_get_reg(v->id, HV_REG_FPSR, &v->fresh_fpsr);
	/* Off whatever HVF reports, as the boot protocol wants them. */
	v->fresh_sys[0] &= ~SCTLR_MMU_CACHES;
	return r == HV_SUCCESS ? 0 : hvf_fail(e, r, "reading a new vCPU's FPCR/FPSR");
}

static hv_return_t hvf_restore_fresh(struct hv_vcpu *v)
{
	hv_return_t r = HV_SUCCESS;

	for (unsigned i = 0; i < HVF_FRESH_SYSREGS && r == HV_SUCCESS; i++)
		if (v->fresh_valid & (1u << i))
			r = hv_vcpu_set_sys_reg(v->id, hvf_fresh_regs[i], v->fresh_sys[i]);
	if (r == HV_SUCCESS)
		r = hv_vcpu_set_reg(v->id, HV_REG_FPCR, v->fresh_fpcr);
	if (r == HV_SUCCESS)
		r = hv_vcpu_set_reg(v->id, HV_REG_FPSR, v->fresh_fpsr);
	/* X1..X30 are UNKNOWN at reset: zero beats leaking the last context into the next. */
	for (unsigned i = 1; i <= 30 && r == HV_SUCCESS; i++)
		r = hv_vcpu_set_reg(v->id, (hv_reg_t)(HV_REG_X0 + i), 0);
	return r;
}

static int hvf_vcpu_setup(struct hv_vcpu *v, uint64_t mpidr, struct errbuf *e)
{
	hv_return_t r;
	int ret;

	/* Before anything asks the GIC about this vCPU: the redistributor is found by affinity. */
	r = hv_vcpu_set_sys_reg(v->id, HV_SYS_REG_MPIDR_EL1, mpidr);
	if (r != HV_SUCCESS)
		return hvf_fail(e, r, "setting MPIDR_EL1");
	r = hv_vcpu_set_vtimer_offset(v->id, v->vm->vtimer_offset);
	if (r != HV_SUCCESS)
		return hvf_fail(e, r, "hv_vcpu_set_vtimer_offset");
	ret = hvf_save_fresh(v, e);
	if (ret < 0)
		return ret;
	if (__builtin_available(macOS 15, *))
		return hvf_check_redistributor(v, mpidr, e);
	return 0;
}

static int hvf_pipe(int fds[2], struct errbuf *e)
{
	if (pipe(fds) < 0)
		return err_set(e, -errno, "pipe: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
		fcntl(fds[i], F_SETFD, FD_CLOEXEC);
	}
	return 0;
}

static void hvf_vcpu_free(struct hv_vcpu *v)
{
	close(v->wake[0]);
	close(v->wake[1]);
	free(v);
}

static int hvf_vcpu_create(struct hv_vm *vm, unsigned index, uint64_t mpidr, struct hv_vcpu **out,
			   struct errbuf *e)
{
	struct hv_vcpu *v;
	hv_return_t r;
	int ret;

	if (index >= vm->nr_vcpus || vm->vcpus[index])
		return err_set(e, -EINVAL, "hvf: bad vCPU index %u", index);
	if (!vm->gic)
		return err_set(e, -EINVAL, "hvf: create the GIC before vCPU %u", index);
	v = calloc(1, sizeof(*v));
	if (!v)
		return err_set(e, -ENOMEM, "out of memory");
	v->vm = vm;
	v->index = index;
	v->owner = pthread_self();
	ret = hvf_pipe(v->wake, e);
	if (ret < 0) {
		free(v);
		return ret;
	}
	r = hv_vcpu_create(&v->id, &v->exit, NULL);
	if (r != HV_SUCCESS) {
		hvf_vcpu_free(v);
		return hvf_fail(e, r, "hv_vcpu_create");
	}
	ret = hvf_vcpu_setup(v, mpidr, e);
	if (ret < 0) {
		hv_vcpu_destroy(v->id);
		hvf_vcpu_free(v);
		return ret;
	}
	pthread_mutex_lock(&vm->lock);
	vm->vcpus[index] = v;
	vm->vcpus_created++;
	pthread_mutex_unlock(&vm->lock);
	*out = v;
	return 0;
}

static int hvf_vcpu_set_boot(struct hv_vcpu *v, uint64_t pc, uint64_t x0, struct errbuf *e)
{
	hv_return_t r;

	if (!hvf_owner(v, "vcpu_set_boot"))
		return err_set(e, -EPERM, "hvf: vCPU %u used from a foreign thread", v->index);
	v->mmio_read_pending = false;
	r = hvf_restore_fresh(v);
	if (r == HV_SUCCESS)
		r = hv_vcpu_set_reg(v->id, HV_REG_CPSR, CPSR_EL1H_DAIF);
	if (r == HV_SUCCESS)
		r = hv_vcpu_set_reg(v->id, HV_REG_PC, pc);
	if (r == HV_SUCCESS)
		r = hv_vcpu_set_reg(v->id, HV_REG_X0, x0);
	return r == HV_SUCCESS ? 0 : hvf_fail(e, r, "setting the boot registers");
}

static void hvf_vcpu_destroy(struct hv_vcpu *v)
{
	struct hv_vm *vm = v->vm;
	hv_return_t r;

	if (!hvf_owner(v, "vcpu_destroy"))
		return; /* leaking beats undefined behaviour inside HVF */
	pthread_mutex_lock(&vm->lock);
	vm->vcpus[v->index] = NULL;
	vm->vcpus_created--;
	pthread_mutex_unlock(&vm->lock);
	r = hv_vcpu_destroy(v->id);
	if (r != HV_SUCCESS)
		pr_warn("hv_vcpu_destroy(vCPU %u) failed: %s", v->index, hvf_strerror(r));
	hvf_vcpu_free(v);
}

static int hvf_vcpu_get_pc(struct hv_vcpu *v, uint64_t *pc, uint64_t *pstate)
{
	hv_return_t r;

	if (!hvf_owner(v, "get_pc"))
		return -EPERM;
	r = hv_vcpu_get_reg(v->id, HV_REG_PC, pc);
	if (r == HV_SUCCESS)
		r = hv_vcpu_get_reg(v->id, HV_REG_CPSR, pstate);
	return r == HV_SUCCESS ? 0 : -EIO;
}

/* ---- any thread ---- */

static void hvf_set_spi(struct hv_vm *vm, uint32_t intid, bool level)
{
	hv_return_t r = HV_UNSUPPORTED;

	if (__builtin_available(macOS 15, *))
		r = hv_gic_set_spi(intid, level);
	if (r != HV_SUCCESS) {
		pr_warn_once("hv_gic_set_spi(%u, %d) failed: %s", intid, level, hvf_strerror(r));
		return;
	}
	if (!level)
		return;
	/* A vCPU parked in WFI would not notice: the GIC only signals vCPUs inside the guest. */
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i]) {
			atomic_store(&vm->vcpus[i]->woken, true);
			hvf_wake(vm->vcpus[i]);
		}
	}
	pthread_mutex_unlock(&vm->lock);
}
const struct hv_ops hv_hvf_ops = {
	.name = "hvf",
	.probe = hvf_probe,
	.vm_create = hvf_vm_create,
	.map_ram = hvf_map_ram,
	.gic_create = hvf_gic_create,
	.vcpu_create = hvf_vcpu_create,
	.vm_finalize = NULL,
	.vcpu_set_boot = hvf_vcpu_set_boot,
	.vcpu_run = hvf_vcpu_run,
	.complete_mmio_read = hvf_complete_mmio_read,
	.complete_call = hvf_complete_call,
	.vcpu_get_pc = hvf_vcpu_get_pc,
	.set_spi = hvf_set_spi,
	.kick = hvf_kick,
	.vcpu_destroy = hvf_vcpu_destroy,
	.vm_destroy = hvf_vm_destroy,
};

// SPDX-License-Identifier: MIT
/*
 * Running a vCPU on Hypervisor.framework: hv_vcpu_run() reports every guest exception as a raw
 * ESR, arch/aarch64/esr.c decodes it, and this file turns the result into the VMM's normalised
 * exits (MMIO, firmware call, cancel) or deals with it here (system registers, WFI, timer).
 *
 * WFI traps to us. We park the vCPU thread until the guest's virtual timer is due, a kick, an SPI
 * we inject, or an SGI (IPI) another vCPU sent. That last one the in-kernel GIC delivers without
 * telling us, so with more than one vCPU the parked thread reads its own redistributor's pending
 * SGIs and PPIs every PARK_POLL_NS and goes back into the guest when a new one shows up. QEMU and
 * libkrun have no such case: both wake a sleeping vCPU only from their userspace GIC, which sees
 * every SGI because ICC_SGI1R_EL1 traps to it. PARK_MAX_NS is a safety net for anything else the
 * framework might raise unseen. Sleeps shorter than PARK_MIN_NS are not worth a context switch
 * (QEMU measured ~2 ms on M1).
 *
 * What cannot be emulated (a load or store without a valid syndrome, a table walk or an
 * instruction fetch outside RAM, any other trapped class) is the guest's fault, not the VMM's:
 * the guest gets the exception real hardware or KVM would give it, and the VM runs on.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "arch/aarch64/sysreg.h"
#include "hv/hvf.h"
#include "util/log.h"

#define CNTV_CTL_ENABLE	 (1u << 0)
#define CNTV_CTL_IMASK	 (1u << 1)
#define CNTV_CTL_ISTATUS (1u << 2)
#define PARK_MAX_NS	 100000000ull
#define PARK_MIN_NS	 2000000ull
#define PARK_POLL_NS	 1000000ull
/* SGIs and PPIs: INTIDs 0..31, one bit each in GICR_ISPENDR0 / GICR_ISENABLER0. */
#define GIC_PRIVATE_MASK	0xffffffffull
#define SMCCC_RET_NOT_SUPPORTED ((uint64_t)-1)
/* Guest faults logged per VM; a guest stuck faulting must not flood stderr. */
#define FAULTS_LOGGED 8
/* The exit handlers' "dealt with here, run the guest again". */
#define HVF_CONTINUE 1

static int hvf_get(struct hv_vcpu *v, hv_reg_t reg, uint64_t *val, struct errbuf *e)
{
	hv_return_t r = hv_vcpu_get_reg(v->id, reg, val);

	return r == HV_SUCCESS ? 0 : hvf_fail(e, r, "hv_vcpu_get_reg");
}

static int hvf_set(struct hv_vcpu *v, hv_reg_t reg, uint64_t val, struct errbuf *e)
{
	hv_return_t r = hv_vcpu_set_reg(v->id, reg, val);

	return r == HV_SUCCESS ? 0 : hvf_fail(e, r, "hv_vcpu_set_reg");
}

/* Register 31 in a load, store or MSR/MRS is XZR; HV_REG_X0 + 31 would be PC. */
static int hvf_get_x(struct hv_vcpu *v, unsigned rt, uint64_t *val, struct errbuf *e)
{
	*val = 0;
	return rt < 31 ? hvf_get(v, (hv_reg_t)(HV_REG_X0 + rt), val, e) : 0;
}

static int hvf_set_x(struct hv_vcpu *v, unsigned rt, uint64_t val, struct errbuf *e)
{
	return rt < 31 ? hvf_set(v, (hv_reg_t)(HV_REG_X0 + rt), val, e) : 0;
}

static int hvf_get_sys(struct hv_vcpu *v, hv_sys_reg_t reg, uint64_t *val, struct errbuf *e)
{
	hv_return_t r = hv_vcpu_get_sys_reg(v->id, reg, val);

	return r == HV_SUCCESS ? 0 : hvf_fail(e, r, "hv_vcpu_get_sys_reg");
}
/* ---- parking on WFI ---- */

void hvf_wake(struct hv_vcpu *v)
{
	char c = 0;

	if (atomic_load(&v->parked)) {
		ssize_t n = write(v->wake[1], &c, 1); /* a full pipe already wakes it */
		(void)n;
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * SGIs and PPIs pending and enabled in this vCPU's redistributor, or -1 if HVF cannot tell (the
 * caller then re-enters the guest soon and lets the hardware decide).
 */
API_AVAILABLE(macos(15.0))
static int64_t hvf_gic_private_pending(struct hv_vcpu *v)
{
	uint64_t pend, enabled;
	hv_return_t r;

	r = hv_gic_get_redistributor_reg(v->id, HV_GIC_REDISTRIBUTOR_REG_GICR_ISPENDR0, &pend);
	if (r == HV_SUCCESS)
		r = hv_gic_get_redistributor_reg(v->id, HV_GIC_REDISTRIBUTOR_REG_GICR_ISENABLER0,
						 &enabled);
	if (r != HV_SUCCESS) {
		pr_warn_once("hv_gic_get_redistributor_reg failed: %s; idle vCPUs poll the guest",
			     hvf_strerror(r));
		return -1;
	}
	return (int64_t)(pend & enabled & GIC_PRIVATE_MASK);
}

static int64_t hvf_sgi_pending(struct hv_vcpu *v)
{
	if (v->vm->nr_vcpus < 2)
		return 0; /* no other vCPU to send one; the timer's PPI has its deadline */
	if (__builtin_available(macOS 15, *))
		return hvf_gic_private_pending(v);
	return -1;
}

/*
 * parked is raised before the flags are looked at, and wakers set a flag before looking at
 * parked: one of the two always sees the other, so no kick or SPI is lost. SGIs are looked for
 * between slices of the sleep. An interrupt that was already pending at the last WFI and is
 * still pending now is one the guest does not take (masked by priority, say): only new ones
 * end the park, else the vCPU would bounce between WFI and us.
 */
static void hvf_sleep(struct hv_vcpu *v, uint64_t ns)
{
	struct pollfd pfd = { .fd = v->wake[0], .events = POLLIN };
	uint64_t deadline = mono_ns() + ns, now;
	int64_t seen, pend;
	char buf[16];

	atomic_store(&v->parked, true);
	seen = hvf_sgi_pending(v);
	if (seen < 0)
		deadline = min_u64(deadline, mono_ns() + PARK_POLL_NS);
	else if ((uint64_t)seen & ~v->sgi_seen)
		deadline = 0; /* arrived between the WFI and here */
	v->sgi_seen = seen < 0 ? 0 : (uint64_t)seen;
	while (!atomic_load(&v->kicked) && !atomic_load(&v->woken) &&
	       (now = mono_ns()) < deadline) {
		uint64_t slice = deadline - now;

		if (v->vm->nr_vcpus > 1 && seen >= 0)
			slice = min_u64(slice, PARK_POLL_NS);
		if (poll(&pfd, 1, (int)((slice + 999999) / 1000000)) != 0)
			break;
		if (seen < 0)
			continue;
		pend = hvf_sgi_pending(v);
		if (pend < 0 || (uint64_t)pend & ~v->sgi_seen)
			break;
	}
	atomic_store(&v->parked, false);
	while (read(v->wake[0], buf, sizeof(buf)) > 0)
		;
}

static uint64_t hvf_ticks_to_ns(const struct hv_vm *vm, uint64_t ticks)
{
	if (ticks > UINT64_MAX / vm->timebase.numer)
		return UINT64_MAX;
	return ticks * vm->timebase.numer / vm->timebase.denom;
}

/* The guest idles: sleep until its virtual timer is due, capped, unless that is very soon. */
static int hvf_park(struct hv_vcpu *v, struct errbuf *e)
{
	uint64_t ns = PARK_MAX_NS, ctl, cval, now;
	int r;

	r = hvf_get_sys(v, HV_SYS_REG_CNTV_CTL_EL0, &ctl, e);
	if (r < 0)
		return r;
	if ((ctl & (CNTV_CTL_ENABLE | CNTV_CTL_IMASK)) == CNTV_CTL_ENABLE) {
		r = hvf_get_sys(v, HV_SYS_REG_CNTV_CVAL_EL0, &cval, e);
		if (r < 0)
			return r;
		now = mach_absolute_time() - v->vm->vtimer_offset;
		if (cval <= now)
			return 0; /* already due: the GIC holds its PPI for the guest */
		ns = hvf_ticks_to_ns(v->vm, cval - now);
		if (ns < PARK_MIN_NS)
			return 0;
	}
	hvf_sleep(v, min_u64(ns, PARK_MAX_NS));
	return 0;
}

/*
 * After VTIMER_ACTIVATED HVF masks the timer. The in-kernel GIC delivers the PPI itself, so we
 * only lift the mask once the guest has re-armed or disabled the timer; unmasking while it still
 * fires would bring us straight back here.
 */
static int hvf_sync_vtimer(struct hv_vcpu *v, struct errbuf *e)
{
	uint64_t ctl;
	hv_return_t r;
	int ret;

	if (!v->vtimer_masked)
		return 0;
	ret = hvf_get_sys(v, HV_SYS_REG_CNTV_CTL_EL0, &ctl, e);
	if (ret < 0)
		return ret;
	if ((ctl & (CNTV_CTL_ENABLE | CNTV_CTL_IMASK | CNTV_CTL_ISTATUS)) ==
	    (CNTV_CTL_ENABLE | CNTV_CTL_ISTATUS))
		return 0;
	r = hv_vcpu_set_vtimer_mask(v->id, false);
	if (r != HV_SUCCESS)
		return hvf_fail(e, r, "hv_vcpu_set_vtimer_mask");
	v->vtimer_masked = false;
	return 0;
}

/* ---- exceptions the guest gets instead of emulation ---- */

static int hvf_set_sys(struct hv_vcpu *v, hv_sys_reg_t reg, uint64_t val, struct errbuf *e)
{
	hv_return_t r = hv_vcpu_set_sys_reg(v->id, reg, val);

	return r == HV_SUCCESS ? 0 : hvf_fail(e, r, "hv_vcpu_set_sys_reg");
}

static void hvf_log_fault(struct hv_vcpu *v, const char *what, uint64_t pc,
			  const struct esr_el1_entry *t)
{
	const hv_vcpu_exit_exception_t *x = &v->exit->exception;
	unsigned n = atomic_fetch_add(&v->vm->faults, 1);

	if (n < FAULTS_LOGGED)
		pr_warn("vCPU %u: %s at PC %#llx, address %#llx (IPA %#llx, ESR %#llx): the guest gets "
			"%s",
			v->index, what, (unsigned long long)pc,
			(unsigned long long)x->virtual_address,
			(unsigned long long)x->physical_address, (unsigned long long)x->syndrome,
			t->far_valid ? "an external abort" : "an undefined instruction");
	else if (n == FAULTS_LOGGED)
		pr_warn("vCPU %u: further guest faults are not logged", v->index);
}

/*
 * Enters the guest's EL1 synchronous vector as the CPU would: syndrome, fault address, return
 * address and old PSTATE in the EL1 registers, then PSTATE and PC of the handler.
 */
static int hvf_inject(struct hv_vcpu *v, const char *what, uint64_t pc, struct errbuf *e)
{
	const hv_vcpu_exit_exception_t *x = &v->exit->exception;
	uint64_t cpsr, sctlr, vbar;
	struct esr_el1_entry t;
	int r;

	r = hvf_get(v, HV_REG_CPSR, &cpsr, e);
	if (r == 0)
		r = hvf_get_sys(v, HV_SYS_REG_SCTLR_EL1, &sctlr, e);
	if (r == 0)
		r = hvf_get_sys(v, HV_SYS_REG_VBAR_EL1, &vbar, e);
	if (r < 0)
		return r;
	esr_el1_exception(x->syndrome, x->virtual_address, pc, cpsr, sctlr, vbar, &t);
	r = hvf_set_sys(v, HV_SYS_REG_ESR_EL1, t.esr, e);
	if (r == 0 && t.far_valid)
		r = hvf_set_sys(v, HV_SYS_REG_FAR_EL1, t.far, e);
	if (r == 0)
		r = hvf_set_sys(v, HV_SYS_REG_ELR_EL1, t.elr, e);
	if (r == 0)
		r = hvf_set_sys(v, HV_SYS_REG_SPSR_EL1, t.spsr, e);
	if (r == 0)
		r = hvf_set(v, HV_REG_CPSR, t.cpsr, e);
	if (r == 0)
		r = hvf_set(v, HV_REG_PC, t.pc, e);
	if (r < 0)
		return r;
	hvf_log_fault(v, what, pc, &t);
	return HVF_CONTINUE;
}

/* ---- exits ---- */

static int hvf_dabt(struct hv_vcpu *v, const struct esr_exit *d, uint64_t pc, struct hv_exit *exit,
		    struct errbuf *e)
{
	const struct esr_dabt *a = &d->dabt;
	uint64_t val;
	int r;

	if (a->s1ptw)
		return hvf_inject(v, "a page table walk outside RAM", pc, e);
	if (a->cm) { /* cache maintenance by VA on a device: nothing is cached */
		r = hvf_set(v, HV_REG_PC, pc + d->pc_advance, e);
		return r < 0 ? r : HVF_CONTINUE;
	}
	exit->reason = HV_EXIT_MMIO;
	exit->mmio.addr = a->ipa;
	exit->mmio.width = a->width;
	exit->mmio.write = a->write;
	exit->mmio.data = 0;
	if (!a->write) {
		v->mmio = *a;
		v->mmio_next_pc = pc + d->pc_advance;
		v->mmio_read_pending = true;
		return 0;
	}
	r = hvf_get_x(v, a->rt, &val, e);
	if (r < 0)
		return r;
	exit->mmio.data = a->width < 8 ? val & ((1ull << (8 * a->width)) - 1) : val;
	return hvf_set(v, HV_REG_PC, pc + d->pc_advance, e);
}

static int hvf_sysreg(struct hv_vcpu *v, const struct esr_exit *d, uint64_t pc, struct errbuf *e)
{
	const struct esr_sysreg *s = &d->sysreg;
	uint64_t wval = 0, rval = 0;
	int r = 0;

	if (!s->read)
		r = hvf_get_x(v, s->rt, &wval, e);
	if (r < 0)
		return r;
	sysreg_emulate(s, wval, &rval);
	if (s->read)
		r = hvf_set_x(v, s->rt, rval, e);
	if (r == 0)
		r = hvf_set(v, HV_REG_PC, pc + d->pc_advance, e);
	return r < 0 ? r : HVF_CONTINUE;
}

static int hvf_call(struct hv_vcpu *v, const struct esr_exit *d, uint64_t pc, struct hv_exit *exit,
		    struct errbuf *e)
{
	uint64_t x[4];
	int r = 0;

	/* SMCCC calls use immediate 0; anything else is not a call we know. */
	if (d->imm) {
		r = hvf_set(v, HV_REG_X0, SMCCC_RET_NOT_SUPPORTED, e);
		if (r == 0 && d->pc_advance)
			r = hvf_set(v, HV_REG_PC, pc + d->pc_advance, e);
		return r < 0 ? r : HVF_CONTINUE;
	}
	for (unsigned i = 0; i < 4 && r == 0; i++)
		r = hvf_get(v, (hv_reg_t)(HV_REG_X0 + i), &x[i], e);
	if (r == 0 && d->pc_advance) /* SMC reports itself, HVC the instruction after it */
		r = hvf_set(v, HV_REG_PC, pc + d->pc_advance, e);
	if (r < 0)
		return r;
	exit->reason = HV_EXIT_CALL;
	exit->call.fn = x[0];
	exit->call.args[0] = x[1];
	exit->call.args[1] = x[2];
	exit->call.args[2] = x[3];
	return 0;
}

static int hvf_wfx(struct hv_vcpu *v, const struct esr_exit *d, uint64_t pc, struct errbuf *e)
{
	int r = hvf_set(v, HV_REG_PC, pc + d->pc_advance, e);

	if (r < 0)
		return r;
	/*
	 * WFE waits for an event (spinlocks, SEV from another CPU) that nothing here could signal;
	 * parking would only stretch the spin. Give the host CPU away for a moment instead.
	 */
	if (d->kind == ESR_KIND_WFE)
		sched_yield();
	else
		r = hvf_park(v, e);
	return r < 0 ? r : HVF_CONTINUE;
}

static int hvf_exception(struct hv_vcpu *v, struct hv_exit *exit, struct errbuf *e)
{
	const hv_vcpu_exit_exception_t *x = &v->exit->exception;
	struct errbuf de;
	struct esr_exit d;
	uint64_t pc;
	int r;

	r = hvf_get(v, HV_REG_PC, &pc, e);
	if (r < 0)
		return r;
	/* Decoding fails only for a load or store without a valid syndrome. */
	if (esr_decode(x->syndrome, x->virtual_address, x->physical_address, pc, &d, &de) < 0)
		return hvf_inject(v, "an access without a valid syndrome", pc, e);
	switch (d.kind) {
	case ESR_KIND_DABT:
		return hvf_dabt(v, &d, pc, exit, e);
	case ESR_KIND_SYSREG:
		return hvf_sysreg(v, &d, pc, e);
	case ESR_KIND_HVC:
	case ESR_KIND_SMC:
		return hvf_call(v, &d, pc, exit, e);
	case ESR_KIND_WFI:
	case ESR_KIND_WFE:
		return hvf_wfx(v, &d, pc, e);
	case ESR_KIND_OTHER:
		break;
	}
	return hvf_inject(v,
			  d.ec == ESR_EC_IABT_LOW ? "an instruction fetch outside RAM" :
						    "an exception the VMM does not emulate",
			  pc, e);
}

static int hvf_handle_exit(struct hv_vcpu *v, struct hv_exit *exit, struct errbuf *e)
{
	uint64_t pc = 0;

	/* As an integer: newer SDKs may add reasons, and they land in the error below. */
	switch ((uint32_t)v->exit->reason) {
	case HV_EXIT_REASON_EXCEPTION:
		return hvf_exception(v, exit, e);
	case HV_EXIT_REASON_VTIMER_ACTIVATED:
		v->vtimer_masked = true; /* HVF did it; hvf_sync_vtimer lifts it */
		return HVF_CONTINUE;
	case HV_EXIT_REASON_CANCELED:
		/*
		 * hv_vcpus_exit() is sticky: a kick that found the vCPU outside hv_vcpu_run was
		 * reported through v->kicked already, and its request then cancels the next run as
		 * well. That cancel is stale; the guest runs on. A fresh kick sets v->kicked before
		 * it asks HVF, so it is never mistaken for a stale one.
		 */
		if (!atomic_exchange(&v->kicked, false))
			return HVF_CONTINUE;
		exit->reason = HV_EXIT_CANCELED;
		return 0;
	}
	hvf_get(v, HV_REG_PC, &pc, e);
	return err_set(e, -EIO, "vCPU %u: hv_vcpu_run exit reason %u at PC %#llx", v->index,
		       (unsigned)v->exit->reason, (unsigned long long)pc);
}

int hvf_vcpu_run(struct hv_vcpu *v, struct hv_exit *exit, struct errbuf *e)
{
	hv_return_t r;
	int ret;

	if (!hvf_owner(v, "vcpu_run"))
		return err_set(e, -EPERM, "hvf: vCPU %u used from a foreign thread", v->index);
	if (v->mmio_read_pending) {
		pr_warn_once("hvf: vCPU %u ran again before its MMIO read completed", v->index);
		v->mmio_read_pending = false; /* PC still points at the load: it traps again */
	}
	for (;;) {
		if (atomic_exchange(&v->kicked, false)) {
			exit->reason = HV_EXIT_CANCELED;
			return 0;
		}
		ret = hvf_sync_vtimer(v, e);
		if (ret < 0)
			return ret;
		/* What the GIC holds now, the guest sees on entry: older SPIs need no wake-up. */
		atomic_store(&v->woken, false);
		r = hv_vcpu_run(v->id);
		if (r != HV_SUCCESS)
			return hvf_fail(e, r, "hv_vcpu_run");
		ret = hvf_handle_exit(v, exit, e);
		if (ret != HVF_CONTINUE)
			return ret;
	}
}

void hvf_complete_mmio_read(struct hv_vcpu *v, uint64_t data)
{
	struct errbuf e;

	if (!hvf_owner(v, "complete_mmio_read"))
		return;
	if (!v->mmio_read_pending) {
		pr_warn_once("hvf: complete_mmio_read without an MMIO read");
		return;
	}
	v->mmio_read_pending = false;
	if (hvf_set_x(v, v->mmio.rt, esr_dabt_load_value(&v->mmio, data), &e) < 0 ||
	    hvf_set(v, HV_REG_PC, v->mmio_next_pc, &e) < 0)
		pr_err("vCPU %u: completing an MMIO read: %s", v->index, e.msg);
}

void hvf_complete_call(struct hv_vcpu *v, uint64_t x0)
{
	struct errbuf e;

	if (hvf_owner(v, "complete_call") && hvf_set(v, HV_REG_X0, x0, &e) < 0)
		pr_err("vCPU %u: completing a call: %s", v->index, e.msg);
}

/* Any thread. */
void hvf_kick(struct hv_vcpu *v)
{
	hv_return_t r;

	atomic_store(&v->kicked, true);
	/*
	 * Sticky: a vCPU that is not in the guest now leaves its next hv_vcpu_run at once, and
	 * hvf_handle_exit() drops that cancel if the flag was consumed in between.
	 */
	r = hv_vcpus_exit(&v->id, 1);
	if (r != HV_SUCCESS)
		pr_warn_once("hv_vcpus_exit failed: %s", hvf_strerror(r));
	hvf_wake(v);
}

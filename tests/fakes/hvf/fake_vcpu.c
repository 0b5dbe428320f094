// SPDX-License-Identifier: MIT
/* The fake's vCPUs: registers, thread ownership, kicks, and the playback of scripts. */
#include <string.h>

#include "fake_int.h"

struct fake_vcpu *fk_vcpu_get(hv_vcpu_t id, const char *fn, bool owner_only)
{
	struct fake_vcpu *v = id < FAKE_MAX_VCPUS ? &fk.vcpus[id] : NULL;

	if (!v || !v->used || v->destroyed) {
		fk_violation("%s: no vCPU %llu", fn, (unsigned long long)id);
		return NULL;
	}
	if (owner_only && !pthread_equal(v->owner, pthread_self())) {
		fk_violation("%s: vCPU %llu touched from a thread that did not create it", fn,
			     (unsigned long long)id);
		return NULL;
	}
	return v;
}

hv_return_t hv_gic_get_redistributor_base(hv_vcpu_t vcpu, hv_ipa_t *redistributor_base_address)
{
	struct fake_vcpu *v;

	ENTER();
	if (!fk_gic_api_ok(__func__) || !(v = fk_vcpu_get(vcpu, __func__, false)))
		LEAVE(HV_BAD_ARGUMENT);
	if (!fk.gic)
		LEAVE(HV_NO_DEVICE);
	if (!v->mpidr_set) {
		fk_violation("hv_gic_get_redistributor_base before MPIDR_EL1 was set");
		LEAVE(HV_BAD_ARGUMENT);
	}
	*redistributor_base_address = fk.gicr + (fk.host.redist_first + vcpu) * fk.host.redist_size;
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_gic_get_redistributor_reg(hv_vcpu_t vcpu, hv_gic_redistributor_reg_t reg,
					 uint64_t *value)
{
	struct fake_vcpu *v;

	ENTER();
	/* "Must be called by the owning thread." */
	if (!fk_gic_api_ok(__func__) || !(v = fk_vcpu_get(vcpu, __func__, true)))
		LEAVE(HV_BAD_ARGUMENT);
	if (!fk.gic)
		LEAVE(HV_NO_DEVICE);
	switch (reg) {
	case HV_GIC_REDISTRIBUTOR_REG_GICR_ISPENDR0:
		*value = v->gicr_pend;
		break;
	case HV_GIC_REDISTRIBUTOR_REG_GICR_ISENABLER0:
		*value = v->gicr_enabled;
		break;
	default:
		fk_violation("%s: register %#x is not modelled", __func__, (unsigned)reg);
		LEAVE(HV_BAD_ARGUMENT);
	}
	pthread_cond_broadcast(&fk.cond);
	LEAVE(HV_SUCCESS);
}

void fake_gic_pend(uint64_t mpidr, unsigned intid, bool enabled)
{
	struct fake_vcpu *v;

	pthread_mutex_lock(&fk.lock);
	v = fk_vcpu_by_mpidr(mpidr);
	if (v && intid < 32) {
		v->gicr_pend |= 1u << intid;
		if (!enabled)
			v->gicr_enabled &= ~(1u << intid);
	} else {
		fk_violation("fake_gic_pend: no vCPU %#llx or INTID %u is not private",
			     (unsigned long long)mpidr, intid);
	}
	pthread_cond_broadcast(&fk.cond);
	pthread_mutex_unlock(&fk.lock);
}

static void attach_script(struct fake_vcpu *v)
{
	for (unsigned i = 0; i < fk.nr_scripts; i++) {
		if (fk.scripts[i].mpidr == v->mpidr) {
			v->script = fk.scripts[i].steps;
			v->nr_steps = fk.scripts[i].n;
			return;
		}
	}
}

hv_return_t hv_vcpu_create(hv_vcpu_t *vcpu, hv_vcpu_exit_t **exit, hv_vcpu_config_t config)
{
	ENTER();
	if (!fk.vm) {
		fk_violation("hv_vcpu_create without a VM");
		LEAVE(HV_BAD_ARGUMENT);
	}
	for (unsigned i = 0; i < FAKE_MAX_VCPUS; i++) {
		if (fk.vcpus[i].used && !fk.vcpus[i].destroyed &&
		    pthread_equal(fk.vcpus[i].owner, pthread_self())) {
			fk_violation("hv_vcpu_create: this thread owns vCPU %u already", i);
			LEAVE(HV_BUSY);
		}
	}
	for (unsigned i = 0; i < FAKE_MAX_VCPUS; i++) {
		struct fake_vcpu *v = &fk.vcpus[i];

		if (v->used)
			continue;
		*v = (struct fake_vcpu){ .used = true,
					 .owner = pthread_self(),
					 .gicr_enabled = 0xffffffffu };
		fk_sysreg(v, HV_SYS_REG_SCTLR_EL1, true)->val = FAKE_FRESH_SCTLR;
		*vcpu = i;
		*exit = &v->exit;
		LEAVE(HV_SUCCESS);
	}
	LEAVE(HV_NO_RESOURCES);
}

hv_return_t hv_vcpu_destroy(hv_vcpu_t vcpu)
{
	struct fake_vcpu *v;

	ENTER();
	v = fk_vcpu_get(vcpu, __func__, true);
	if (!v)
		LEAVE(HV_BAD_ARGUMENT);
	v->destroyed = true;
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_vcpu_get_reg(hv_vcpu_t vcpu, hv_reg_t reg, uint64_t *value)
{
	struct fake_vcpu *v;

	ENTER();
	v = fk_vcpu_get(vcpu, __func__, true);
	if (!v || reg > HV_REG_CPSR)
		LEAVE(HV_BAD_ARGUMENT);
	*value = v->regs[reg];
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_vcpu_set_reg(hv_vcpu_t vcpu, hv_reg_t reg, uint64_t value)
{
	struct fake_vcpu *v;

	ENTER();
	v = fk_vcpu_get(vcpu, __func__, true);
	if (!v || reg > HV_REG_CPSR)
		LEAVE(HV_BAD_ARGUMENT);
	v->regs[reg] = value;
	v->reg_writes[reg]++;
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_vcpu_get_sys_reg(hv_vcpu_t vcpu, hv_sys_reg_t reg, uint64_t *value)
{
	struct fake_vcpu *v;
	struct fake_sysreg *s;

	ENTER();
	v = fk_vcpu_get(vcpu, __func__, true);
	if (!v)
		LEAVE(HV_BAD_ARGUMENT);
	s = fk_sysreg(v, reg, true);
	*value = s ? s->val : 0;
	if (s)
		s->reads++;
	pthread_cond_broadcast(&fk.cond);
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_vcpu_set_sys_reg(hv_vcpu_t vcpu, hv_sys_reg_t reg, uint64_t value)
{
	struct fake_vcpu *v;
	struct fake_sysreg *s;

	ENTER();
	v = fk_vcpu_get(vcpu, __func__, true);
	if (!v || !(s = fk_sysreg(v, reg, true)))
		LEAVE(HV_BAD_ARGUMENT);
	s->val = value;
	if (reg == HV_SYS_REG_MPIDR_EL1) {
		if (fk_vcpu_by_mpidr(value) && fk_vcpu_by_mpidr(value) != v)
			fk_violation("two vCPUs with MPIDR %#llx", (unsigned long long)value);
		v->mpidr = value;
		v->mpidr_set = true;
		attach_script(v);
	}
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_vcpu_set_vtimer_mask(hv_vcpu_t vcpu, bool vtimer_is_masked)
{
	struct fake_vcpu *v;

	ENTER();
	v = fk_vcpu_get(vcpu, __func__, true);
	if (!v)
		LEAVE(HV_BAD_ARGUMENT);
	v->vtimer_masked = vtimer_is_masked;
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_vcpu_set_vtimer_offset(hv_vcpu_t vcpu, uint64_t vtimer_offset)
{
	struct fake_vcpu *v;

	ENTER();
	v = fk_vcpu_get(vcpu, __func__, true);
	if (!v)
		LEAVE(HV_BAD_ARGUMENT);
	v->vtimer_offset = vtimer_offset;
	LEAVE(HV_SUCCESS);
}

hv_return_t hv_vcpus_exit(hv_vcpu_t *vcpus, uint32_t vcpu_count)
{
	ENTER();
	for (uint32_t i = 0; i < vcpu_count; i++) {
		struct fake_vcpu *v = fk_vcpu_get(vcpus[i], __func__, false);

		if (!v)
			LEAVE(HV_BAD_ARGUMENT);
		v->exit_requested = true; /* sticky, as in HVF */
	}
	pthread_cond_broadcast(&fk.cond);
	LEAVE(HV_SUCCESS);
}

static void check_expect(struct fake_vcpu *v, const struct fake_step *s)
{
	for (unsigned i = 0; i < FAKE_MAX_REGS && s->expect[i].id; i++) {
		uint64_t got = fk_reg_get(v, s->expect[i].id);

		if (got != s->expect[i].val)
			fk_violation(
				"MPIDR %#llx, before step %u (%s): register %#x is %#llx, not %#llx",
				(unsigned long long)v->mpidr, v->step, s->what ? s->what : "",
				s->expect[i].id, (unsigned long long)got,
				(unsigned long long)s->expect[i].val);
	}
}

/* The step's exit; false if the run must fail. */
static bool play_step(struct fake_vcpu *v, const struct fake_step *s)
{
	uint64_t deadline = fake_now_ns() + FAKE_WAIT_MS * 1000000ull;

	while (s->wait) {
		struct fake_vcpu *o = fk_vcpu_by_mpidr(s->wait_mpidr);

		if (o && o->step >= s->wait_steps)
			break;
		if (!fk_wait_until(deadline)) {
			fk_violation("step %s: MPIDR %#llx never got to step %u", s->what,
				     (unsigned long long)s->wait_mpidr, s->wait_steps);
			return false;
		}
	}
	while (s->hold && !v->released) {
		if (!fk_wait_until(deadline)) {
			fk_violation("step %s: held, and the test never released it", s->what);
			return false;
		}
	}
	v->released = false;
	for (unsigned i = 0; i < FAKE_MAX_REGS && s->guest[i].id; i++)
		fk_reg_put(v, s->guest[i].id, s->guest[i].val);
	v->exit = (hv_vcpu_exit_t){ .reason = HV_EXIT_REASON_EXCEPTION };
	switch (s->kind) {
	case FAKE_EXCEPTION:
		v->exit.exception.syndrome = s->esr;
		v->exit.exception.virtual_address = s->far;
		v->exit.exception.physical_address = s->ipa;
		return true;
	case FAKE_VTIMER:
		v->exit.reason = HV_EXIT_REASON_VTIMER_ACTIVATED;
		v->vtimer_masked = true;
		return true;
	case FAKE_UNKNOWN:
		v->exit.reason = HV_EXIT_REASON_UNKNOWN;
		return true;
	case FAKE_BLOCK:
		break;
	}
	v->running = true;
	while (!v->exit_requested) {
		if (!fk_wait_until(deadline)) {
			fk_violation("step %s: nobody called hv_vcpus_exit", s->what);
			v->running = false;
			return false;
		}
	}
	v->running = false;
	v->exit_requested = false;
	v->exit.reason = HV_EXIT_REASON_CANCELED;
	return true;
}

hv_return_t hv_vcpu_run(hv_vcpu_t vcpu)
{
	const struct fake_step *s;
	struct fake_vcpu *v;
	bool ok;

	ENTER();
	v = fk_vcpu_get(vcpu, __func__, true);
	if (!v)
		LEAVE(HV_BAD_ARGUMENT);
	if (v->exit_requested) {
		v->exit_requested = false;
		v->exit = (hv_vcpu_exit_t){ .reason = HV_EXIT_REASON_CANCELED };
		LEAVE(HV_SUCCESS);
	}
	if (!v->mpidr_set)
		fk_violation("hv_vcpu_run before MPIDR_EL1 was set");
	if (v->step >= v->nr_steps) {
		fk_violation("MPIDR %#llx: hv_vcpu_run after the last of %u steps",
			     (unsigned long long)v->mpidr, v->nr_steps);
		LEAVE(HV_ERROR);
	}
	s = &v->script[v->step];
	check_expect(v, s);
	/* A vCPU back in the guest takes what was pending (the SGI handler acknowledges it). */
	v->gicr_pend &= ~v->gicr_enabled;
	v->step_ns[v->step] = fake_now_ns();
	v->step++;
	pthread_cond_broadcast(&fk.cond);
	ok = play_step(v, s);
	pthread_cond_broadcast(&fk.cond);
	LEAVE(ok ? HV_SUCCESS : HV_ERROR);
}

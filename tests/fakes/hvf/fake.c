// SPDX-License-Identifier: MIT
/*
 * The scripted Hypervisor.framework (see fake.h): its state, the scripts and what tests ask about.
 * fake_vm.c holds the VM, memory and GIC calls, fake_vcpu.c the vCPU calls and the playback.
 * One process-wide state behind one lock, like the framework's one VM per process; blocking
 * waits are bounded so a broken backend fails a test instead of hanging it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_int.h"

const struct fake_host fake_mac = {
	.macos = 15,
	.max_vcpus = 64,
	.default_ipa_bits = 36,
	.max_ipa_bits = 42,
	.dist_size = 0x10000,
	.redist_size = 0x20000,
	.dist_align = 0x10000,
	.redist_align = 0x10000,
	.redist_region_size = 64 * 0x20000,
	.spi_base = 32,
	.spi_count = 988,
	.vm_create_result = HV_SUCCESS,
};

struct fake_state fk = { .lock = PTHREAD_MUTEX_INITIALIZER, .host = { .macos = 15 } };

uint64_t fake_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t fake_ticks(uint64_t ns)
{
	return ns / 125 * 3 + ns % 125 * 3 / 125;
}

/* Callers hold fk.lock. */
void fk_violation(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "fake HVF: violation: %s\n", buf);
	if (fk.nr_violations < FAKE_MAX_VIOLATIONS)
		snprintf(fk.violations[fk.nr_violations++], sizeof(fk.violations[0]), "%s", buf);
}

void fk_count(const char *fn)
{
	for (unsigned i = 0; i < FAKE_MAX_FNS; i++) {
		if (!fk.fns[i].name)
			fk.fns[i].name = fn;
		if (!strcmp(fk.fns[i].name, fn)) {
			fk.fns[i].calls++;
			return;
		}
	}
}

static void init_cond(void)
{
	pthread_condattr_t a;

	if (fk.cond_ready)
		return;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&fk.cond, &a);
	pthread_condattr_destroy(&a);
	fk.cond_ready = true;
}

/* Waits on the fake's condition; false once the deadline (CLOCK_MONOTONIC ns) has passed. */
bool fk_wait_until(uint64_t deadline)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline / 1000000000ull),
			       .tv_nsec = (long)(deadline % 1000000000ull) };

	return pthread_cond_timedwait(&fk.cond, &fk.lock, &ts) != ETIMEDOUT ||
	       fake_now_ns() < deadline;
}

void fake_reset(const struct fake_host *host)
{
	pthread_mutex_lock(&fk.lock);
	init_cond();
	for (unsigned i = 0; i < fk.nr_objects; i++)
		free(fk.objects[i]);
	fk.host = host ? *host : fake_mac;
	fk.vm = fk.gic = fk.spi_seen = false;
	fk.vm_ipa_bits = 0;
	fk.nr_maps = fk.nr_scripts = fk.nr_violations = fk.nr_objects = 0;
	memset(fk.vcpus, 0, sizeof(fk.vcpus));
	memset(fk.fns, 0, sizeof(fk.fns));
	pthread_mutex_unlock(&fk.lock);
}

struct fake_vcpu *fk_vcpu_by_mpidr(uint64_t mpidr)
{
	for (unsigned i = 0; i < FAKE_MAX_VCPUS; i++)
		if (fk.vcpus[i].used && fk.vcpus[i].mpidr_set && fk.vcpus[i].mpidr == mpidr)
			return &fk.vcpus[i];
	return NULL;
}

void fake_script(uint64_t mpidr, const struct fake_step *steps, unsigned n)
{
	pthread_mutex_lock(&fk.lock);
	if (fk.nr_scripts < FAKE_MAX_SCRIPTS && n <= FAKE_MAX_STEPS)
		fk.scripts[fk.nr_scripts++] = (struct fake_script){ mpidr, steps, n };
	else
		fk_violation("too many scripts or steps");
	pthread_mutex_unlock(&fk.lock);
}

unsigned fake_violations(void)
{
	unsigned n;

	pthread_mutex_lock(&fk.lock);
	n = fk.nr_violations;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

const char *fake_violation(unsigned i)
{
	return i < fk.nr_violations ? fk.violations[i] : "";
}

bool fake_violated(const char *text)
{
	bool found = false;

	pthread_mutex_lock(&fk.lock);
	for (unsigned i = 0; i < fk.nr_violations && !found; i++)
		found = strstr(fk.violations[i], text) != NULL;
	pthread_mutex_unlock(&fk.lock);
	return found;
}

unsigned fake_calls(const char *fn)
{
	unsigned n = 0;

	pthread_mutex_lock(&fk.lock);
	for (unsigned i = 0; i < FAKE_MAX_FNS && fk.fns[i].name; i++)
		if (!strcmp(fk.fns[i].name, fn))
			n = fk.fns[i].calls;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

struct fake_sysreg *fk_sysreg(struct fake_vcpu *v, hv_sys_reg_t reg, bool create)
{
	for (unsigned i = 0; i < v->nr_sys; i++)
		if (v->sys[i].reg == reg)
			return &v->sys[i];
	if (!create || v->nr_sys == FAKE_MAX_SYSREGS)
		return NULL;
	v->sys[v->nr_sys] = (struct fake_sysreg){ .reg = reg };
	return &v->sys[v->nr_sys++];
}

uint64_t fk_reg_get(struct fake_vcpu *v, uint32_t id)
{
	struct fake_sysreg *s;

	if (id == FAKE_VTIMER_MASKED)
		return v->vtimer_masked;
	if (id == FAKE_VTIMER_OFFSET)
		return v->vtimer_offset;
	if (id >= FAKE_SYS(0) && id < FAKE_VTIMER_MASKED) {
		s = fk_sysreg(v, (hv_sys_reg_t)(id - FAKE_SYS(0)), false);
		return s ? s->val : 0;
	}
	if (id >= FAKE_X(0) && id <= FAKE_CPSR)
		return v->regs[id - FAKE_X(0)];
	fk_violation("script names unknown register id %#x", id);
	return 0;
}

void fk_reg_put(struct fake_vcpu *v, uint32_t id, uint64_t val)
{
	struct fake_sysreg *s;

	if (id == FAKE_VTIMER_MASKED)
		v->vtimer_masked = val;
	else if (id == FAKE_VTIMER_OFFSET)
		v->vtimer_offset = val;
	else if (id >= FAKE_SYS(0) && id < FAKE_VTIMER_MASKED &&
		 (s = fk_sysreg(v, (hv_sys_reg_t)(id - FAKE_SYS(0)), true)))
		s->val = val;
	else if (id >= FAKE_X(0) && id <= FAKE_CPSR)
		v->regs[id - FAKE_X(0)] = val;
	else
		fk_violation("script names unknown register id %#x", id);
}

uint64_t fake_reg(uint64_t mpidr, uint32_t id)
{
	struct fake_vcpu *v;
	uint64_t val = 0;

	pthread_mutex_lock(&fk.lock);
	v = fk_vcpu_by_mpidr(mpidr);
	if (v)
		val = fk_reg_get(v, id);
	else
		fk_violation("test asks for the registers of unknown MPIDR %#llx",
			     (unsigned long long)mpidr);
	pthread_mutex_unlock(&fk.lock);
	return val;
}

unsigned fake_reg_writes(uint64_t mpidr, uint32_t id)
{
	struct fake_vcpu *v;
	unsigned n = 0;

	pthread_mutex_lock(&fk.lock);
	v = fk_vcpu_by_mpidr(mpidr);
	if (v && id >= FAKE_X(0) && id <= FAKE_CPSR)
		n = v->reg_writes[id - FAKE_X(0)];
	pthread_mutex_unlock(&fk.lock);
	return n;
}

bool fake_has_vcpu(uint64_t mpidr)
{
	bool found;

	pthread_mutex_lock(&fk.lock);
	found = fk_vcpu_by_mpidr(mpidr) != NULL;
	pthread_mutex_unlock(&fk.lock);
	return found;
}

pthread_t fake_vcpu_thread(uint64_t mpidr)
{
	struct fake_vcpu *v;
	pthread_t t = 0;

	pthread_mutex_lock(&fk.lock);
	v = fk_vcpu_by_mpidr(mpidr);
	if (v)
		t = v->owner;
	pthread_mutex_unlock(&fk.lock);
	return t;
}

unsigned fake_steps_entered(uint64_t mpidr)
{
	struct fake_vcpu *v;
	unsigned n = 0;

	pthread_mutex_lock(&fk.lock);
	v = fk_vcpu_by_mpidr(mpidr);
	if (v)
		n = v->step;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

uint64_t fake_step_time(uint64_t mpidr, unsigned i)
{
	struct fake_vcpu *v;
	uint64_t ns = 0;

	pthread_mutex_lock(&fk.lock);
	v = fk_vcpu_by_mpidr(mpidr);
	if (v && i < v->step && i < FAKE_MAX_STEPS)
		ns = v->step_ns[i];
	pthread_mutex_unlock(&fk.lock);
	return ns;
}

static bool wait_for(uint64_t mpidr, hv_sys_reg_t reg, bool reads, unsigned n, unsigned ms)
{
	uint64_t deadline = fake_now_ns() + ms * 1000000ull;
	bool ok = false;

	pthread_mutex_lock(&fk.lock);
	for (;;) {
		struct fake_vcpu *v = fk_vcpu_by_mpidr(mpidr);
		struct fake_sysreg *s = v && reads ? fk_sysreg(v, reg, false) : NULL;

		ok = reads ? s && s->reads >= n : v && v->step >= n;
		if (ok || !fk_wait_until(deadline))
			break;
	}
	pthread_mutex_unlock(&fk.lock);
	return ok;
}

unsigned fake_sys_reads(uint64_t mpidr, hv_sys_reg_t reg)
{
	struct fake_vcpu *v;
	struct fake_sysreg *sr;
	unsigned n = 0;

	pthread_mutex_lock(&fk.lock);
	v = fk_vcpu_by_mpidr(mpidr);
	sr = v ? fk_sysreg(v, reg, false) : NULL;
	if (sr)
		n = sr->reads;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

bool fake_wait_sys_reads(uint64_t mpidr, hv_sys_reg_t reg, unsigned n, unsigned timeout_ms)
{
	return wait_for(mpidr, reg, true, n, timeout_ms);
}

bool fake_wait_steps(uint64_t mpidr, unsigned n, unsigned timeout_ms)
{
	return wait_for(mpidr, 0, false, n, timeout_ms);
}

void fake_release(uint64_t mpidr)
{
	struct fake_vcpu *v;

	pthread_mutex_lock(&fk.lock);
	v = fk_vcpu_by_mpidr(mpidr);
	if (v)
		v->released = true;
	else
		fk_violation("fake_release: no vCPU with MPIDR %#llx", (unsigned long long)mpidr);
	pthread_cond_broadcast(&fk.cond);
	pthread_mutex_unlock(&fk.lock);
}

uint32_t fake_vm_ipa_bits(void)
{
	return fk.vm_ipa_bits;
}

bool fake_vm_exists(void)
{
	return fk.vm;
}

bool fake_last_spi(uint32_t *intid, bool *level)
{
	bool seen;

	pthread_mutex_lock(&fk.lock);
	seen = fk.spi_seen;
	*intid = fk.spi_intid;
	*level = fk.spi_level;
	pthread_mutex_unlock(&fk.lock);
	return seen;
}

unsigned fake_live_objects(void)
{
	unsigned n = 0;

	pthread_mutex_lock(&fk.lock);
	for (unsigned i = 0; i < fk.nr_objects; i++)
		n += !((struct hv_vm_config_s *)fk.objects[i])->released;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_FAKE_HVF_INT_H
#define IGNITION_FAKE_HVF_INT_H

/* Private to the fake: its one process-wide state and the helpers its three files share. */
#include <stdarg.h>

#include "fake.h"

#define FAKE_MAX_VCPUS	    16
#define FAKE_MAX_SYSREGS    64
#define FAKE_MAX_MAPS	    16
#define FAKE_MAX_VIOLATIONS 64
#define FAKE_MAX_FNS	    64
#define FAKE_MAX_OBJECTS    64
#define FAKE_MAX_SCRIPTS    16
#define FAKE_MAX_STEPS	    64
#define FAKE_WAIT_MS	    5000
#define FAKE_PAGE	    0x4000ull
#define VM_CONFIG_MAGIC	    0x564d4346
#define GIC_CONFIG_MAGIC    0x47494346

struct hv_vm_config_s {
	int magic;
	bool released;
	uint32_t ipa_bits;
};

struct hv_gic_config_s {
	int magic;
	bool released;
	hv_ipa_t dist, redist;
	bool dist_set, redist_set;
};

struct fake_sysreg {
	hv_sys_reg_t reg;
	uint64_t val;
	unsigned reads;
};

struct fake_vcpu {
	bool used, destroyed, running, exit_requested;
	pthread_t owner;
	hv_vcpu_exit_t exit;
	uint64_t regs[HV_REG_CPSR + 1];
	unsigned reg_writes[HV_REG_CPSR + 1];
	struct fake_sysreg sys[FAKE_MAX_SYSREGS];
	unsigned nr_sys;
	bool mpidr_set;
	uint64_t mpidr;
	bool vtimer_masked;
	uint64_t vtimer_offset;
	/* The redistributor's GICR_ISPENDR0 / GICR_ISENABLER0: SGIs and PPIs. */
	uint32_t gicr_pend, gicr_enabled;
	bool released;
	const struct fake_step *script;
	unsigned nr_steps, step;
	uint64_t step_ns[FAKE_MAX_STEPS];
};

struct fake_script {
	uint64_t mpidr;
	const struct fake_step *steps;
	unsigned n;
};

struct fake_fn {
	const char *name;
	unsigned calls;
};

struct fake_state {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool cond_ready;
	struct fake_host host;
	bool vm;
	uint32_t vm_ipa_bits;
	struct {
		hv_ipa_t gpa;
		size_t size;
	} maps[FAKE_MAX_MAPS];
	unsigned nr_maps;
	bool gic;
	hv_ipa_t gicd, gicr;
	bool spi_seen, spi_level;
	uint32_t spi_intid;
	struct fake_vcpu vcpus[FAKE_MAX_VCPUS];
	struct fake_script scripts[FAKE_MAX_SCRIPTS];
	unsigned nr_scripts;
	char violations[FAKE_MAX_VIOLATIONS][256];
	unsigned nr_violations;
	struct fake_fn fns[FAKE_MAX_FNS];
	void *objects[FAKE_MAX_OBJECTS];
	unsigned nr_objects;
};

/* Everything below is used with fk.lock held. */
extern struct fake_state fk;

void fk_violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fk_count(const char *fn);
/* Waits on fk.cond; false once the CLOCK_MONOTONIC deadline (ns) has passed. */
bool fk_wait_until(uint64_t deadline);
struct fake_vcpu *fk_vcpu_by_mpidr(uint64_t mpidr);
struct fake_vcpu *fk_vcpu_get(hv_vcpu_t id, const char *fn, bool owner_only);
struct fake_sysreg *fk_sysreg(struct fake_vcpu *v, hv_sys_reg_t reg, bool create);
uint64_t fk_reg_get(struct fake_vcpu *v, uint32_t id);
void fk_reg_put(struct fake_vcpu *v, uint32_t id, uint64_t val);
bool fk_any_vcpu(void);
/* False (a violation) on a macOS without hv_gic_*. */
bool fk_gic_api_ok(const char *fn);
bool fk_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen);

/* Every framework function counts itself and runs under the lock. */
#define ENTER()                               \
	do {                                  \
		pthread_mutex_lock(&fk.lock); \
		fk_count(__func__);           \
	} while (0)
#define LEAVE(r)                                \
	do {                                    \
		__typeof__(r) ret_ = (r);       \
		pthread_mutex_unlock(&fk.lock); \
		return ret_;                    \
	} while (0)

#endif

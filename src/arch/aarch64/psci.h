/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_ARCH_PSCI_H
#define IGNITION_ARCH_PSCI_H

#include <stdint.h>

/*
 * PSCI 1.1 (Arm DEN 0022) and SMCCC (Arm DEN 0028) over HVC, for backends that leave firmware
 * calls to the VMM (HVF). KVM implements PSCI in the kernel.
 */
#define PSCI_FN_BASE 0x84000000u
#define PSCI_FN64_BASE 0xc4000000u
#define PSCI_FN(n) (PSCI_FN_BASE + (n))
#define PSCI_FN64(n) (PSCI_FN64_BASE + (n))

#define PSCI_VERSION PSCI_FN(0)
#define PSCI_CPU_SUSPEND PSCI_FN(1)
#define PSCI_CPU_SUSPEND64 PSCI_FN64(1)
#define PSCI_CPU_OFF PSCI_FN(2)
#define PSCI_CPU_ON PSCI_FN(3)
#define PSCI_CPU_ON64 PSCI_FN64(3)
#define PSCI_AFFINITY_INFO PSCI_FN(4)
#define PSCI_AFFINITY_INFO64 PSCI_FN64(4)
#define PSCI_MIGRATE PSCI_FN(5)
#define PSCI_MIGRATE64 PSCI_FN64(5)
#define PSCI_MIGRATE_INFO_TYPE PSCI_FN(6)
#define PSCI_MIGRATE_INFO_UP_CPU PSCI_FN(7)
#define PSCI_MIGRATE_INFO_UP_CPU64 PSCI_FN64(7)
#define PSCI_SYSTEM_OFF PSCI_FN(8)
#define PSCI_SYSTEM_RESET PSCI_FN(9)
#define PSCI_FEATURES PSCI_FN(10)

#define SMCCC_VERSION 0x80000000u
#define SMCCC_ARCH_FEATURES 0x80000001u

#define PSCI_VERSION_1_1 0x00010001u
#define SMCCC_VERSION_1_1 0x00010001u

#define PSCI_RET_SUCCESS 0
#define PSCI_RET_NOT_SUPPORTED (-1)
#define PSCI_RET_INVALID_PARAMETERS (-2)
#define PSCI_RET_DENIED (-3)
#define PSCI_RET_ALREADY_ON (-4)
#define PSCI_RET_ON_PENDING (-5)
#define PSCI_RET_INTERNAL_FAILURE (-6)
#define PSCI_RET_NOT_PRESENT (-7)
#define PSCI_RET_DISABLED (-8)
#define PSCI_RET_INVALID_ADDRESS (-9)

/* AFFINITY_INFO states */
#define PSCI_AFFINITY_ON 0
#define PSCI_AFFINITY_OFF 1
#define PSCI_AFFINITY_ON_PENDING 2

/* MIGRATE_INFO_TYPE: no trusted OS that needs migrating. */
#define PSCI_TOS_NOT_PRESENT_MP 2

enum psci_cpu_state {
	PSCI_CPU_OFF_STATE,
	PSCI_CPU_ON_PENDING_STATE,
	PSCI_CPU_ON_STATE,
};

/* What the VMM provides: the power state of its vCPUs and a way to start one. */
struct psci_host_ops {
	enum psci_cpu_state (*cpu_state)(void *opaque, unsigned index);
	/*
	 * Start vCPU `index` (known to be OFF) at `entry` with X0 = `context_id`. Returns a PSCI
	 * return code: SUCCESS, or ALREADY_ON / ON_PENDING if it raced with another CPU_ON.
	 */
	int (*cpu_on)(void *opaque, unsigned index, uint64_t entry, uint64_t context_id);
};

struct psci_ctx {
	const struct psci_host_ops *ops;
	void *opaque;
	unsigned nr_vcpus;
	uint64_t ram_base;
	uint64_t ram_size;
};

enum psci_action {
	PSCI_ACTION_NONE,	  /* write x0 and continue */
	PSCI_ACTION_CPU_OFF,	  /* the calling vCPU powers down (until a CPU_ON) */
	PSCI_ACTION_CPU_SUSPEND,  /* the calling vCPU may wait for an interrupt, then continue */
	PSCI_ACTION_SYSTEM_OFF,
	PSCI_ACTION_SYSTEM_RESET,
};

struct psci_result {
	uint64_t x0;
	enum psci_action action;
};

/*
 * Handles the firmware call in x0 with arguments x1..x3 from the calling vCPU. Never fails: an
 * unknown function id answers NOT_SUPPORTED.
 */
void psci_handle(const struct psci_ctx *ctx, uint64_t fn, uint64_t x1, uint64_t x2, uint64_t x3,
		 struct psci_result *res);

/* The vCPU index whose MPIDR affinity is `mpidr`, or -1. */
int psci_mpidr_to_index(const struct psci_ctx *ctx, uint64_t mpidr);

#endif

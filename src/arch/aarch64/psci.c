// SPDX-License-Identifier: MIT
#include <stdbool.h>

#include "arch/aarch64/layout.h"
#include "arch/aarch64/psci.h"
#include "util/log.h"

/* MPIDR_EL1 affinity fields Aff3 [39:32], Aff2..Aff0 [23:0]; the rest are flags. */
#define MPIDR_AFFINITY_MASK 0xff00ffffffULL

/* SMCCC: bit 30 of the function id selects the 64-bit calling convention. */
#define SMCCC_64BIT (1u << 30)

struct psci_call {
	uint32_t fn;
	uint64_t x1, x2, x3;
};

static uint64_t psci_ret(int code)
{
	return (uint64_t)(int64_t)code;
}

int psci_mpidr_to_index(const struct psci_ctx *ctx, uint64_t mpidr)
{
	uint64_t aff = mpidr & MPIDR_AFFINITY_MASK;
	uint64_t aff0 = aff & 0xff, aff1 = (aff >> 8) & 0xff;
	uint64_t index = aff1 * 16 + aff0;

	if (aff0 >= 16 || aff >> 16 || index >= ctx->nr_vcpus)
		return -1;
	return (int)index;
}

static bool psci_entry_valid(const struct psci_ctx *ctx, uint64_t entry)
{
	/* A64 instructions are 4-byte aligned; anything else would fault on the first fetch. */
	return entry >= ctx->ram_base && entry - ctx->ram_base < ctx->ram_size && !(entry & 3);
}

static int psci_cpu_on(const struct psci_ctx *ctx, const struct psci_call *c)
{
	int index = psci_mpidr_to_index(ctx, c->x1);

	if (index < 0) {
		/* The seed's "secondary never online" diagnosis started from this line. */
		pr_warn_once("PSCI CPU_ON for MPIDR %#llx ignored: no such vCPU (there are %u)",
			     (unsigned long long)c->x1, ctx->nr_vcpus);
		return PSCI_RET_INVALID_PARAMETERS;
	}
	if (!psci_entry_valid(ctx, c->x2))
		return PSCI_RET_INVALID_ADDRESS;
	if (!ctx->ops || !ctx->ops->cpu_state || !ctx->ops->cpu_on)
		return PSCI_RET_INTERNAL_FAILURE;
	switch (ctx->ops->cpu_state(ctx->opaque, (unsigned)index)) {
	case PSCI_CPU_OFF_STATE:
		return ctx->ops->cpu_on(ctx->opaque, (unsigned)index, c->x2, c->x3);
	case PSCI_CPU_ON_PENDING_STATE:
		return PSCI_RET_ON_PENDING;
	default:
		return PSCI_RET_ALREADY_ON;
	}
}

static int psci_affinity_info(const struct psci_ctx *ctx, const struct psci_call *c)
{
	int index = psci_mpidr_to_index(ctx, c->x1);

	/* Only level 0 (a single CPU) exists: there are no clusters to power down. */
	if (c->x2 != 0 || index < 0)
		return PSCI_RET_INVALID_PARAMETERS;
	if (!ctx->ops || !ctx->ops->cpu_state)
		return PSCI_RET_INTERNAL_FAILURE;
	switch (ctx->ops->cpu_state(ctx->opaque, (unsigned)index)) {
	case PSCI_CPU_OFF_STATE:
		return PSCI_AFFINITY_OFF;
	case PSCI_CPU_ON_PENDING_STATE:
		return PSCI_AFFINITY_ON_PENDING;
	default:
		return PSCI_AFFINITY_ON;
	}
}

static bool psci_implemented(uint32_t fn)
{
	switch (fn) {
	case PSCI_VERSION:
	case PSCI_CPU_SUSPEND:
	case PSCI_CPU_SUSPEND64:
	case PSCI_CPU_OFF:
	case PSCI_CPU_ON:
	case PSCI_CPU_ON64:
	case PSCI_AFFINITY_INFO:
	case PSCI_AFFINITY_INFO64:
	case PSCI_MIGRATE_INFO_TYPE:
	case PSCI_SYSTEM_OFF:
	case PSCI_SYSTEM_RESET:
	case PSCI_FEATURES:
	case SMCCC_VERSION:
	case SMCCC_ARCH_FEATURES:
		return true;
	default:
		return false;
	}
}

/*
 * For CPU_SUSPEND, 0 also says "original power_state format, no OS-initiated mode"; for every other
 * function it means "implemented, no optional flags".
 */
static int psci_features(uint64_t x1)
{
	return psci_implemented((uint32_t)x1) ? PSCI_RET_SUCCESS : PSCI_RET_NOT_SUPPORTED;
}

static int psci_action(struct psci_result *res, enum psci_action action, int code)
{
	res->action = action;
	return code;
}

static int psci_dispatch(const struct psci_ctx *ctx, const struct psci_call *c,
			 struct psci_result *res)
{
	switch (c->fn) {
	case PSCI_VERSION:
		return (int)PSCI_VERSION_1_1;
	case SMCCC_VERSION:
		return (int)SMCCC_VERSION_1_1;
	case PSCI_FEATURES:
		return psci_features(c->x1);
	case PSCI_CPU_ON:
	case PSCI_CPU_ON64:
		return psci_cpu_on(ctx, c);
	case PSCI_AFFINITY_INFO:
	case PSCI_AFFINITY_INFO64:
		return psci_affinity_info(ctx, c);
	case PSCI_MIGRATE_INFO_TYPE:
		return PSCI_TOS_NOT_PRESENT_MP;
	case PSCI_CPU_SUSPEND:
	case PSCI_CPU_SUSPEND64:
		/* Every power state is treated as standby: wake on interrupt, return SUCCESS. */
		return psci_action(res, PSCI_ACTION_CPU_SUSPEND, PSCI_RET_SUCCESS);
	/* These do not return on success; x0 is what the guest sees if the VMM refuses. */
	case PSCI_CPU_OFF:
		return psci_action(res, PSCI_ACTION_CPU_OFF, PSCI_RET_DENIED);
	case PSCI_SYSTEM_OFF:
		return psci_action(res, PSCI_ACTION_SYSTEM_OFF, PSCI_RET_INTERNAL_FAILURE);
	case PSCI_SYSTEM_RESET:
		return psci_action(res, PSCI_ACTION_SYSTEM_RESET, PSCI_RET_INTERNAL_FAILURE);
	/* No firmware workarounds are needed or offered, and nothing migrates (MIGRATE too). */
	case SMCCC_ARCH_FEATURES:
	default:
		return PSCI_RET_NOT_SUPPORTED;
	}
}

void psci_handle(const struct psci_ctx *ctx, uint64_t fn, uint64_t x1, uint64_t x2, uint64_t x3,
		 struct psci_result *res)
{
	/* The function id is W0; SMC32/HVC32 calls pass 32-bit arguments in W1..W3. */
	struct psci_call c = { .fn = (uint32_t)fn, .x1 = x1, .x2 = x2, .x3 = x3 };

	if (!(c.fn & SMCCC_64BIT)) {
		c.x1 = (uint32_t)x1;
		c.x2 = (uint32_t)x2;
		c.x3 = (uint32_t)x3;
	}
	res->action = PSCI_ACTION_NONE;
	res->x0 = psci_ret(psci_dispatch(ctx, &c, res));
}

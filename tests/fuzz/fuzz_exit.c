// SPDX-License-Identifier: MIT
/*
 * Exits as HVF reports them: ESR syndromes decoded (esr_decode), MMIO load values
 * (esr_dabt_load_value), trapped system registers (sysreg_emulate, sysreg_name) and firmware
 * calls (psci_handle) against a fake host whose vCPU power states come from the input.
 *
 * Input: u8 vCPUs, u32 RAM pages, 32 bytes of vCPU states (2 bits each), then records until the
 * input ends, each a u8 kind and its fields:
 *   0 syndrome  u8 EC, u32 ISS and IL, u64 FAR, IPA, PC; then what that exit needs
 *   1 PSCI      a call (psci_call)
 *   2 sysreg    u8 op0, op1, CRn, CRm, op2 (unmasked), u8 read, u8 name buffer size
 *   3 load      u8 width, u8 SSE, u8 SF, u64 raw: esr_dabt_load_value on any field values
 */
#include "arch/aarch64/esr.h"
#include "arch/aarch64/layout.h"
#include "arch/aarch64/psci.h"
#include "arch/aarch64/sysreg.h"
#include "tests/fuzz/fuzz.h"

enum { REC_SYNDROME, REC_PSCI, REC_SYSREG, REC_LOAD, REC_NR };

struct fuzz_host {
	enum psci_cpu_state state[256];
	unsigned nr_vcpus;
	unsigned cpu_on_calls;
	uint64_t expect_entry, expect_context;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

static enum psci_cpu_state host_cpu_state(void *opaque, unsigned index)
{
	struct fuzz_host *h = opaque;

	FUZZ_CHECK(index < h->nr_vcpus);
	return h->state[index];
}

static int host_cpu_on(void *opaque, unsigned index, uint64_t entry, uint64_t context_id)
{
	struct fuzz_host *h = opaque;

	FUZZ_CHECK(index < h->nr_vcpus && h->state[index] == PSCI_CPU_OFF_STATE);
	FUZZ_CHECK(entry == h->expect_entry && context_id == h->expect_context);
	h->state[index] = PSCI_CPU_ON_PENDING_STATE;
	h->cpu_on_calls++;
	return PSCI_RET_SUCCESS;
}

static const struct psci_host_ops host_ops = {
	.cpu_state = host_cpu_state,
	.cpu_on = host_cpu_on,
};

/* The load as the Arm ARM states it, through C's own conversions. */
static uint64_t load_model(unsigned width, bool sse, bool sf, uint64_t raw)
{
	uint64_t v;

	switch (width) {
	case 1:
		v = sse ? (uint64_t)(int64_t)(int8_t)raw : (uint8_t)raw;
		break;
	case 2:
		v = sse ? (uint64_t)(int64_t)(int16_t)raw : (uint16_t)raw;
		break;
	case 4:
		v = sse ? (uint64_t)(int64_t)(int32_t)raw : (uint32_t)raw;
		break;
	default:
		v = raw;
		break;
	}
	return sf ? v : (uint32_t)v;
}

static void dabt_check(const struct esr_exit *x, uint64_t esr, struct fuzz_in *in)
{
	const struct esr_dabt *d = &x->dabt;
	uint64_t raw = fz_u64(in);

	FUZZ_CHECK(d->width == 1 || d->width == 2 || d->width == 4 || d->width == 8);
	FUZZ_CHECK(d->rt <= 31);
	FUZZ_CHECK(x->pc_advance == ((esr & ESR_IL) ? 4u : 2u));
	FUZZ_CHECK(esr_dabt_load_value(d, raw) == load_model(d->width, d->sign_extend, d->sf, raw));
}

static void sysreg_check(const struct esr_sysreg *s, struct fuzz_in *in)
{
	uint64_t val = 0x5a5a5a5a5a5a5a5aULL;
	char name[40];
	unsigned bufsize = fz_u8(in) % (sizeof(name) + 1);
	const char *n;

	sysreg_emulate(s, fz_u64(in), &val);
	FUZZ_CHECK(!s->read || val == 0);
	memset(name, 'x', sizeof(name));
	n = sysreg_name(s, name, bufsize);
	FUZZ_CHECK(n && (!bufsize || strlen(n) < bufsize));
}

static void sysreg_fields_check(const struct esr_sysreg *s)
{
	uint16_t id = esr_sysreg_id(s);

	FUZZ_CHECK(s->op0 <= 3 && s->op1 <= 7 && s->crn <= 15 && s->crm <= 15 && s->op2 <= 7);
	FUZZ_CHECK(s->rt <= 31);
	FUZZ_CHECK((id >> 14) == s->op0 && ((id >> 11) & 7) == s->op1);
	FUZZ_CHECK(((id >> 7) & 15) == s->crn && ((id >> 3) & 15) == s->crm && (id & 7) == s->op2);
}

static bool psci_x0_known(uint64_t x0)
{
	int64_t v = (int64_t)x0;

	return (v >= PSCI_RET_INVALID_ADDRESS && v <= PSCI_RET_SUCCESS) || x0 == PSCI_VERSION_1_1 ||
	       x0 == SMCCC_VERSION_1_1 || x0 == PSCI_AFFINITY_OFF ||
	       x0 == PSCI_AFFINITY_ON_PENDING || x0 == PSCI_TOS_NOT_PRESENT_MP;
}

static uint32_t psci_fn_read(struct fuzz_in *in)
{
	static const uint32_t fns[] = {
		PSCI_VERSION,
		PSCI_CPU_SUSPEND,
		PSCI_CPU_SUSPEND64,
		PSCI_CPU_OFF,
		PSCI_CPU_ON,
		PSCI_CPU_ON64,
		PSCI_AFFINITY_INFO,
		PSCI_AFFINITY_INFO64,
		PSCI_MIGRATE,
		PSCI_MIGRATE64,
		PSCI_MIGRATE_INFO_TYPE,
		PSCI_MIGRATE_INFO_UP_CPU,
		PSCI_SYSTEM_OFF,
		PSCI_SYSTEM_RESET,
		PSCI_FEATURES,
		SMCCC_VERSION,
		SMCCC_ARCH_FEATURES,
	};
	uint8_t sel = fz_u8(in);

	return sel < sizeof(fns) / sizeof(fns[0]) ? fns[sel] : fz_u32(in);
}

/* An MPIDR that is a vCPU's (possibly with flag bits), or anything. */
static uint64_t mpidr_read(struct fuzz_in *in)
{
	uint8_t sel = fz_u8(in);

	if (sel & 0x80)
		return fz_u64(in);
	return mpidr_for_vcpu(fz_u8(in)) | (sel & 0x40 ? 0x80000000ULL : 0);
}

static void psci_call(const struct psci_ctx *ctx, struct fuzz_host *h, uint64_t fn,
		      struct fuzz_in *in)
{
	uint64_t x1 = mpidr_read(in);
	uint64_t x2 = fz_u8(in) & 1 ? fz_u64(in) : ctx->ram_base + fz_u32(in);
	uint64_t x3 = fz_u64(in);
	bool is64 = fn & (1u << 30);
	unsigned calls = h->cpu_on_calls;
	struct psci_result res;

	h->expect_entry = is64 ? x2 : (uint32_t)x2;
	h->expect_context = is64 ? x3 : (uint32_t)x3;
	psci_handle(ctx, fn, x1, x2, x3, &res);
	FUZZ_CHECK(psci_x0_known(res.x0));
	FUZZ_CHECK(res.action <= PSCI_ACTION_SYSTEM_RESET);
	if (h->cpu_on_calls == calls)
		return;
	/* Only a CPU_ON with an entry point in RAM starts anything. */
	FUZZ_CHECK((uint32_t)fn == PSCI_CPU_ON || (uint32_t)fn == PSCI_CPU_ON64);
	FUZZ_CHECK(h->expect_entry >= ctx->ram_base && !(h->expect_entry & 3));
	FUZZ_CHECK(h->expect_entry - ctx->ram_base < ctx->ram_size);
	FUZZ_CHECK(res.x0 == PSCI_RET_SUCCESS && res.action == PSCI_ACTION_NONE);
}

static void syndrome(const struct psci_ctx *ctx, struct fuzz_host *h, struct fuzz_in *in)
{
	uint8_t ec = fz_u8(in);
	uint32_t iss = fz_u32(in);
	uint64_t esr = (uint64_t)(ec & 0x3f) << ESR_EC_SHIFT | (iss & (ESR_IL | 0x1ffffff));
	uint64_t far = fz_u64(in), ipa = fz_u64(in), pc = fz_u64(in);
	struct errbuf e = { .msg = "" };
	struct esr_exit x;
	int r;

	if (ec & 0x40)
		esr |= (uint64_t)fz_u32(in) << 32; /* ISS2 and RES0: must not change the decoding */
	r = esr_decode(esr, far, ipa, pc, &x, &e);
	FUZZ_CHECK(x.ec == (ec & 0x3fu));
	if (r) {
		FUZZ_CHECK(x.ec == ESR_EC_DABT_LOW && !(esr & ESR_DABT_ISV));
		FUZZ_CHECK(e.msg[0] && !strchr(e.msg, '\n'));
		return;
	}
	switch (x.kind) {
	case ESR_KIND_DABT:
		FUZZ_CHECK(x.dabt.ipa == ipa && x.dabt.far == far);
		dabt_check(&x, esr, in);
		break;
	case ESR_KIND_SYSREG:
		sysreg_fields_check(&x.sysreg);
		sysreg_check(&x.sysreg, in);
		break;
	case ESR_KIND_HVC:
	case ESR_KIND_SMC:
		FUZZ_CHECK(x.imm == (uint16_t)iss);
		psci_call(ctx, h, fz_u64(in), in);
		break;
	default:
		FUZZ_CHECK(x.pc_advance <= 4);
		break;
	}
}

static void sysreg_raw(struct fuzz_in *in)
{
	struct esr_sysreg s = {
		.op0 = fz_u8(in),
		.op1 = fz_u8(in),
		.crn = fz_u8(in),
		.crm = fz_u8(in),
		.op2 = fz_u8(in),
		.read = fz_u8(in) & 1,
	};

	sysreg_check(&s, in);
}

static void load_raw(struct fuzz_in *in)
{
	struct esr_dabt d = { .width = fz_u8(in) };
	uint64_t v;

	d.sign_extend = fz_u8(in) & 1;
	d.sf = fz_u8(in) & 1;
	v = esr_dabt_load_value(&d, fz_u64(in));
	FUZZ_CHECK(d.sf || v <= UINT32_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);
	struct fuzz_host h = { .nr_vcpus = fz_u8(&in) };
	struct psci_ctx ctx = {
		.ops = &host_ops,
		.opaque = &h,
		.nr_vcpus = h.nr_vcpus,
		.ram_base = RAM_BASE,
		.ram_size = (uint64_t)fz_u32(&in) << 12,
	};

	for (unsigned i = 0; i < 128; i += 4) {
		uint8_t b = fz_u8(&in);

		for (unsigned k = 0; k < 4; k++)
			h.state[i + k] = (enum psci_cpu_state)(((b >> (2 * k)) & 3) % 3);
	}
	while (!fz_empty(&in)) {
		switch (fz_u8(&in) % REC_NR) {
		case REC_SYNDROME:
			syndrome(&ctx, &h, &in);
			break;
		case REC_PSCI:
			psci_call(&ctx, &h, psci_fn_read(&in), &in);
			break;
		case REC_SYSREG:
			sysreg_raw(&in);
			break;
		default:
			load_raw(&in);
			break;
		}
	}
	return 0;
}

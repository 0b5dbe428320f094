// SPDX-License-Identifier: MIT
/*
 * A backend that creates nothing and runs nothing: every vCPU powers off the moment it would
 * first run. It lets --dump-dtb work on any host and measures set-up cost up to the first entry.
 */
#include <errno.h>
#include <stdlib.h>

#include "hv/hv.h"

struct hv_vm {
	unsigned nr_vcpus;
};

struct hv_vcpu {
	unsigned index;
};

static int null_probe(struct hv_caps *caps, struct errbuf *e)
{
	*caps = (struct hv_caps){
		.gic = {
			.dist_size = 0x10000,
			.redist_size_per_cpu = 0x20000,
			.dist_align = 0x10000,
			.redist_align = 0x10000,
		},
		.max_vcpus = MAX_VCPUS,
		.max_ipa_bits = 40,
		.ram_align = 0x4000,
		.psci_in_kernel = true,
		/* No vCPU features: --cpu's defaults turn into "off", and "=on" is refused. */
		.cpu_features = 0,
	};
	return 0;
}

static int null_vm_create(const struct hv_vm_params *p, struct hv_vm **vm, struct errbuf *e)
{
	*vm = calloc(1, sizeof(**vm));
	if (!*vm)
		return err_set(e, -ENOMEM, "out of memory");
	(*vm)->nr_vcpus = p->nr_vcpus;
	return 0;
}

static int null_map_ram(struct hv_vm *vm, uint64_t gpa, void *host, uint64_t size,
			struct errbuf *e)
{
	return 0;
}

static int null_gic_create(struct hv_vm *vm, const struct layout *l, struct errbuf *e)
{
	return 0;
}

static int null_vcpu_create(struct hv_vm *vm, unsigned index, uint64_t mpidr,
			    struct hv_vcpu **vcpu, struct errbuf *e)
{
	*vcpu = calloc(1, sizeof(**vcpu));
	if (!*vcpu)
		return err_set(e, -ENOMEM, "out of memory");
	(*vcpu)->index = index;
	return 0;
}

static int null_vcpu_set_boot(struct hv_vcpu *vcpu, uint64_t pc, uint64_t x0, struct errbuf *e)
{
	return 0;
}

static int null_vcpu_run(struct hv_vcpu *vcpu, struct hv_exit *exit, struct errbuf *e)
{
	exit->reason = HV_EXIT_SYSTEM_OFF;
	return 0;
}

static void null_complete_mmio_read(struct hv_vcpu *vcpu, uint64_t data)
{
}

static void null_complete_call(struct hv_vcpu *vcpu, uint64_t x0)
{
}

static void null_set_spi(struct hv_vm *vm, uint32_t intid, bool level)
{
}

static void null_kick(struct hv_vcpu *vcpu)
{
}

static void null_vcpu_destroy(struct hv_vcpu *vcpu)
{
	free(vcpu);
}

static void null_vm_destroy(struct hv_vm *vm)
{
	free(vm);
}

const struct hv_ops hv_null_ops = {
	.name = "null",
	.probe = null_probe,
	.vm_create = null_vm_create,
	.map_ram = null_map_ram,
	.gic_create = null_gic_create,
	.vcpu_create = null_vcpu_create,
	.vcpu_set_boot = null_vcpu_set_boot,
	.vcpu_run = null_vcpu_run,
	.complete_mmio_read = null_complete_mmio_read,
	.complete_call = null_complete_call,
	.set_spi = null_set_spi,
	.kick = null_kick,
	.vcpu_destroy = null_vcpu_destroy,
	.vm_destroy = null_vm_destroy,
};

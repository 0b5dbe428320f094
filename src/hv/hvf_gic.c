// SPDX-License-Identifier: MIT
/*
 * Hypervisor.framework's in-kernel GICv3 (macOS 15+): its geometry, checking the machine
 * layout against it, creating it, and checking where it put each vCPU's redistributor. Every
 * function here calls hv_gic_* and so is only reached behind __builtin_available (hvf.c).
 */
#include <errno.h>

#include "arch/aarch64/layout.h"
#include "hv/hvf.h"

API_AVAILABLE(macos(15.0))
static int hvf_gic_geometry(struct gic_geometry *g, struct errbuf *e)
{
	size_t dist, redist, region, dist_align, redist_align;
	hv_return_t r;

	r = hv_gic_get_distributor_size(&dist);
	if (r == HV_SUCCESS)
		r = hv_gic_get_redistributor_size(&redist);
	if (r == HV_SUCCESS)
		r = hv_gic_get_redistributor_region_size(&region);
	if (r == HV_SUCCESS)
		r = hv_gic_get_distributor_base_alignment(&dist_align);
	if (r == HV_SUCCESS)
		r = hv_gic_get_redistributor_base_alignment(&redist_align);
	if (r != HV_SUCCESS)
		return hvf_fail(e, r, "querying the in-kernel GIC (hv_gic_get_*)");
	if (!dist || !redist || region < redist || !is_power_of_2(dist_align) ||
	    !is_power_of_2(redist_align))
		return err_set(
			e, -EIO,
			"HVF reports an unusable GIC: dist %#zx, redist %#zx (region %#zx), align %#zx/%#zx",
			dist, redist, region, dist_align, redist_align);
	*g = (struct gic_geometry){
		.dist_size = dist,
		.redist_size_per_cpu = redist,
		.dist_align = dist_align,
		.redist_align = redist_align,
		.redist_region_size = region,
	};
	return 0;
}

API_AVAILABLE(macos(15.0))
int hvf_probe_gic(struct hv_caps *caps, struct errbuf *e)
{
	uint32_t max_vcpus, max_ipa;
	hv_return_t r;
	int ret;

	/*
	 * vCPU features: Apple Silicon has no SVE (the M4's SME is another extension), and HVF
	 * gives no PMU (counter registers trap to the VMM, which would have to emulate them, as
	 * QEMU does). Pointer authentication is the host's and always visible in the guest's ID
	 * registers; hiding it would mean rewriting ID_AA64ISAR1_EL1 per vCPU, not done yet.
	 */
	*caps = (struct hv_caps){ .ram_align = HVF_PAGE, .psci_in_kernel = false,
				  .cpu_features = HV_CPU_PAUTH, .cpu_fixed = HV_CPU_PAUTH };
	ret = hvf_gic_geometry(&caps->gic, e);
	if (ret < 0)
		return ret;
	r = hv_vm_get_max_vcpu_count(&max_vcpus);
	if (r != HV_SUCCESS)
		return hvf_fail(e, r, "hv_vm_get_max_vcpu_count");
	r = hv_vm_config_get_max_ipa_size(&max_ipa);
	if (r != HV_SUCCESS)
		return hvf_fail(e, r, "hv_vm_config_get_max_ipa_size");
	/* The redistributor region holds one frame pair per vCPU the VM can have. */
	caps->max_vcpus = min_u64(min_u64(max_vcpus, MAX_VCPUS),
				  caps->gic.redist_region_size / caps->gic.redist_size_per_cpu);
	caps->max_ipa_bits = max_ipa;
	return 0;
}

API_AVAILABLE(macos(15.0))
static int hvf_gic_check(const struct hv_vm *vm, const struct layout *l, struct errbuf *e)
{
	uint32_t spi_base, spi_count, last = SPI_INTID(layout_virtio_spi(VIRTIO_MMIO_SLOTS - 1));
	struct gic_geometry g;
	hv_return_t r;
	int ret;

	ret = hvf_gic_geometry(&g, e);
	if (ret < 0)
		return ret;
	if (l->gicd_base % g.dist_align || l->gicr_base % g.redist_align)
		return err_set(e, -EINVAL, "hvf: GIC at %#llx/%#llx is not aligned to %#llx/%#llx",
			       (unsigned long long)l->gicd_base, (unsigned long long)l->gicr_base,
			       (unsigned long long)g.dist_align,
			       (unsigned long long)g.redist_align);
	if (l->gicd_size < g.dist_size || l->gicr_size < g.redist_size_per_cpu * vm->nr_vcpus)
		return err_set(e, -EINVAL, "hvf: the layout's GIC regions are smaller than HVF's");
	/* HVF places redistributors for every vCPU it supports, RAM or not: keep them apart. */
	if (l->gicr_reserved < g.redist_region_size || l->gicr_reserved < l->gicr_size ||
	    l->gicr_base + l->gicr_reserved > l->ram_base)
		return err_set(
			e, -EINVAL,
			"hvf: the layout reserves %#llx bytes at %#llx for the redistributors, "
			"HVF's region is %#llx bytes",
			(unsigned long long)l->gicr_reserved, (unsigned long long)l->gicr_base,
			(unsigned long long)g.redist_region_size);
	r = hv_gic_get_spi_interrupt_range(&spi_base, &spi_count);
	if (r != HV_SUCCESS)
		return hvf_fail(e, r, "hv_gic_get_spi_interrupt_range");
	if (spi_base > SPI_INTID(0) || (uint64_t)spi_base + spi_count <= last)
		return err_set(e, -EINVAL, "hvf: the GIC's SPIs %u..%u do not cover INTIDs %u..%u",
			       spi_base, spi_base + spi_count - 1, SPI_INTID(0), last);
	return 0;
}

API_AVAILABLE(macos(15.0))
int hvf_gic_setup(struct hv_vm *vm, const struct layout *l, struct errbuf *e)
{
	hv_gic_config_t cfg;
	hv_return_t r;
	int ret;

	if (vm->gic)
		return err_set(e, -EEXIST, "hvf: the GIC exists already");
	if (vm->vcpus_created)
		return err_set(e, -EINVAL, "hvf: the GIC must be created before any vCPU");
	ret = hvf_gic_check(vm, l, e);
	if (ret < 0)
		return ret;
	cfg = hv_gic_config_create();
	if (!cfg)
		return err_set(e, -ENOMEM, "hv_gic_config_create failed");
	r = hv_gic_config_set_distributor_base(cfg, l->gicd_base);
	if (r == HV_SUCCESS)
		r = hv_gic_config_set_redistributor_base(cfg, l->gicr_base);
	if (r == HV_SUCCESS)
		r = hv_gic_create(cfg);
	os_release(cfg);
	if (r != HV_SUCCESS)
		return hvf_fail(e, r, "creating the in-kernel GIC (hv_gic_create)");
	vm->gic = true;
	vm->gicr_base = l->gicr_base;
	vm->gicr_size = l->gicr_size;
	vm->gicr_reserved = l->gicr_reserved;
	return 0;
}

/*
 * The guest finds redistributors only in the part of HVF's region its DTB names, one frame pair
 * per vCPU from the start: a vCPU whose redistributor HVF put elsewhere would never come up.
 */
API_AVAILABLE(macos(15.0))
int hvf_check_redistributor(struct hv_vcpu *v, uint64_t mpidr, struct errbuf *e)
{
	const struct hv_vm *vm = v->vm;
	hv_ipa_t base;
	hv_return_t r = hv_gic_get_redistributor_base(v->id, &base);

	if (r != HV_SUCCESS)
		return hvf_fail(e, r, "hv_gic_get_redistributor_base");
	bool in_region = base >= vm->gicr_base && base - vm->gicr_base < vm->gicr_reserved;

	if (base >= vm->gicr_base && base - vm->gicr_base < vm->gicr_size)
		return 0;
	return err_set(e, -EINVAL,
		       "hvf: vCPU %u (MPIDR %#llx) has its redistributor at %#llx, outside the %s "
		       "[%#llx, %#llx)",
		       v->index, (unsigned long long)mpidr, (unsigned long long)base,
		       in_region ? "frames the device tree names" : "redistributor region",
		       (unsigned long long)vm->gicr_base,
		       (unsigned long long)(vm->gicr_base +
					    (in_region ? vm->gicr_size : vm->gicr_reserved)));
}

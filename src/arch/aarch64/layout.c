// SPDX-License-Identifier: MIT
#include <errno.h>

#include "arch/aarch64/layout.h"
#include "util/compiler.h"

/* End of the last virtio-mmio slot: nothing the GIC may overlap lies above this below RAM. */
#define VIRTIO_MMIO_END (VIRTIO_MMIO_BASE + VIRTIO_MMIO_SLOTS * VIRTIO_MMIO_SIZE)

/* KVM refuses an IPA size below 32 bits (ARM64_MIN_PARANGE_BITS); HVF starts at 32 as well. */
#define IPA_BITS_MIN 32u

static int layout_check_ram(uint64_t ram_size, struct errbuf *e)
{
	if (ram_size % SZ_1M)
		return err_set(e, -EINVAL, "RAM size %llu bytes is not a whole number of MiB",
			       (unsigned long long)ram_size);
	if (ram_size < RAM_MIN_SIZE)
		return err_set(e, -EINVAL, "RAM size %llu MiB is below the minimum of %llu MiB",
			       (unsigned long long)(ram_size >> 20), RAM_MIN_SIZE >> 20);
	if (ram_size > RAM_MAX_SIZE)
		return err_set(e, -EINVAL, "RAM size %llu MiB is above the maximum of %llu MiB",
			       (unsigned long long)(ram_size >> 20), RAM_MAX_SIZE >> 20);
	return 0;
}

static int layout_check_align(uint64_t align, const char *what, struct errbuf *e)
{
	if (align && !is_power_of_2(align))
		return err_set(e, -EINVAL, "GIC %s alignment 0x%llx is not a power of two", what,
			       (unsigned long long)align);
	return 0;
}

/* A zero alignment means the hypervisor asks for none; GIC frames are 64 KiB anyway. */
static uint64_t gic_align(uint64_t align)
{
	return align ? align : SZ_64K;
}

static int layout_place_gic(struct layout *l, const struct gic_geometry *g, struct errbuf *e)
{
	uint64_t room = RAM_BASE - VIRTIO_MMIO_END;
	int ret;

	ret = layout_check_align(g->dist_align, "distributor", e);
	if (!ret)
		ret = layout_check_align(g->redist_align, "redistributor", e);
	if (ret)
		return ret;
	if (!g->dist_size || !g->redist_size_per_cpu)
		return err_set(e, -EINVAL, "the hypervisor reported an empty GIC region");
	if (g->redist_size_per_cpu > room / l->nr_vcpus || g->dist_size > room ||
	    g->redist_region_size > room)
		goto too_big;
	l->gicr_size = g->redist_size_per_cpu * l->nr_vcpus;
	l->gicr_reserved = max_u64(l->gicr_size, g->redist_region_size);
	l->gicr_base = align_down(RAM_BASE - l->gicr_reserved, gic_align(g->redist_align));
	if (l->gicr_base < VIRTIO_MMIO_END + g->dist_size)
		goto too_big;
	l->gicd_size = g->dist_size;
	l->gicd_base = align_down(l->gicr_base - l->gicd_size, gic_align(g->dist_align));
	if (l->gicd_base < VIRTIO_MMIO_END)
		goto too_big;
	return 0;

too_big:
	return err_set(e, -ERANGE,
		       "the GIC for %u vCPUs (distributor 0x%llx, redistributors 0x%llx each) does "
		       "not fit between the virtio-mmio window and RAM",
		       l->nr_vcpus, (unsigned long long)g->dist_size,
		       (unsigned long long)g->redist_size_per_cpu);
}

int layout_init(struct layout *l, uint64_t ram_size, unsigned nr_vcpus,
		const struct gic_geometry *gic, struct errbuf *e)
{
	int ret;

	*l = (struct layout){ 0 };
	ret = layout_check_ram(ram_size, e);
	if (ret)
		return ret;
	if (nr_vcpus < 1 || nr_vcpus > MAX_VCPUS)
		return err_set(e, -EINVAL, "%u vCPUs requested; ignition supports 1 to %u",
			       nr_vcpus, MAX_VCPUS);
	if (!gic)
		return err_set(e, -EINVAL, "no GIC geometry from the hypervisor");
	l->ram_base = RAM_BASE;
	l->ram_size = ram_size;
	l->nr_vcpus = nr_vcpus;
	l->fdt_base = fdt_addr(ram_size);
	return layout_place_gic(l, gic, e);
}

uint64_t fdt_addr(uint64_t ram_size)
{
	return RAM_BASE + ram_size - FDT_MAX_SIZE;
}

unsigned layout_ipa_bits(const struct layout *l)
{
	uint64_t end = l->ram_base + l->ram_size;
	unsigned bits = 64 - (unsigned)__builtin_clzll(end - 1);

	return bits < IPA_BITS_MIN ? IPA_BITS_MIN : bits;
}

uint64_t layout_virtio_base(unsigned slot)
{
	return VIRTIO_MMIO_BASE + (uint64_t)slot * VIRTIO_MMIO_SIZE;
}

unsigned layout_virtio_spi(unsigned slot)
{
	return 1 + slot;
}

uint64_t mpidr_for_vcpu(unsigned index)
{
	return (uint64_t)(index / 16) << 8 | (index % 16);
}

int layout_place_initrd(const struct layout *l, uint64_t size, uint64_t *base, struct errbuf *e)
{
	uint64_t below = l->fdt_base - l->ram_base;

	if (!size)
		return err_set(e, -EINVAL, "initrd is empty");
	if (size > below)
		return err_set(
			e, -E2BIG,
			"initrd of %llu bytes does not fit in the %llu MiB of RAM below the DTB",
			(unsigned long long)size, (unsigned long long)(below >> 20));
	*base = align_down(l->fdt_base - size, INITRD_ALIGN);
	return 0;
}

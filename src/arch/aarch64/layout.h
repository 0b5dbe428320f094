/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_ARCH_LAYOUT_H
#define IGNITION_ARCH_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/*
 * The guest physical memory map. Everything the guest kernel finds by address is fixed here;
 * only the GIC's place depends on the hypervisor (its sizes) and the vCPU count.
 *
 *   0x0900_0000  16550 UART, one page, byte registers, SPI 0 (INTID 32)
 *   0x0a00_0000  virtio-mmio slot i at + i * 0x200, SPI 1 + i (INTID 33 + i)
 *   below RAM    GICv3 distributor, then one contiguous redistributor region up to RAM_BASE
 *                (as large as the hypervisor's own region; the FDT names the vCPUs' part)
 *   0x4000_0000  RAM: kernel at text_offset (2 MiB aligned), ..., initrd, DTB in the last 2 MiB
 */
#define RAM_BASE 0x40000000ULL
#define RAM_MIN_SIZE (16ULL << 20)
/* RAM ends at 1 TiB at most: a 40-bit IPA, the default of KVM's VM type 0. */
#define RAM_MAX_SIZE ((1ULL << 40) - RAM_BASE)

#define UART_BASE 0x09000000ULL
#define UART_SIZE 0x1000ULL
#define UART_SPI 0u
#define UART_CLOCK_HZ 1843200u

#define VIRTIO_MMIO_BASE 0x0a000000ULL
#define VIRTIO_MMIO_SIZE 0x200ULL
#define VIRTIO_MMIO_SLOTS 32u

#define FDT_MAX_SIZE 0x200000ULL
#define KERNEL_ALIGN 0x200000ULL
#define INITRD_ALIGN 0x1000ULL

/* INTIDs handed to hypervisors are absolute: SPI n is INTID 32 + n. */
#define GIC_SPI_BASE 32u
#define SPI_INTID(spi) (GIC_SPI_BASE + (spi))
/* PPIs (per-CPU) are INTID 16 + n; the PMU's overflow interrupt is PPI 7 (INTID 23), as on
 * QEMU's virt machine and in the Server Base System Architecture. */
#define GIC_PPI_BASE 16u
#define PPI_INTID(ppi) (GIC_PPI_BASE + (ppi))
#define PMU_PPI 7u

#define MAX_VCPUS 128u

struct layout {
	uint64_t ram_base;
	uint64_t ram_size;
	unsigned nr_vcpus;
	uint64_t gicd_base;
	uint64_t gicd_size;
	uint64_t gicr_base;
	uint64_t gicr_size; /* what the guest uses (and the FDT names): per-vCPU size * nr_vcpus */
	/* Kept free from gicr_base on: gicr_size, or the hypervisor's larger region. */
	uint64_t gicr_reserved;
	uint64_t fdt_base;
};

/* Sizes the hypervisor reports for its GICv3 (HVF: 0x10000 and 0x20000 per vCPU). */
struct gic_geometry {
	uint64_t dist_size;
	uint64_t redist_size_per_cpu;
	uint64_t dist_align;
	uint64_t redist_align;
	/*
	 * HVF's redistributor region covers every vCPU the VM could have, whatever the guest uses
	 * (hv_gic_get_redistributor_region_size); 0 when it is per-vCPU size * vCPUs (KVM).
	 */
	uint64_t redist_region_size;
};

/*
 * Checks the RAM size (MiB granular, RAM_MIN_SIZE..RAM_MAX_SIZE), the vCPU count (1..MAX_VCPUS) and
 * places the GIC just below RAM: the reserved redistributor region ends at RAM_BASE (the guest's
 * redistributors at its start), the distributor sits right below it, both aligned as the
 * hypervisor asks and clear of the UART and virtio windows.
 */
int layout_init(struct layout *l, uint64_t ram_size, unsigned nr_vcpus,
		const struct gic_geometry *gic, struct errbuf *e);

/* The DTB lives in the last 2 MiB of RAM. */
uint64_t fdt_addr(uint64_t ram_size);

/*
 * Bits of guest physical address space the layout needs (RAM end, rounded up), at least 32: the
 * smallest IPA size KVM accepts.
 */
unsigned layout_ipa_bits(const struct layout *l);

uint64_t layout_virtio_base(unsigned slot);
unsigned layout_virtio_spi(unsigned slot);

/*
 * MPIDR affinity of vCPU `index`, the value KVM gives it by default and the one HVF is told:
 * Aff0 = index % 16, Aff1 = index / 16 (16 CPUs per cluster keeps GICv3 SGI targeting simple).
 */
uint64_t mpidr_for_vcpu(unsigned index);

/*
 * Places an initrd of `size` bytes right below the DTB, page aligned. The kernel is loaded after
 * this with the initrd's base as its limit, so the two can never overlap.
 */
int layout_place_initrd(const struct layout *l, uint64_t size, uint64_t *base, struct errbuf *e);

#endif

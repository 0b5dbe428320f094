// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>

#include <libfdt.h>

#include "arch/aarch64/fdt.h"
#include "arch/aarch64/layout.h"
#include "util/compiler.h"

/* Interrupt specifier cells of arm,gic-v3 (dt-bindings/interrupt-controller/arm-gic.h). */
#define GIC_SPI		       0u
#define GIC_PPI		       1u
#define IRQ_TYPE_EDGE_RISING   1u
#define IRQ_TYPE_LEVEL_HIGH    4u
#define IRQ_TYPE_LEVEL_LOW     8u
#define GIC_PPI_CPU_MASK_SHIFT 8
#define GIC_PPI_CPU_MASK_MAX   8u

/* Architected timer PPIs, in the binding's order: secure, non-secure physical, virtual, hyp. */
static const uint32_t timer_ppis[] = { 13, 14, 11, 10 };

#define GIC_PHANDLE 1u
#define UART_PATH   "/uart@9000000"

/*
 * Every libfdt call returns 0 or a negative FDT_ERR_*: the builders chain them as `ret ?: next`,
 * so the first failure skips the rest and fdt_build() turns it into one message.
 */
static int fdt_prop_u64_pair(void *fdt, const char *name, uint64_t a, uint64_t b)
{
	fdt64_t cells[2] = { cpu_to_fdt64(a), cpu_to_fdt64(b) };

	return fdt_property(fdt, name, cells, sizeof(cells));
}

static int fdt_prop_irq(void *fdt, uint32_t type, uint32_t num, uint32_t flags)
{
	fdt32_t cells[3] = { cpu_to_fdt32(type), cpu_to_fdt32(num), cpu_to_fdt32(flags) };

	return fdt_property(fdt, "interrupts", cells, sizeof(cells));
}

static int fdt_begin_node_at(void *fdt, const char *name, uint64_t addr)
{
	char node[64];

	snprintf(node, sizeof(node), "%s@%llx", name, (unsigned long long)addr);
	return fdt_begin_node(fdt, node);
}

static int fdt_add_root_props(void *fdt)
{
	int ret;

	ret = fdt_property_string(fdt, "compatible", "linux,dummy-virt");
	ret = ret ?: fdt_property_string(fdt, "model", "ignition");
	ret = ret ?: fdt_property_u32(fdt, "#address-cells", 2);
	ret = ret ?: fdt_property_u32(fdt, "#size-cells", 2);
	return ret ?: fdt_property_u32(fdt, "interrupt-parent", GIC_PHANDLE);
}

static int fdt_add_memory(void *fdt, const struct layout *l)
{
	int ret;

	ret = fdt_begin_node_at(fdt, "memory", l->ram_base);
	ret = ret ?: fdt_property_string(fdt, "device_type", "memory");
	ret = ret ?: fdt_prop_u64_pair(fdt, "reg", l->ram_base, l->ram_size);
	return ret ?: fdt_end_node(fdt);
}

/* The unit address is the reg value, so it differs from the index from vCPU 16 on. */
static int fdt_add_cpu(void *fdt, unsigned index)
{
	uint64_t mpidr = mpidr_for_vcpu(index);
	int ret;

	ret = fdt_begin_node_at(fdt, "cpu", mpidr);
	ret = ret ?: fdt_property_string(fdt, "device_type", "cpu");
	ret = ret ?: fdt_property_string(fdt, "compatible", "arm,arm-v8");
	ret = ret ?: fdt_property_string(fdt, "enable-method", "psci");
	ret = ret ?: fdt_property_u32(fdt, "reg", (uint32_t)mpidr);
	return ret ?: fdt_end_node(fdt);
}

static int fdt_add_cpus(void *fdt, const struct layout *l)
{
	int ret;

	ret = fdt_begin_node(fdt, "cpus");
	ret = ret ?: fdt_property_u32(fdt, "#address-cells", 1);
	ret = ret ?: fdt_property_u32(fdt, "#size-cells", 0);
	for (unsigned i = 0; !ret && i < l->nr_vcpus; i++)
		ret = fdt_add_cpu(fdt, i);
	return ret ?: fdt_end_node(fdt);
}

static int fdt_add_psci(void *fdt)
{
	/* Newest first; Linux picks PSCI 1.0 features and falls back to 0.2. */
	static const char compat[] = "arm,psci-1.0\0arm,psci-0.2";
	int ret;

	ret = fdt_begin_node(fdt, "psci");
	ret = ret ?: fdt_property(fdt, "compatible", compat, sizeof(compat));
	ret = ret ?: fdt_property_string(fdt, "method", "hvc");
	return ret ?: fdt_end_node(fdt);
}

static int fdt_add_gic(void *fdt, const struct layout *l)
{
	fdt64_t reg[4] = {
		cpu_to_fdt64(l->gicd_base),
		cpu_to_fdt64(l->gicd_size),
		cpu_to_fdt64(l->gicr_base),
		cpu_to_fdt64(l->gicr_size),
	};
	int ret;

	/* One contiguous redistributor region, so no #redistributor-regions. */
	ret = fdt_begin_node_at(fdt, "intc", l->gicd_base);
	ret = ret ?: fdt_property_string(fdt, "compatible", "arm,gic-v3");
	ret = ret ?: fdt_property_u32(fdt, "#interrupt-cells", 3);
	ret = ret ?: fdt_property(fdt, "interrupt-controller", NULL, 0);
	ret = ret ?: fdt_property_u32(fdt, "#address-cells", 2);
	ret = ret ?: fdt_property_u32(fdt, "#size-cells", 2);
	ret = ret ?: fdt_property(fdt, "ranges", NULL, 0);
	ret = ret ?: fdt_property(fdt, "reg", reg, sizeof(reg));
	ret = ret ?: fdt_property_u32(fdt, "phandle", GIC_PHANDLE);
	return ret ?: fdt_end_node(fdt);
}

/* A PPI's flags cell: the trigger type and the PPI CPU mask QEMU sets (the binding allows 8). */
static uint32_t ppi_irq_flags(unsigned nr_vcpus, uint32_t type)
{
	unsigned n = nr_vcpus < GIC_PPI_CPU_MASK_MAX ? nr_vcpus : GIC_PPI_CPU_MASK_MAX;

	return ((1u << n) - 1) << GIC_PPI_CPU_MASK_SHIFT | type;
}

static int fdt_add_timer(void *fdt, const struct layout *l)
{
	fdt32_t irqs[ARRAY_SIZE(timer_ppis) * 3];
	/* Level-low like real timers. */
	uint32_t flags = ppi_irq_flags(l->nr_vcpus, IRQ_TYPE_LEVEL_LOW);
	int ret;

	for (size_t i = 0; i < ARRAY_SIZE(timer_ppis); i++) {
		irqs[3 * i] = cpu_to_fdt32(GIC_PPI);
		irqs[3 * i + 1] = cpu_to_fdt32(timer_ppis[i]);
		irqs[3 * i + 2] = cpu_to_fdt32(flags);
	}
	ret = fdt_begin_node(fdt, "timer");
	ret = ret ?: fdt_property_string(fdt, "compatible", "arm,armv8-timer");
	ret = ret ?: fdt_property(fdt, "interrupts", irqs, sizeof(irqs));
	ret = ret ?: fdt_property(fdt, "always-on", NULL, 0);
	return ret ?: fdt_end_node(fdt);
}

/* KVM raises the PMU's overflow PPI as a level, high while an overflow is pending. */
static int fdt_add_pmu(void *fdt, const struct layout *l)
{
	uint32_t flags = ppi_irq_flags(l->nr_vcpus, IRQ_TYPE_LEVEL_HIGH);
	int ret;

	ret = fdt_begin_node(fdt, "pmu");
	ret = ret ?: fdt_property_string(fdt, "compatible", "arm,armv8-pmuv3");
	ret = ret ?: fdt_prop_irq(fdt, GIC_PPI, PMU_PPI, flags);
	return ret ?: fdt_end_node(fdt);
}

/* The 16550 and virtio-mmio hold their lines high until serviced: level-high SPIs. */
static int fdt_add_uart(void *fdt)
{
	int ret;

	ret = fdt_begin_node_at(fdt, "uart", UART_BASE);
	ret = ret ?: fdt_property_string(fdt, "compatible", "ns16550a");
	ret = ret ?: fdt_prop_u64_pair(fdt, "reg", UART_BASE, UART_SIZE);
	ret = ret ?: fdt_prop_irq(fdt, GIC_SPI, UART_SPI, IRQ_TYPE_LEVEL_HIGH);
	ret = ret ?: fdt_property_u32(fdt, "clock-frequency", UART_CLOCK_HZ);
	ret = ret ?: fdt_property_u32(fdt, "reg-shift", 0);
	ret = ret ?: fdt_property_u32(fdt, "reg-io-width", 1);
	return ret ?: fdt_end_node(fdt);
}

static int fdt_add_virtio(void *fdt, const struct fdt_virtio_slot *s)
{
	int ret;

	ret = fdt_begin_node_at(fdt, "virtio_mmio", s->base);
	ret = ret ?: fdt_property_string(fdt, "compatible", "virtio,mmio");
	ret = ret ?: fdt_prop_u64_pair(fdt, "reg", s->base, s->size);
	/*
	 * Edge, as qemu's virt and Firecracker describe it: KVM's vGIC makes the guest's EOI of a
	 * level SPI trap (a maintenance interrupt, to resample the line), an exit per interrupt
	 * that an edge does not cost. mmio.c makes an edge for every InterruptStatus bit the
	 * guest has not acknowledged yet.
	 */
	ret = ret ?: fdt_prop_irq(fdt, GIC_SPI, s->spi, IRQ_TYPE_EDGE_RISING);
	ret = ret ?: fdt_property(fdt, "dma-coherent", NULL, 0);
	return ret ?: fdt_end_node(fdt);
}

static int fdt_add_chosen(void *fdt, const struct fdt_desc *d)
{
	int ret;

	ret = fdt_begin_node(fdt, "chosen");
	ret = ret ?: fdt_property_string(fdt, "bootargs", d->bootargs ? d->bootargs : "");
	ret = ret ?: fdt_property_string(fdt, "stdout-path", UART_PATH);
	if (!ret && d->has_initrd) {
		ret = fdt_property_u64(fdt, "linux,initrd-start", d->initrd_start);
		ret = ret ?: fdt_property_u64(fdt, "linux,initrd-end", d->initrd_end);
	}
	if (!ret && d->rng_seed && d->rng_seed_len)
		ret = fdt_property(fdt, "rng-seed", d->rng_seed, (int)d->rng_seed_len);
	return ret ?: fdt_end_node(fdt);
}

static int fdt_add_aliases(void *fdt)
{
	int ret;

	ret = fdt_begin_node(fdt, "aliases");
	ret = ret ?: fdt_property_string(fdt, "serial0", UART_PATH);
	return ret ?: fdt_end_node(fdt);
}

static int fdt_add_devices(void *fdt, const struct fdt_desc *d)
{
	int ret;

	ret = fdt_add_memory(fdt, d->layout);
	ret = ret ?: fdt_add_cpus(fdt, d->layout);
	ret = ret ?: fdt_add_psci(fdt);
	ret = ret ?: fdt_add_gic(fdt, d->layout);
	ret = ret ?: fdt_add_timer(fdt, d->layout);
	if (!ret && d->pmu)
		ret = fdt_add_pmu(fdt, d->layout);
	ret = ret ?: fdt_add_uart(fdt);
	for (unsigned i = 0; !ret && i < d->nr_virtio; i++)
		ret = fdt_add_virtio(fdt, &d->virtio[i]);
	return ret;
}

static int fdt_write(void *fdt, size_t bufsize, const struct fdt_desc *d)
{
	int ret;

	ret = fdt_create(fdt, (int)bufsize);
	ret = ret ?: fdt_finish_reservemap(fdt);
	ret = ret ?: fdt_begin_node(fdt, "");
	ret = ret ?: fdt_add_root_props(fdt);
	ret = ret ?: fdt_add_devices(fdt, d);
	ret = ret ?: fdt_add_chosen(fdt, d);
	ret = ret ?: fdt_add_aliases(fdt);
	ret = ret ?: fdt_end_node(fdt);
	return ret ?: fdt_finish(fdt);
}

/* Machines of a few devices need 2 KiB; 64 vCPUs and 32 virtio slots fit in 16 KiB. */
#define FDT_FIRST_TRY 0x4000u

int fdt_build(void *buf, size_t bufsize, const struct fdt_desc *d, struct errbuf *e)
{
	int ret;

	/* Linux maps at most 2 MiB of DTB (booting.rst); more buffer would only hide a bug. */
	if (bufsize > FDT_MAX_SIZE)
		bufsize = FDT_MAX_SIZE;
	if (d->has_initrd && d->initrd_end < d->initrd_start)
		return err_set(e, -EINVAL, "initrd ends (0x%llx) before it starts (0x%llx)",
			       (unsigned long long)d->initrd_end,
			       (unsigned long long)d->initrd_start);
	if (d->rng_seed_len > FDT_MAX_SIZE / 2)
		return err_set(e, -EINVAL, "rng-seed of %zu bytes is too large", d->rng_seed_len);
	/*
	 * fdt_create() zeroes all the room it is given: start small and double, so that building a
	 * tree of a few KiB writes a few KiB of guest RAM, not 2 MiB (half a million instructions
	 * and a fault on every page of it).
	 */
	for (size_t room = FDT_FIRST_TRY;; room *= 2) {
		ret = fdt_write(buf, min_u64(room, bufsize), d);
		if (ret != -FDT_ERR_NOSPACE || room >= bufsize)
			break;
	}
	if (ret == -FDT_ERR_NOSPACE)
		return err_set(e, -ENOSPC, "the device tree does not fit in %zu bytes", bufsize);
	if (ret)
		return err_set(e, -EINVAL, "building the device tree failed: %s",
			       fdt_strerror(ret));
	return 0;
}

size_t fdt_size(const void *buf)
{
	return fdt_totalsize(buf);
}

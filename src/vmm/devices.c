// SPDX-License-Identifier: MIT
/*
 * The machine's devices: the UART and the virtio devices a config asks for, built through one
 * table, and what their host sides need from the sandbox. vm.c calls vm_create_devices() while
 * building the machine and vm_sandbox_rules() before the seccomp filter goes on.
 */
#include <errno.h>
#include <string.h>

#include "build_config.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/fs.h"
#include "devices/virtio/net.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/vsock.h"
#include "fs/fs.h"
#include "host/vsock/muxer.h"
#include "vmm/sandbox.h"
#include "vmm/vmm.h"

static void vm_set_spi(void *opaque, uint32_t intid, bool level)
{
	struct vm *vm = opaque;

	if (vm->hvm)
		vm->hv->set_spi(vm->hvm, intid, level);
}

static int vm_add_virtio(struct vm *vm, struct virtio_mmio *dev, struct errbuf *e)
{
	unsigned slot = vm->nr_virtio;
	int r;

	r = virtio_mmio_attach(dev, &vm->bus, layout_virtio_base(slot), e);
	if (r < 0) {
		virtio_mmio_destroy(dev);
		return r;
	}
	vm->virtio[slot] = dev;
	vm->nr_virtio++;
	return 0;
}

struct evloop *vm_evloop(struct vm *vm, struct errbuf *e)
{
	if (!vm->loop && evloop_create(&vm->loop, e) < 0)
		return NULL;
	return vm->loop;
}

/*
 * The virtio devices a config asks for, in slot order (disks first, so the root disk is vda).
 * Each kind says how many the config wants, builds one, and names what its host side needs from
 * the sandbox; vm.c knows no device beyond this table (kvmtool's idea of registering devices).
 */
struct vm_device_kind {
	const char *name;
	unsigned (*count)(const struct vm_config *cfg);
	struct virtio_mmio *(*create)(struct vm *vm, unsigned index, struct irq_line *irq,
				      struct errbuf *e);
	/* Optional: what index's host side does once the sandbox is on. */
	int (*sandbox)(const struct vm_config *cfg, unsigned index, struct sandbox_rules *rules);
};

static unsigned blk_count(const struct vm_config *cfg)
{
	return cfg->nr_disks;
}

static struct virtio_mmio *blk_create(struct vm *vm, unsigned index, struct irq_line *irq,
				      struct errbuf *e)
{
	struct virtio_blk_params p = {
		.path = vm->cfg->disks[index].path,
		.readonly = vm->cfg->disks[index].readonly,
		.index = index,
	};

	return virtio_blk_create(&p, &vm->gm, irq, e);
}

static unsigned rng_count(const struct vm_config *cfg)
{
	return cfg->rng ? 1 : 0;
}

static struct virtio_mmio *rng_create(struct vm *vm, unsigned index, struct irq_line *irq,
				      struct errbuf *e)
{
	return virtio_rng_create(&vm->gm, irq, e);
}

/*
 * Without libslirp the implicit user-mode NIC is left out (an explicit --net user says why it
 * cannot be), so such a build still boots with no --net at all.
 */
static unsigned net_count(const struct vm_config *cfg)
{
	return HAVE_SLIRP || cfg->net_given ? cfg->nr_nets : 0;
}

static struct virtio_mmio *net_create(struct vm *vm, unsigned index, struct irq_line *irq,
				      struct errbuf *e)
{
	const struct net_config *nc = &vm->cfg->nets[index];
	struct virtio_net_params p = { .index = index };
	struct evloop *loop = vm_evloop(vm, e);
	struct net_backend *b;
	struct virtio_net *n;

	if (!loop || net_backend_open(nc, index, loop, &b, e) < 0)
		return NULL;
	memcpy(p.mac, nc->mac, sizeof(p.mac));
	n = virtio_net_create(&p, b, loop, &vm->gm, irq, e);
	return n ? virtio_net_mmio(n) : NULL;
}

static int net_sandbox(const struct vm_config *cfg, unsigned index, struct sandbox_rules *rules)
{
	int r;

	/* Once per kind of backend: the list has room for a few dozen names, not one per NIC. */
	for (unsigned i = 0; i < index; i++)
		if (cfg->nets[i].mode == cfg->nets[index].mode)
			return 0;
	r = sandbox_allow_syscalls(rules, net_backend_syscalls(cfg->nets[index].mode));
	if (r == 0)
		r = sandbox_allow_ioctls(rules, net_backend_ioctls(cfg->nets[index].mode));
	return r;
}

static unsigned vsock_count(const struct vm_config *cfg)
{
	return cfg->vsock.enabled ? 1 : 0;
}

/*
 * The unix-socket muxer on the VM's event loop, behind the device. Its listening socket exists
 * from here on, before the sandbox; --dump-dtb creates no socket file.
 */
static struct virtio_mmio *vsock_create(struct vm *vm, unsigned index, struct irq_line *irq,
					struct errbuf *e)
{
	struct evloop *loop = vm_evloop(vm, e);
	struct vsock_mux_params mp = {
		.guest_cid = vm->cfg->vsock.guest_cid,
		.path = vm->cfg->dump_dtb ? NULL : vm->cfg->vsock.socket,
		.loop = loop,
	};
	struct virtio_vsock_params p = {
		.guest_cid = vm->cfg->vsock.guest_cid,
		.loop = loop,
		.be_ops = &vsock_mux_ops,
	};
	struct virtio_vsock *v;
	struct vsock_mux *mux;

	if (!loop || vsock_mux_create(&mp, &mux, e) < 0)
		return NULL;
	p.be = mux;
	v = virtio_vsock_create(&p, &vm->gm, irq, e);
	return v ? virtio_vsock_mmio(v) : NULL;
}

static int vsock_sandbox(const struct vm_config *cfg, unsigned index, struct sandbox_rules *rules)
{
	return sandbox_allow_syscalls(rules, vsock_mux_syscalls);
}

static unsigned fs_count(const struct vm_config *cfg)
{
	return cfg->nr_fs;
}

static struct virtio_mmio *fs_create(struct vm *vm, unsigned index, struct irq_line *irq,
				     struct errbuf *e)
{
	struct virtio_fs_params p = {
		.tag = vm->cfg->fs[index].tag,
		.path = vm->cfg->fs[index].path,
		.readonly = vm->cfg->fs[index].readonly,
		.index = index,
		.nr_shares = vm->cfg->nr_fs,
	};

	return virtio_fs_create(&p, &vm->gm, irq, e);
}

/* Every share makes the same calls: the first adds them for all. */
static int fs_sandbox(const struct vm_config *cfg, unsigned index, struct sandbox_rules *rules)
{
	return index ? 0 : sandbox_allow_syscalls(rules, fs_server_syscalls);
}

static const struct vm_device_kind vm_device_kinds[] = {
	{ .name = "virtio-blk", .count = blk_count, .create = blk_create },
	{ .name = "virtio-net", .count = net_count, .create = net_create, .sandbox = net_sandbox },
	{ .name = "virtio-fs", .count = fs_count, .create = fs_create, .sandbox = fs_sandbox },
	{ .name = "virtio-rng", .count = rng_count, .create = rng_create },
	{ .name = "virtio-vsock",
	  .count = vsock_count,
	  .create = vsock_create,
	  .sandbox = vsock_sandbox },
};

#define VM_NR_DEVICE_KINDS (sizeof(vm_device_kinds) / sizeof(vm_device_kinds[0]))

int vm_create_devices(struct vm *vm, struct errbuf *e)
{
	const struct vm_config *cfg = vm->cfg;
	unsigned wanted = 0;
	int r;

	irq_line_init(&vm->uart_irq, vm_set_spi, vm, SPI_INTID(UART_SPI));
	vm->serial_host = console_serial_ops;
	vm->serial_host.opaque = &vm->console;
	vm->serial = serial_create(&vm->uart_irq, &vm->serial_host);
	if (!vm->serial)
		return err_set(e, -ENOMEM, "cannot create the UART");
	r = serial_attach(vm->serial, &vm->bus, UART_BASE, e);
	if (r < 0)
		return r;
	console_attach(&vm->console, vm->serial);

	for (unsigned k = 0; k < VM_NR_DEVICE_KINDS; k++)
		wanted += vm_device_kinds[k].count(cfg);
	if (wanted > VIRTIO_MMIO_SLOTS)
		return err_set(e, -EINVAL, "too many devices: %u virtio-mmio slots", VIRTIO_MMIO_SLOTS);
	for (unsigned k = 0; k < VM_NR_DEVICE_KINDS; k++) {
		const struct vm_device_kind *kind = &vm_device_kinds[k];

		for (unsigned i = 0; i < kind->count(cfg); i++) {
			unsigned slot = vm->nr_virtio;
			struct virtio_mmio *dev;

			irq_line_init(&vm->virtio_irq[slot], vm_set_spi, vm,
				      SPI_INTID(layout_virtio_spi(slot)));
			dev = kind->create(vm, i, &vm->virtio_irq[slot], e);
			if (!dev)
				return -EINVAL;
			r = vm_add_virtio(vm, dev, e);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* The base filter plus what the hypervisor backend and each configured device need. */
int vm_sandbox_rules(const struct vm *vm, struct sandbox_rules *rules, struct errbuf *e)
{
	int r = sandbox_allow_ioctls(rules, vm->caps.runtime_ioctls);

	for (unsigned k = 0; r == 0 && k < VM_NR_DEVICE_KINDS; k++) {
		const struct vm_device_kind *kind = &vm_device_kinds[k];

		for (unsigned i = 0; r == 0 && kind->sandbox && i < kind->count(vm->cfg); i++)
			r = kind->sandbox(vm->cfg, i, rules);
	}
	if (r < 0)
		return err_set(e, r, "sandbox: too many rules");
	return 0;
}

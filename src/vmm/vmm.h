/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VMM_VMM_H
#define IGNITION_VMM_VMM_H

/* State shared by vm.c (machine build, lifecycle) and vcpu.c (vCPU threads). Private to vmm/. */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "arch/aarch64/cmdline.h"
#include "arch/aarch64/layout.h"
#include "arch/aarch64/loader.h"
#include "arch/aarch64/psci.h"
#include "devices/bus.h"
#include "devices/guest_mem.h"
#include "devices/irq.h"
#include "devices/serial.h"
#include "devices/virtio/mmio.h"
#include "hv/hv.h"
#include "util/event.h"
#include "util/evloop.h"
#include "vmm/config.h"
#include "vmm/console.h"

enum vm_state {
	VM_RUNNING,
	VM_STOP_POWEROFF,
	VM_STOP_RESET,
	VM_STOP_QUIT,	/* Ctrl-A x */
	VM_STOP_SIGNAL, /* SIGTERM, SIGINT, SIGHUP */
	VM_STOP_ERROR,
};

struct vcpu {
	struct vm *vm;
	unsigned index;
	uint64_t mpidr;
	pthread_t thread;
	bool thread_started;
	struct hv_vcpu *hv;
	/* Power state for backends that leave PSCI to us; guarded by vm->lock. */
	enum psci_cpu_state power;
	uint64_t boot_pc;
	uint64_t boot_x0;
	pthread_cond_t power_cond;
};

struct vm {
	const struct vm_config *cfg;
	const struct hv_ops *hv;
	struct hv_caps caps;
	struct hv_vm *hvm;
	unsigned cpu_features; /* enum hv_cpu_feature: what --cpu chose from caps */

	struct layout layout;
	struct guest_ram ram;
	struct guest_mem gm;
	struct kernel_image kernel;
	uint64_t initrd_base;
	uint64_t initrd_size;
	char cmdline[CMDLINE_MAX];
	size_t fdt_size;

	struct bus bus;
	struct irq_line uart_irq;
	struct serial_host_ops serial_host;
	struct serial *serial;
	struct virtio_mmio *virtio[VIRTIO_MMIO_SLOTS];
	struct irq_line virtio_irq[VIRTIO_MMIO_SLOTS];
	unsigned nr_virtio;

	struct console console;
	struct psci_ctx psci;
	/* Host-side I/O of network and socket devices; created by the first device that asks. */
	struct evloop *loop;

	struct vcpu *vcpus;
	unsigned nr_vcpus;

	/*
	 * lock guards the start-up handshake, power states and the stop reason. The first stop
	 * request wins; everything after only helps it along.
	 */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned vcpus_created;
	bool go;
	atomic_int state; /* enum vm_state */
	int stop_signal;
	struct errbuf stop_err;
	struct event stop_event;
};

/* Any thread: stop the VM for `state` (first caller wins); msg only for VM_STOP_ERROR. */
void vm_request_stop(struct vm *vm, enum vm_state state, const char *msg);

static inline bool vm_stopping(struct vm *vm)
{
	return atomic_load_explicit(&vm->state, memory_order_acquire) != VM_RUNNING;
}

/* The VM's event loop, created on first use (device creation); NULL with e set on failure. */
struct evloop *vm_evloop(struct vm *vm, struct errbuf *e);

/* The UART and the virtio devices cfg asks for, in slot order (devices.c). */
int vm_create_devices(struct vm *vm, struct errbuf *e);
/* The base filter's additions: the hypervisor's runtime ioctls and each configured device's. */
struct sandbox_rules;
int vm_sandbox_rules(const struct vm *vm, struct sandbox_rules *rules, struct errbuf *e);

/* Creates every vCPU on its own thread and finalises the VM; none runs before vcpus_go(). */
int vcpus_start(struct vm *vm, struct errbuf *e);
void vcpus_go(struct vm *vm);
void vcpus_kick_all(struct vm *vm);
void vcpus_join(struct vm *vm);
extern const struct psci_host_ops vcpu_psci_ops;

#endif

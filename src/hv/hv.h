/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_HV_H
#define IGNITION_HV_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/aarch64/layout.h"
#include "util/err.h"

/*
 * The one interface between the VMM and a hypervisor. Both backends (kvm.c, hvf.c) fill it;
 * nothing above it knows which one runs. Threading: vcpu_create, vcpu_set_boot, vcpu_run and the
 * complete_* calls happen on the vCPU's own thread (HVF requires it); kick and set_spi may come
 * from any thread.
 */
struct hv_vm;
struct hv_vcpu;

/* vCPU features beyond the base architecture that a backend may give the guest. */
enum hv_cpu_feature {
	HV_CPU_PMU = 1u << 0,	/* PMUv3, its overflow interrupt a PPI */
	HV_CPU_SVE = 1u << 1,	/* SVE at the host's vector lengths */
	HV_CPU_PAUTH = 1u << 2, /* pointer authentication, address and generic keys */
};

struct hv_caps {
	struct gic_geometry gic;
	unsigned max_vcpus;
	unsigned max_ipa_bits;
	uint64_t ram_align;  /* host pages the RAM mapping must be aligned to */
	bool psci_in_kernel; /* KVM runs PSCI itself; HVF hands calls to the VMM */
	unsigned cpu_features; /* enum hv_cpu_feature: what the backend can give a guest */
	unsigned cpu_fixed;    /* of those, what it cannot hide (the guest always has them) */
	/* ioctl requests the backend issues once the VM runs (for the Linux sandbox); 0-ended */
	const unsigned long *runtime_ioctls;
};

enum hv_exit_reason {
	HV_EXIT_MMIO,	     /* complete a read with complete_mmio_read() */
	HV_EXIT_CALL,	     /* PSCI/SMCCC call in x0..x3; answer with complete_call() */
	HV_EXIT_SYSTEM_OFF,  /* the guest powered off (in-kernel PSCI) */
	HV_EXIT_SYSTEM_RESET,
	HV_EXIT_CANCELED,    /* kicked: look at the VM's state, then run again */
};

struct hv_exit {
	enum hv_exit_reason reason;
	union {
		struct {
			uint64_t addr;
			uint64_t data; /* for writes */
			unsigned width;
			bool write;
		} mmio;
		struct {
			uint64_t fn;
			uint64_t args[3];
		} call;
	};
};

struct hv_vm_params {
	unsigned nr_vcpus;
	unsigned ipa_bits;
	unsigned cpu_features; /* chosen from caps.cpu_features; every vCPU gets these */
	uint32_t pmu_intid;    /* absolute INTID of the PMU's PPI, with HV_CPU_PMU */
};

struct hv_ops {
	const char *name;
	/* What this host offers; no VM exists yet (the layout is computed from the answer). */
	int (*probe)(struct hv_caps *caps, struct errbuf *e);
	int (*vm_create)(const struct hv_vm_params *p, struct hv_vm **vm, struct errbuf *e);
	/* host must come from mmap and be aligned to caps.ram_align */
	int (*map_ram)(struct hv_vm *vm, uint64_t gpa, void *host, uint64_t size, struct errbuf *e);
	/* Before any vCPU exists. */
	int (*gic_create)(struct hv_vm *vm, const struct layout *l, struct errbuf *e);
	/* On the thread that will run it. The boot vCPU is index 0; the others start powered off. */
	int (*vcpu_create)(struct hv_vm *vm, unsigned index, uint64_t mpidr, struct hv_vcpu **vcpu,
			   struct errbuf *e);
	/*
	 * After every vCPU exists, before any runs (KVM: vGIC CTRL_INIT, then each vCPU's PMU,
	 * which needs the initialised vGIC). May be NULL.
	 */
	int (*vm_finalize)(struct hv_vm *vm, struct errbuf *e);
	/* Power on at pc with x0 (boot CPU: kernel entry and DTB; CPU_ON: entry and context id). */
	int (*vcpu_set_boot)(struct hv_vcpu *vcpu, uint64_t pc, uint64_t x0, struct errbuf *e);
	/*
	 * Runs until an exit the VMM must see. Returns 0 with *exit filled, or a negative errno with
	 * a message (the VM then stops with that error).
	 */
	int (*vcpu_run)(struct hv_vcpu *vcpu, struct hv_exit *exit, struct errbuf *e);
	void (*complete_mmio_read)(struct hv_vcpu *vcpu, uint64_t data);
	void (*complete_call)(struct hv_vcpu *vcpu, uint64_t x0);
	/*
	 * Optional (NULL when unsupported): a 32-bit guest write of `value` to `addr` signals the
	 * eventfd `fd` inside the hypervisor instead of exiting to the VMM (KVM ioeventfd).
	 */
	int (*add_notify_fd)(struct hv_vm *vm, uint64_t addr, uint32_t value, int fd,
			     struct errbuf *e);
	/* Absolute INTID (SPI n = 32 + n); level-sensitive. Any thread. */
	void (*set_spi)(struct hv_vm *vm, uint32_t intid, bool level);
	/*
	 * Optional: where the vCPU is (PC and PSTATE), on its own thread, for the log line of a VM
	 * stopped from outside (a hung guest says where it hung).
	 */
	int (*vcpu_get_pc)(struct hv_vcpu *vcpu, uint64_t *pc, uint64_t *pstate);
	/* Makes vcpu_run return HV_EXIT_CANCELED soon, wherever the vCPU is. Any thread. */
	void (*kick)(struct hv_vcpu *vcpu);
	void (*vcpu_destroy)(struct hv_vcpu *vcpu);
	void (*vm_destroy)(struct hv_vm *vm);
};

extern const struct hv_ops hv_kvm_ops;
extern const struct hv_ops hv_hvf_ops;
/* Runs nothing: every vCPU powers off at its first run. For --dump-dtb and set-up measurements. */
extern const struct hv_ops hv_null_ops;

/* The backend for this host (KVM on Linux/arm64, HVF on macOS/arm64), or NULL. */
const struct hv_ops *hv_default(void);
/* By name ("kvm", "hvf", "null"), for tests and --backend; NULL when not built in. */
const struct hv_ops *hv_find(const char *name);

#endif

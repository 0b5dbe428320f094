/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_HV_HVF_H
#define IGNITION_HV_HVF_H

/*
 * Private to the Hypervisor.framework backend: hvf.c (VM and vCPU life cycle), hvf_gic.c (the
 * in-kernel GIC) and hvf_run.c (the run loop: exits, parking on WFI, completions). See hvf.c for the rules HVF imposes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <Hypervisor/Hypervisor.h>
#include <mach/mach_time.h>

#include "arch/aarch64/esr.h"
#include "hv/hv.h"
#include "util/compiler.h"
#include "util/err.h"

#define HVF_PAGE     SZ_16K
#define HVF_MAX_MAPS 8
/* EL1 system registers a powered-on CPU starts with (see hvf_fresh_regs in hvf.c). */
#define HVF_FRESH_SYSREGS 25

struct hvf_map {
	uint64_t gpa;
	uint64_t size;
};

struct hv_vm {
	unsigned nr_vcpus;
	bool gic;
	uint64_t gicr_base;
	uint64_t gicr_size; /* the frames the DTB names */
	uint64_t gicr_reserved; /* HVF's whole region */
	/* Guest faults turned into exceptions so far, for a bounded log. */
	atomic_uint faults;
	/* One guest counter for every vCPU: Linux wants CNTVOFF equal on all CPUs. */
	uint64_t vtimer_offset;
	mach_timebase_info_data_t timebase;
	struct hvf_map maps[HVF_MAX_MAPS];
	unsigned nr_maps;
	/* Guards vcpus[] and vcpus_created: set_spi walks them from device threads. */
	pthread_mutex_t lock;
	struct hv_vcpu *vcpus[MAX_VCPUS];
	unsigned vcpus_created;
};

struct hv_vcpu {
	struct hv_vm *vm;
	unsigned index;
	hv_vcpu_t id;
	hv_vcpu_exit_t *exit;
	pthread_t owner;
	/* The EL1 state HVF gave the new vCPU: what every power-on starts from. */
	uint64_t fresh_sys[HVF_FRESH_SYSREGS];
	uint32_t fresh_valid; /* bit i: fresh_sys[i] was read */
	uint64_t fresh_fpcr, fresh_fpsr;
	bool vtimer_masked;
	/* An MMIO load handed to the VMM, finished by complete_mmio_read(). */
	bool mmio_read_pending;
	struct esr_dabt mmio;
	uint64_t mmio_next_pc;
	/* Wake-ups from any thread: kick() and set_spi() knock on the pipe while we are parked. */
	atomic_bool kicked;
	atomic_bool woken;
	atomic_bool parked;
	int wake[2];
	/* SGIs/PPIs pending at the last WFI (hvf_sleep wakes on new ones only). */
	uint64_t sgi_seen;
};

const char *hvf_strerror(hv_return_t r);
/* err_set() with the failed call's name and HVF's code, as a negative errno. */
int hvf_fail(struct errbuf *e, hv_return_t r, const char *what);
/* False (and logged) when the calling thread is not the one that created the vCPU. */
bool hvf_owner(const struct hv_vcpu *v, const char *op);

/* hvf_gic.c: the in-kernel GIC; callers check __builtin_available(macOS 15, *) first. */
API_AVAILABLE(macos(15.0))
int hvf_probe_gic(struct hv_caps *caps, struct errbuf *e);
API_AVAILABLE(macos(15.0))
int hvf_gic_setup(struct hv_vm *vm, const struct layout *l, struct errbuf *e);
API_AVAILABLE(macos(15.0))
int hvf_check_redistributor(struct hv_vcpu *v, uint64_t mpidr, struct errbuf *e);

int hvf_vcpu_run(struct hv_vcpu *v, struct hv_exit *exit, struct errbuf *e);
void hvf_complete_mmio_read(struct hv_vcpu *v, uint64_t data);
void hvf_complete_call(struct hv_vcpu *v, uint64_t x0);
void hvf_kick(struct hv_vcpu *v);
/* Ends the park of a vCPU sitting in WFI; it notices v->woken or v->kicked set before. */
void hvf_wake(struct hv_vcpu *v);

#endif

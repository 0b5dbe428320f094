// SPDX-License-Identifier: MIT
/*
 * vCPU threads: one host thread per vCPU creates it (HVF insists on that), waits for the whole
 * machine, then runs it, turning each normalised exit into a bus access, a firmware call or a
 * stop. Nothing here knows which hypervisor is underneath.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/thread.h"
#include "vmm/vmm.h"

static enum psci_cpu_state vcpu_power_state(void *opaque, unsigned index)
{
	struct vm *vm = opaque;
	enum psci_cpu_state state;

	pthread_mutex_lock(&vm->lock);
	state = vm->vcpus[index].power;
	pthread_mutex_unlock(&vm->lock);
	return state;
}

static int vcpu_power_on(void *opaque, unsigned index, uint64_t entry, uint64_t context_id)
{
	struct vm *vm = opaque;
	struct vcpu *v = &vm->vcpus[index];
	int ret = PSCI_RET_SUCCESS;

	pthread_mutex_lock(&vm->lock);
	if (v->power == PSCI_CPU_ON_STATE) {
		ret = PSCI_RET_ALREADY_ON;
	} else if (v->power == PSCI_CPU_ON_PENDING_STATE) {
		ret = PSCI_RET_ON_PENDING;
	} else {
		v->power = PSCI_CPU_ON_PENDING_STATE;
		v->boot_pc = entry;
		v->boot_x0 = context_id;
		pthread_cond_signal(&v->power_cond);
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

const struct psci_host_ops vcpu_psci_ops = {
	.cpu_state = vcpu_power_state,
	.cpu_on = vcpu_power_on,
};

/* A powered-off vCPU waits here for a CPU_ON naming it; false when the VM stops instead. */
static bool vcpu_wait_power_on(struct vcpu *v, uint64_t *pc, uint64_t *x0)
{
	struct vm *vm = v->vm;
	bool on;

	pthread_mutex_lock(&vm->lock);
	while (v->power != PSCI_CPU_ON_PENDING_STATE && !vm_stopping(vm))
		pthread_cond_wait(&v->power_cond, &vm->lock);
	on = !vm_stopping(vm);
	if (on) {
		v->power = PSCI_CPU_ON_STATE;
		*pc = v->boot_pc;
		*x0 = v->boot_x0;
	}
	pthread_mutex_unlock(&vm->lock);
	return on;
}

static void vcpu_fail(struct vcpu *v, const struct errbuf *err)
{
	vm_request_stop(v->vm, VM_STOP_ERROR, err->msg);
}

static int vcpu_power_up(struct vcpu *v, uint64_t pc, uint64_t x0)
{
	struct errbuf err;
	int r = v->vm->hv->vcpu_set_boot(v->hv, pc, x0, &err);

	if (r < 0)
		vcpu_fail(v, &err);
	return r;
}

static void vcpu_handle_call(struct vcpu *v, const struct hv_exit *exit)
{
	struct vm *vm = v->vm;
	struct psci_result res;
	uint64_t pc, x0;

	psci_handle(&vm->psci, exit->call.fn, exit->call.args[0], exit->call.args[1],
		    exit->call.args[2], &res);
	vm->hv->complete_call(v->hv, res.x0);

	switch (res.action) {
	case PSCI_ACTION_NONE:
	case PSCI_ACTION_CPU_SUSPEND: /* returning at once is a valid standby */
		break;
	case PSCI_ACTION_CPU_OFF:
		pthread_mutex_lock(&vm->lock);
		v->power = PSCI_CPU_OFF_STATE;
		pthread_mutex_unlock(&vm->lock);
		if (vcpu_wait_power_on(v, &pc, &x0))
			vcpu_power_up(v, pc, x0);
		break;
	case PSCI_ACTION_SYSTEM_OFF:
		vm_request_stop(vm, VM_STOP_POWEROFF, NULL);
		break;
	case PSCI_ACTION_SYSTEM_RESET:
		vm_request_stop(vm, VM_STOP_RESET, NULL);
		break;
	}
}

static void vcpu_run_loop(struct vcpu *v)
{
	struct vm *vm = v->vm;
	const struct hv_ops *hv = vm->hv;
	struct hv_exit exit;
	struct errbuf err;

	while (!vm_stopping(vm)) {
		if (hv->vcpu_run(v->hv, &exit, &err) < 0) {
			vcpu_fail(v, &err);
			return;
		}
		switch (exit.reason) {
		case HV_EXIT_MMIO:
			if (exit.mmio.write)
				bus_write(&vm->bus, exit.mmio.addr, exit.mmio.width, exit.mmio.data);
			else
				hv->complete_mmio_read(v->hv, bus_read(&vm->bus, exit.mmio.addr,
								       exit.mmio.width));
			break;
		case HV_EXIT_CALL:
			vcpu_handle_call(v, &exit);
			break;
		case HV_EXIT_SYSTEM_OFF:
			vm_request_stop(vm, VM_STOP_POWEROFF, NULL);
			break;
		case HV_EXIT_SYSTEM_RESET:
			vm_request_stop(vm, VM_STOP_RESET, NULL);
			break;
		case HV_EXIT_CANCELED:
			break;
		}
	}
}

/*
 * A VM stopped by a signal (a user's Ctrl-C, a test's timeout) may have hung: one line per vCPU
 * says where it was, which with the guest's System.map names the function it hung in.
 */
static void vcpu_log_where(struct vcpu *v)
{
	uint64_t pc, pstate;

	if (atomic_load(&v->vm->state) != VM_STOP_SIGNAL || !v->vm->hv->vcpu_get_pc)
		return;
	if (v->vm->hv->vcpu_get_pc(v->hv, &pc, &pstate) == 0)
		pr_info("vCPU %u stopped at pc %#llx, pstate %#llx", v->index,
			(unsigned long long)pc, (unsigned long long)pstate);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	struct hv_vcpu *hv_vcpu = NULL;
	struct errbuf err;
	uint64_t pc, x0;
	int r;

	/*
	 * vCPUs are created one at a time, in index order, each on its own thread. Creating them
	 * concurrently let Linux 6.1's KVM lose the guest's virtual-timer interrupt for good in
	 * about half of the two-vCPU boots measured in the rig (both vCPUs then sit in WFI with
	 * an expired timer); QEMU and kvmtool create vCPUs in sequence too.
	 */
	pthread_mutex_lock(&vm->lock);
	while (vm->vcpus_created < v->index && !vm_stopping(vm))
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	if (vm_stopping(vm))
		r = err_set(&err, -ECANCELED, "start-up cancelled");
	else
		r = vm->hv->vcpu_create(vm->hvm, v->index, v->mpidr, &hv_vcpu, &err);
	pthread_mutex_lock(&vm->lock);
	v->hv = hv_vcpu;
	vm->vcpus_created++;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	if (r < 0) {
		vcpu_fail(v, &err);
		return NULL;
	}

	pthread_mutex_lock(&vm->lock);
	while (!vm->go && !vm_stopping(vm))
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);

	if (vm_stopping(vm))
		goto out;
	if (v->index == 0) {
		if (vcpu_power_up(v, vm->kernel.entry, vm->layout.fdt_base) < 0)
			goto out;
	} else if (!vm->caps.psci_in_kernel) {
		if (!vcpu_wait_power_on(v, &pc, &x0) || vcpu_power_up(v, pc, x0) < 0)
			goto out;
	}
	/* With in-kernel PSCI, secondaries sit powered off inside the hypervisor until CPU_ON. */
	vcpu_run_loop(v);
	vcpu_log_where(v);
out:
	pthread_mutex_lock(&vm->lock);
	v->hv = NULL;
	pthread_mutex_unlock(&vm->lock);
	if (hv_vcpu)
		vm->hv->vcpu_destroy(hv_vcpu);
	return NULL;
}

void vcpus_kick_all(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].hv)
			vm->hv->kick(vm->vcpus[i].hv);
		pthread_cond_broadcast(&vm->vcpus[i].power_cond);
	}
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

int vcpus_start(struct vm *vm, struct errbuf *e)
{
	sigset_t block, old;
	int r = 0;

	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return err_set(e, -ENOMEM, "out of memory for %u vCPUs", vm->nr_vcpus);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->vm = vm;
		v->index = i;
		v->mpidr = mpidr_for_vcpu(i);
		v->power = i == 0 ? PSCI_CPU_ON_STATE : PSCI_CPU_OFF_STATE;
		pthread_cond_init(&v->power_cond, NULL);
	}

	/* Stop signals belong to the main thread's loop, not to vCPUs in the middle of a run. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		r = -thread_create(&vm->vcpus[i].thread, vcpu_thread, &vm->vcpus[i]);
		if (r < 0) {
			vm_request_stop(vm, VM_STOP_ERROR, "cannot create a vCPU thread");
			break;
		}
		vm->vcpus[i].thread_started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	/* Every vCPU exists before the GIC is finalised and before any of them runs. */
	pthread_mutex_lock(&vm->lock);
	while (r == 0 && vm->vcpus_created < vm->nr_vcpus && !vm_stopping(vm))
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	if (vm_stopping(vm))
		return err_set(e, -EIO, "%s", vm->stop_err.msg);

	if (vm->hv->vm_finalize) {
		r = vm->hv->vm_finalize(vm->hvm, e);
		if (r < 0) {
			vm_request_stop(vm, VM_STOP_ERROR, e->msg);
			return r;
		}
	}
	return 0;
}

void vcpus_go(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->go = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

void vcpus_join(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].thread_started)
			pthread_join(vm->vcpus[i].thread, NULL);
}

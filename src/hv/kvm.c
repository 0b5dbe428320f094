// SPDX-License-Identifier: MIT
/*
 * KVM on arm64 Linux: in-kernel vGICv3 and in-kernel PSCI, so the VMM sees only MMIO, system
 * events and cancellations. Facts verified in the rig (docs/rig.md): include <stddef.h> before
 * <linux/kvm.h>; VM type 0 is a 40-bit IPA; CTRL_INIT after every vCPU exists.
 */
#include <stddef.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/hv.h"
#include "util/log.h"

#define KVM_DEV_PATH "/dev/kvm"
/* Kicks interrupt KVM_RUN with a signal whose handler does nothing. */
#define KVM_KICK_SIGNAL SIGUSR1

#define CORE_REG(x) \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(x))
#define SYS_REG_MPIDR_EL1 ARM64_SYS_REG(3, 0, 0, 0, 5)

struct hv_vm {
	int kvm_fd;
	int vm_fd;
	int gic_fd;
	int run_size;
	struct kvm_vcpu_init init;
	bool init_known;
	unsigned cpu_features; /* enum hv_cpu_feature, the same for every vCPU */
	uint32_t pmu_intid;
	unsigned nr_vcpus;
	struct hv_vcpu **vcpus; /* by index, for vm_finalize's per-vCPU PMU set-up; under lock */
	pthread_mutex_t lock;
};

struct hv_vcpu {
	struct hv_vm *vm;
	int fd;
	unsigned index;
	struct kvm_run *run;
	pthread_t thread;
};

static int kvm_open(struct errbuf *e)
{
	int fd = open(KVM_DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return err_set(e, -ENOENT, KVM_DEV_PATH " not found: is KVM enabled in this kernel "
			       "(and is this an arm64 host)?");
	if (errno == EACCES || errno == EPERM)
		return err_set(e, -errno, "no permission to open " KVM_DEV_PATH
			       " (add yourself to the 'kvm' group)");
	return err_set(e, -errno, "cannot open " KVM_DEV_PATH ": %s", strerror(errno));
}

static int kvm_check(int kvm_fd, long cap)
{
	int r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

/* What a running VM asks of KVM: the sandbox allows these ioctls and no others. */
static const unsigned long kvm_runtime_ioctls[] = {
	KVM_RUN, KVM_IRQ_LINE, KVM_SET_ONE_REG, KVM_GET_ONE_REG, KVM_SET_VCPU_EVENTS, 0,
};

/* Pointer authentication comes as both key kinds or none: KVM refuses one without the other. */
static unsigned kvm_probe_cpu_features(int fd)
{
	unsigned f = 0;

	if (kvm_check(fd, KVM_CAP_ARM_PMU_V3))
		f |= HV_CPU_PMU;
	if (kvm_check(fd, KVM_CAP_ARM_SVE))
		f |= HV_CPU_SVE;
	if (kvm_check(fd, KVM_CAP_ARM_PTRAUTH_ADDRESS) &&
	    kvm_check(fd, KVM_CAP_ARM_PTRAUTH_GENERIC))
		f |= HV_CPU_PAUTH;
	return f;
}

static int kvm_probe(struct hv_caps *caps, struct errbuf *e)
{
	int fd = kvm_open(e), version, max_vcpus, ipa;
	unsigned features;

	if (fd < 0)
		return fd;
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		close(fd);
		return err_set(e, -EINVAL, "KVM API version %d, ignition needs %d", version,
			       KVM_API_VERSION);
	}
	if (!kvm_check(fd, KVM_CAP_ARM_PSCI_0_2) || !kvm_check(fd, KVM_CAP_IRQCHIP)) {
		close(fd);
		return err_set(e, -ENOTSUP, "this KVM lacks %s",
			       kvm_check(fd, KVM_CAP_IRQCHIP) ? "KVM_CAP_ARM_PSCI_0_2"
							      : "KVM_CAP_IRQCHIP");
	}
	max_vcpus = kvm_check(fd, KVM_CAP_MAX_VCPUS);
	if (!max_vcpus)
		max_vcpus = kvm_check(fd, KVM_CAP_NR_VCPUS);
	ipa = kvm_check(fd, KVM_CAP_ARM_VM_IPA_SIZE);
	features = kvm_probe_cpu_features(fd);
	close(fd);

	*caps = (struct hv_caps){
		.gic = {
			.dist_size = KVM_VGIC_V3_DIST_SIZE,
			.redist_size_per_cpu = KVM_VGIC_V3_REDIST_SIZE,
			.dist_align = 0x10000,
			.redist_align = 0x10000,
		},
		.max_vcpus = max_vcpus > 0 ? (unsigned)max_vcpus : 1,
		.max_ipa_bits = ipa > 0 ? (unsigned)ipa : 40,
		.ram_align = (uint64_t)sysconf(_SC_PAGESIZE),
		.psci_in_kernel = true,
		/* KVM hides from a vCPU's ID registers every feature it was not created with. */
		.cpu_features = features,
		.runtime_ioctls = kvm_runtime_ioctls,
	};
	return 0;
}

static void kvm_kick_handler(int sig)
{
}

/*
 * A guest load or store that the CPU cannot describe in a syndrome (LDP/STP, writeback
 * addressing, ...) outside RAM makes KVM_RUN fail with ENOSYS, which would stop the VM with an
 * error: any guest could end itself that way. Asked to, KVM hands such an access to us instead,
 * and we answer as a bus would, with an external abort in the guest (what QEMU does too).
 * Kernels before 5.5 lack the capabilities and keep the old behaviour.
 */
static void kvm_enable_nisv_exits(struct hv_vm *vm)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_ARM_NISV_TO_USER };

	if (!kvm_check(vm->kvm_fd, KVM_CAP_ARM_NISV_TO_USER) ||
	    !kvm_check(vm->kvm_fd, KVM_CAP_ARM_INJECT_EXT_DABT))
		return;
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		pr_warn("KVM_CAP_ARM_NISV_TO_USER: %s; such accesses will stop the VM",
			strerror(errno));
}

static int kvm_vm_create(const struct hv_vm_params *p, struct hv_vm **out, struct errbuf *e)
{
	struct sigaction sa = { .sa_handler = kvm_kick_handler };
	struct hv_vm *vm;
	unsigned long type = 0;

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return err_set(e, -ENOMEM, "out of memory");
	vm->kvm_fd = vm->vm_fd = vm->gic_fd = -1;
	vm->cpu_features = p->cpu_features;
	vm->pmu_intid = p->pmu_intid;
	vm->nr_vcpus = p->nr_vcpus;
	vm->vcpus = calloc(p->nr_vcpus ? p->nr_vcpus : 1, sizeof(*vm->vcpus));
	pthread_mutex_init(&vm->lock, NULL);
	if (!vm->vcpus) {
		err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	vm->kvm_fd = kvm_open(e);
	if (vm->kvm_fd < 0)
		goto fail;
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0) {
		err_set(e, -errno, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		goto fail;
	}
	/* Type 0 means 40 bits; ask for more only when RAM reaches beyond. */
	if (p->ipa_bits > 40)
		type = KVM_VM_TYPE_ARM_IPA_SIZE(p->ipa_bits);
	do {
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, type);
	} while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		err_set(e, -errno, "KVM_CREATE_VM: %s", strerror(errno));
		goto fail;
	}
	kvm_enable_nisv_exits(vm);
	sigemptyset(&sa.sa_mask);
	sigaction(KVM_KICK_SIGNAL, &sa, NULL);
	*out = vm;
	return 0;
fail:
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	free(vm->vcpus);
	free(vm);
	return -EIO;
}

static int kvm_map_ram(struct hv_vm *vm, uint64_t gpa, void *host, uint64_t size,
		       struct errbuf *e)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return err_set(e, -errno, "KVM_SET_USER_MEMORY_REGION (%llu MiB at %#llx): %s",
			       (unsigned long long)(size >> 20), (unsigned long long)gpa,
			       strerror(errno));
	return 0;
}

static int kvm_gic_set_addr(struct hv_vm *vm, uint64_t type, uint64_t addr, struct errbuf *e)
{
	struct kvm_device_attr attr = {
		.group = KVM_DEV_ARM_VGIC_GRP_ADDR,
		.attr = type,
		.addr = (uint64_t)(uintptr_t)&addr,
	};

	if (ioctl(vm->gic_fd, KVM_SET_DEVICE_ATTR, &attr) < 0)
		return err_set(e, -errno, "vGICv3 %s address %#llx: %s",
			       type == KVM_VGIC_V3_ADDR_TYPE_DIST ? "distributor" : "redistributor",
			       (unsigned long long)addr, strerror(errno));
	return 0;
}

static int kvm_gic_create(struct hv_vm *vm, const struct layout *l, struct errbuf *e)
{
	struct kvm_create_device dev = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
	int r;

	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0)
		return err_set(e, -errno, "cannot create the in-kernel vGICv3: %s (a GICv3 host "
			       "is required)", strerror(errno));
	vm->gic_fd = (int)dev.fd;
	r = kvm_gic_set_addr(vm, KVM_VGIC_V3_ADDR_TYPE_DIST, l->gicd_base, e);
	if (r == 0)
		r = kvm_gic_set_addr(vm, KVM_VGIC_V3_ADDR_TYPE_REDIST, l->gicr_base, e);
	return r;
}

static int kvm_set_one_reg(struct hv_vcpu *v, uint64_t id, uint64_t value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)&value };

	return ioctl(v->fd, KVM_SET_ONE_REG, &reg) < 0 ? -errno : 0;
}

static int kvm_get_one_reg(struct hv_vcpu *v, uint64_t id, uint64_t *value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)value };

	return ioctl(v->fd, KVM_GET_ONE_REG, &reg) < 0 ? -errno : 0;
}

/*
 * SVE's vector lengths are fixed by finalising the vCPU, which must happen before its first run
 * and before any SVE register is touched; KVM's default set (all the host has) is what we want.
 */
static int kvm_vcpu_finalize_sve(struct hv_vcpu *v, struct errbuf *e)
{
	int what = KVM_ARM_VCPU_SVE;

	if (!(v->vm->cpu_features & HV_CPU_SVE))
		return 0;
	if (ioctl(v->fd, KVM_ARM_VCPU_FINALIZE, &what) < 0)
		return err_set(e, -errno, "KVM_ARM_VCPU_FINALIZE(SVE) (vCPU %u): %s", v->index,
			       strerror(errno));
	return 0;
}

static int kvm_vcpu_init(struct hv_vcpu *v, struct errbuf *e)
{
	struct hv_vm *vm = v->vm;
	struct kvm_vcpu_init init;

	pthread_mutex_lock(&vm->lock);
	if (!vm->init_known) {
		if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &vm->init) < 0) {
			pthread_mutex_unlock(&vm->lock);
			return err_set(e, -errno, "KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
		}
		vm->init_known = true;
	}
	init = vm->init;
	pthread_mutex_unlock(&vm->lock);

	memset(init.features, 0, sizeof(init.features));
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	/* Secondaries wait inside KVM until the guest's PSCI CPU_ON. */
	if (v->index > 0)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (vm->cpu_features & HV_CPU_PMU)
		init.features[0] |= 1u << KVM_ARM_VCPU_PMU_V3;
	if (vm->cpu_features & HV_CPU_SVE)
		init.features[0] |= 1u << KVM_ARM_VCPU_SVE;
	if (vm->cpu_features & HV_CPU_PAUTH)
		init.features[0] |= 1u << KVM_ARM_VCPU_PTRAUTH_ADDRESS |
				    1u << KVM_ARM_VCPU_PTRAUTH_GENERIC;
	if (ioctl(v->fd, KVM_ARM_VCPU_INIT, &init) < 0)
		return err_set(e, -errno, "KVM_ARM_VCPU_INIT (vCPU %u, features %#x): %s", v->index,
			       init.features[0], strerror(errno));
	return kvm_vcpu_finalize_sve(v, e);
}

static int kvm_vcpu_create(struct hv_vm *vm, unsigned index, uint64_t mpidr,
			   struct hv_vcpu **out, struct errbuf *e)
{
	struct hv_vcpu *v = calloc(1, sizeof(*v));
	uint64_t actual;
	sigset_t kick;
	int r;

	if (!v)
		return err_set(e, -ENOMEM, "out of memory");
	v->vm = vm;
	v->index = index;
	v->thread = pthread_self();
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0) {
		r = err_set(e, -errno, "KVM_CREATE_VCPU %u: %s", index, strerror(errno));
		free(v);
		return r;
	}
	r = kvm_vcpu_init(v, e);
	if (r < 0)
		goto fail;
	v->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		r = err_set(e, -errno, "mmap of vCPU %u's kvm_run: %s", index, strerror(errno));
		goto fail;
	}
	/* The device tree names CPUs by the MPIDR KVM gives them; they must agree. */
	if (kvm_get_one_reg(v, SYS_REG_MPIDR_EL1, &actual) == 0 &&
	    (actual & 0xff00ffffffULL) != mpidr)
		pr_warn("vCPU %u: KVM set MPIDR %#llx, the device tree says %#llx", index,
			(unsigned long long)actual, (unsigned long long)mpidr);
	sigemptyset(&kick);
	sigaddset(&kick, KVM_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	pthread_mutex_lock(&vm->lock);
	if (index < vm->nr_vcpus)
		vm->vcpus[index] = v;
	pthread_mutex_unlock(&vm->lock);
	*out = v;
	return 0;
fail:
	close(v->fd);
	free(v);
	return r;
}

static int kvm_pmu_attr(struct hv_vcpu *v, uint64_t what, const int *value, struct errbuf *e)
{
	struct kvm_device_attr attr = {
		.group = KVM_ARM_VCPU_PMU_V3_CTRL,
		.attr = what,
		.addr = (uint64_t)(uintptr_t)value,
	};

	if (ioctl(v->fd, KVM_SET_DEVICE_ATTR, &attr) < 0)
		return err_set(e, -errno, "vCPU %u: PMU %s: %s", v->index,
			       what == KVM_ARM_VCPU_PMU_V3_IRQ ? "interrupt" : "init",
			       strerror(errno));
	return 0;
}

/*
 * Each vCPU's PMU gets its overflow PPI, then is initialised, which KVM allows only once the
 * vGIC is (and requires before the vCPU's first run: KVM_RUN fails otherwise).
 */
static int kvm_vm_init_pmus(struct hv_vm *vm, struct errbuf *e)
{
	int irq = (int)vm->pmu_intid, r = 0;

	if (!(vm->cpu_features & HV_CPU_PMU))
		return 0;
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; r == 0 && i < vm->nr_vcpus; i++) {
		if (!vm->vcpus[i])
			r = err_set(e, -EINVAL, "vCPU %u: PMU set-up before the vCPU exists", i);
		if (r == 0)
			r = kvm_pmu_attr(vm->vcpus[i], KVM_ARM_VCPU_PMU_V3_IRQ, &irq, e);
		if (r == 0)
			r = kvm_pmu_attr(vm->vcpus[i], KVM_ARM_VCPU_PMU_V3_INIT, NULL, e);
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

static int kvm_vm_finalize(struct hv_vm *vm, struct errbuf *e)
{
	struct kvm_device_attr attr = {
		.group = KVM_DEV_ARM_VGIC_GRP_CTRL,
		.attr = KVM_DEV_ARM_VGIC_CTRL_INIT,
	};

	if (ioctl(vm->gic_fd, KVM_SET_DEVICE_ATTR, &attr) < 0)
		return err_set(e, -errno, "vGICv3 CTRL_INIT: %s", strerror(errno));
	return kvm_vm_init_pmus(vm, e);
}

static int kvm_vcpu_set_boot(struct hv_vcpu *v, uint64_t pc, uint64_t x0, struct errbuf *e)
{
	int r = kvm_set_one_reg(v, CORE_REG(regs.pc), pc);

	if (r == 0)
		r = kvm_set_one_reg(v, CORE_REG(regs.regs[0]), x0);
	if (r < 0)
		return err_set(e, r, "vCPU %u: cannot set boot registers: %s", v->index,
			       strerror(-r));
	return 0;
}

/* See kvm_enable_nisv_exits(): the access becomes an external abort at its instruction. */
static int kvm_inject_ext_dabt(struct hv_vcpu *v, struct hv_exit *exit, struct errbuf *e)
{
	struct kvm_vcpu_events ev;

	pr_warn_once("vCPU %u: undecodable guest access at %#llx: external abort injected",
		     v->index, (unsigned long long)v->run->arm_nisv.fault_ipa);
	memset(&ev, 0, sizeof(ev));
	ev.exception.ext_dabt_pending = 1;
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return err_set(e, -errno, "vCPU %u: KVM_SET_VCPU_EVENTS: %s", v->index,
			       strerror(errno));
	exit->reason = HV_EXIT_CANCELED;
	return 0;
}

static int kvm_vcpu_run(struct hv_vcpu *v, struct hv_exit *exit, struct errbuf *e)
{
	struct kvm_run *run = v->run;

	if (ioctl(v->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR || errno == EAGAIN) {
			__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_RELAXED);
			exit->reason = HV_EXIT_CANCELED;
			return 0;
		}
		return err_set(e, -errno, "KVM_RUN (vCPU %u): %s", v->index, strerror(errno));
	}
	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		exit->reason = HV_EXIT_MMIO;
		exit->mmio.addr = run->mmio.phys_addr;
		exit->mmio.width = run->mmio.len;
		exit->mmio.write = run->mmio.is_write;
		exit->mmio.data = 0;
		if (run->mmio.is_write && run->mmio.len <= sizeof(exit->mmio.data))
			memcpy(&exit->mmio.data, run->mmio.data, run->mmio.len);
		return 0;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			exit->reason = HV_EXIT_SYSTEM_OFF;
			return 0;
		case KVM_SYSTEM_EVENT_RESET:
			exit->reason = HV_EXIT_SYSTEM_RESET;
			return 0;
		default:
			return err_set(e, -EIO, "vCPU %u: guest system event %u (crash?)",
				       v->index, run->system_event.type);
		}
	case KVM_EXIT_INTR:
		exit->reason = HV_EXIT_CANCELED;
		return 0;
	case KVM_EXIT_ARM_NISV:
		return kvm_inject_ext_dabt(v, exit, e);
	case KVM_EXIT_FAIL_ENTRY:
		return err_set(e, -EIO, "vCPU %u: KVM entry failed, reason %#llx", v->index,
			       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	case KVM_EXIT_INTERNAL_ERROR:
		return err_set(e, -EIO, "vCPU %u: KVM internal error %u", v->index,
			       run->internal.suberror);
	default:
		return err_set(e, -EIO, "vCPU %u: unexpected KVM exit %u", v->index,
			       run->exit_reason);
	}
}

static void kvm_complete_mmio_read(struct hv_vcpu *v, uint64_t data)
{
	struct kvm_run *run = v->run;

	/* KVM writes the register and steps PC at the next KVM_RUN. */
	if (run->mmio.len <= sizeof(data))
		memcpy(run->mmio.data, &data, run->mmio.len);
}

static void kvm_complete_call(struct hv_vcpu *v, uint64_t x0)
{
	/* PSCI is in the kernel: firmware calls never reach us. */
}

static int kvm_add_notify_fd(struct hv_vm *vm, uint64_t addr, uint32_t value, int fd,
			     struct errbuf *e)
{
	struct kvm_ioeventfd io = {
		.datamatch = value,
		.addr = addr,
		.len = 4,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return err_set(e, -errno, "KVM_IOEVENTFD at %#llx: %s", (unsigned long long)addr,
			       strerror(errno));
	return 0;
}

static int kvm_vcpu_get_pc(struct hv_vcpu *v, uint64_t *pc, uint64_t *pstate)
{
	int r = kvm_get_one_reg(v, CORE_REG(regs.pc), pc);

	return r < 0 ? r : kvm_get_one_reg(v, CORE_REG(regs.pstate), pstate);
}

static void kvm_set_spi(struct hv_vm *vm, uint32_t intid, bool level)
{
	struct kvm_irq_level irq = {
		.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | intid,
		.level = level,
	};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		pr_warn_once("KVM_IRQ_LINE intid %u: %s", intid, strerror(errno));
}

static void kvm_kick(struct hv_vcpu *v)
{
	/* immediate_exit covers a kick that lands just before KVM_RUN is entered. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, KVM_KICK_SIGNAL);
}

static void kvm_vcpu_destroy(struct hv_vcpu *v)
{
	struct hv_vm *vm = v->vm;

	pthread_mutex_lock(&vm->lock);
	if (v->index < vm->nr_vcpus && vm->vcpus[v->index] == v)
		vm->vcpus[v->index] = NULL;
	pthread_mutex_unlock(&vm->lock);
	munmap(v->run, (size_t)v->vm->run_size);
	close(v->fd);
	free(v);
}

static void kvm_vm_destroy(struct hv_vm *vm)
{
	if (vm->gic_fd >= 0)
		close(vm->gic_fd);
	close(vm->vm_fd);
	close(vm->kvm_fd);
	pthread_mutex_destroy(&vm->lock);
	free(vm->vcpus);
	free(vm);
}

const struct hv_ops hv_kvm_ops = {
	.name = "kvm",
	.probe = kvm_probe,
	.vm_create = kvm_vm_create,
	.map_ram = kvm_map_ram,
	.gic_create = kvm_gic_create,
	.vcpu_create = kvm_vcpu_create,
	.vm_finalize = kvm_vm_finalize,
	.vcpu_set_boot = kvm_vcpu_set_boot,
	.vcpu_run = kvm_vcpu_run,
	.complete_mmio_read = kvm_complete_mmio_read,
	.complete_call = kvm_complete_call,
	.add_notify_fd = kvm_add_notify_fd,
	.vcpu_get_pc = kvm_vcpu_get_pc,
	.set_spi = kvm_set_spi,
	.kick = kvm_kick,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vm_destroy = kvm_vm_destroy,
};

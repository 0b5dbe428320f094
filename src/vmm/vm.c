// SPDX-License-Identifier: MIT
/*
 * Building the machine from a config and running it: memory, kernel, devices, device tree, then
 * the hypervisor, vCPU threads and the main thread's console/signal loop, then an orderly stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/aarch64/fdt.h"
#include "util/log.h"
#include "util/random.h"
#include "vmm/options.h"
#include "vmm/sandbox.h"
#include "vmm/vm.h"
#include "vmm/vmm.h"

#define FDT_RNG_SEED_BYTES 64

void vm_request_stop(struct vm *vm, enum vm_state state, const char *msg)
{
	int running = VM_RUNNING;

	pthread_mutex_lock(&vm->lock);
	if (atomic_compare_exchange_strong(&vm->state, &running, (int)state) && msg)
		snprintf(vm->stop_err.msg, sizeof(vm->stop_err.msg), "%s", msg);
	pthread_mutex_unlock(&vm->lock);
	if (vm->vcpus)
		vcpus_kick_all(vm);
	event_signal(&vm->stop_event);
}

static int vm_alloc_ram(struct vm *vm, struct errbuf *e)
{
	uint64_t size = vm->layout.ram_size;
	/* 2 MiB alignment lets the host back RAM with huge pages; HVF needs 16 KiB at least. */
	uint64_t align = max_u64(vm->caps.ram_align, SZ_2M);
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	uint8_t *p, *aligned;

#ifdef MAP_NORESERVE
	flags |= MAP_NORESERVE; /* the guest touches what it uses; do not reserve the rest */
#endif
	p = mmap(NULL, size + align, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return err_set(e, -errno, "cannot reserve %llu MiB of guest RAM: %s",
			       (unsigned long long)(size >> 20), strerror(errno));
	aligned = (uint8_t *)align_up((uintptr_t)p, align);
	if (aligned > p)
		munmap(p, (size_t)(aligned - p));
	if (aligned + size < p + size + align)
		munmap(aligned + size, (size_t)((p + size + align) - (aligned + size)));
#ifdef MADV_HUGEPAGE
	/*
	 * Hosts that keep transparent huge pages to madvise'd memory (Debian's default) would
	 * otherwise back RAM with 4 KiB pages: ~8,700 faults to load the kernel and a 4 KiB
	 * stage-2 mapping for every page the guest touches. Advice only: failure changes nothing.
	 */
	madvise(aligned, (size_t)size, MADV_HUGEPAGE);
#endif
	vm->ram = (struct guest_ram){ .host = aligned, .gpa = RAM_BASE, .size = size };
	vm->gm = (struct guest_mem){ .host = aligned, .gpa = RAM_BASE, .size = size };
	return 0;
}

/* Measurement knobs (IGNITION_NO_NOTIFY_FD, IGNITION_KERNEL_MAP): set and not "0" means yes. */
static bool vm_env_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0");
}

/*
 * The kernel is copied into RAM. IGNITION_KERNEL_MAP=1 maps it from its file instead, in host
 * pages (or the hypervisor's, if larger): set-up then reads nothing (0.05 s instead of 0.1-0.7 s
 * in the rig), but the guest booted 1.9x slower to its first output, because every 4 KiB page of
 * the 33 MB Image is a stage-2 fault (and a copy-on-write when written) where copied RAM is a
 * few 2 MiB transparent huge pages. make bench measures both.
 */
static int vm_load_kernel(struct vm *vm, uint64_t limit, struct errbuf *e)
{
	uint64_t page = max_u64((uint64_t)sysconf(_SC_PAGESIZE), vm->caps.ram_align);

	if (!vm_env_set("IGNITION_KERNEL_MAP"))
		return kernel_load(vm->cfg->kernel, &vm->ram, limit, &vm->kernel, e);
	return kernel_load_mapped(vm->cfg->kernel, &vm->ram, limit, page, &vm->kernel, e);
}

static int vm_load_images(struct vm *vm, struct errbuf *e)
{
	const struct vm_config *cfg = vm->cfg;
	uint64_t limit = vm->layout.fdt_base;
	int r;

	if (cfg->initrd) {
		r = initrd_size(cfg->initrd, &vm->initrd_size, e);
		if (r < 0)
			return r;
		r = layout_place_initrd(&vm->layout, vm->initrd_size, &vm->initrd_base, e);
		if (r < 0)
			return r;
		limit = vm->initrd_base;
	}
	r = vm_load_kernel(vm, limit, e);
	if (r < 0)
		return r;
	if (cfg->initrd)
		return initrd_load(cfg->initrd, &vm->ram, vm->initrd_base, vm->initrd_size, e);
	return 0;
}

static int vm_build_fdt(struct vm *vm, struct errbuf *e)
{
	struct fdt_virtio_slot slots[VIRTIO_MMIO_SLOTS];
	uint8_t seed[FDT_RNG_SEED_BYTES];
	struct fdt_desc d = {
		.layout = &vm->layout,
		.bootargs = vm->cmdline,
		.has_initrd = vm->cfg->initrd != NULL,
		.initrd_start = vm->initrd_base,
		.initrd_end = vm->initrd_base + vm->initrd_size,
		.virtio = slots,
		.nr_virtio = vm->nr_virtio,
		.pmu = vm->cpu_features & HV_CPU_PMU,
	};
	void *fdt = guest_mem_ptr(&vm->gm, vm->layout.fdt_base, FDT_MAX_SIZE);
	int r;

	for (unsigned i = 0; i < vm->nr_virtio; i++)
		slots[i] = (struct fdt_virtio_slot){
			.base = layout_virtio_base(i),
			.size = VIRTIO_MMIO_SIZE,
			.spi = layout_virtio_spi(i),
		};
	if (random_fill(seed, sizeof(seed)) == 0) {
		d.rng_seed = seed;
		d.rng_seed_len = sizeof(seed);
	}
	if (!fdt)
		return err_set(e, -EINVAL, "no room for the device tree in guest RAM");
	r = fdt_build(fdt, FDT_MAX_SIZE, &d, e);
	if (r < 0)
		return r;
	vm->fdt_size = fdt_size(fdt);
	return 0;
}

static int vm_probe(struct vm *vm, bool fallback_to_null, struct errbuf *e)
{
	int r = vm->hv->probe(&vm->caps, e);

	if (r < 0 && fallback_to_null) {
		/* Writing a DTB needs no hypervisor; the null backend's GIC sizes are everyone's. */
		vm->hv = &hv_null_ops;
		r = vm->hv->probe(&vm->caps, e);
	}
	return r;
}

/* Everything up to the hypervisor: validates all input before any VM exists. */
static int vm_build(struct vm *vm, struct errbuf *e)
{
	const struct vm_config *cfg = vm->cfg;
	struct cmdline_opts co = {
		.replace = cfg->cmdline,
		.append = cfg->append,
		.has_disk = cfg->nr_disks > 0,
		.root_ro = cfg->nr_disks > 0 && cfg->disks[0].readonly,
	};
	int r;

	if (cfg->nr_vcpus > vm->caps.max_vcpus)
		return err_set(e, -EINVAL, "--smp %u: this host allows at most %u vCPUs",
			       cfg->nr_vcpus, vm->caps.max_vcpus);
	r = layout_init(&vm->layout, cfg->mem_mib << 20, cfg->nr_vcpus, &vm->caps.gic, e);
	if (r < 0)
		return r;
	if (layout_ipa_bits(&vm->layout) > vm->caps.max_ipa_bits)
		return err_set(e, -EINVAL,
			       "--mem %llu: needs a %u-bit guest address space, this host has %u",
			       (unsigned long long)cfg->mem_mib, layout_ipa_bits(&vm->layout),
			       vm->caps.max_ipa_bits);
	vm->nr_vcpus = cfg->nr_vcpus;
	r = cpu_features_choose(&cfg->cpu, &vm->caps, vm->hv->name, &vm->cpu_features, e);
	if (r < 0)
		return r;
	r = cmdline_build(vm->cmdline, &co, e);
	if (r < 0)
		return r;
	r = vm_alloc_ram(vm, e);
	if (r < 0)
		return r;
	r = vm_load_images(vm, e);
	if (r < 0)
		return r;
	r = vm_create_devices(vm, e);
	if (r < 0)
		return r;
	return vm_build_fdt(vm, e);
}

static void vm_print_machine(const struct vm *vm)
{
	const struct layout *l = &vm->layout;
	const struct kernel_image *k = &vm->kernel;
	const char *how = k->gzip ? " (gunzipped)" : k->mapped_bytes ? " (mapped)" : "";
	unsigned f = vm->cpu_features;

	pr_info("kernel : %llu bytes%s%s, entry=%#llx, image_size=%#llx",
		(unsigned long long)k->file_bytes, how, k->raw ? " (raw)" : "",
		(unsigned long long)k->entry, (unsigned long long)k->image_size);
	if (vm->cfg->initrd)
		pr_info("initrd : %llu bytes @ %#llx", (unsigned long long)vm->initrd_size,
			(unsigned long long)vm->initrd_base);
	pr_info("dtb    : %zu bytes @ %#llx", vm->fdt_size, (unsigned long long)l->fdt_base);
	pr_info("ram    : %llu MiB @ %#llx, %u vCPU%s, backend %s",
		(unsigned long long)(l->ram_size >> 20), (unsigned long long)l->ram_base,
		l->nr_vcpus, l->nr_vcpus == 1 ? "" : "s", vm->hv->name);
	pr_info("cpu    : pmu=%s sve=%s pauth=%s", f & HV_CPU_PMU ? "on" : "off",
		f & HV_CPU_SVE ? "on" : "off", f & HV_CPU_PAUTH ? "on" : "off");
	pr_info("gic    : dist=[%#llx, %#llx] redist=[%#llx, %#llx]",
		(unsigned long long)l->gicd_base, (unsigned long long)l->gicd_size,
		(unsigned long long)l->gicr_base, (unsigned long long)l->gicr_size);
	pr_info("cmdline: %s", vm->cmdline);
	pr_info("uart   : %#llx intid %u", (unsigned long long)UART_BASE, SPI_INTID(UART_SPI));
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		pr_info("virtio : %s @ %#llx intid %u", virtio_mmio_name(vm->virtio[i]),
			(unsigned long long)layout_virtio_base(i),
			SPI_INTID(layout_virtio_spi(i)));
}

static struct vm *vm_alloc(const struct vm_config *cfg, const struct hv_ops *hv)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm->cfg = cfg;
	vm->hv = hv;
	atomic_init(&vm->state, VM_RUNNING);
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	bus_init(&vm->bus);
	if (event_init(&vm->stop_event) < 0 || console_init(&vm->console, 0, 1) < 0) {
		free(vm);
		return NULL;
	}
	return vm;
}

static void vm_free(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		virtio_mmio_shutdown(vm->virtio[i]);
		virtio_mmio_destroy(vm->virtio[i]);
	}
	if (vm->serial)
		serial_destroy(vm->serial);
	/* After the devices, whose host sides unregister from it as they go. */
	evloop_destroy(vm->loop);
	bus_destroy(&vm->bus);
	if (vm->hvm)
		vm->hv->vm_destroy(vm->hvm);
	if (vm->ram.host)
		munmap(vm->ram.host, vm->ram.size);
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			pthread_cond_destroy(&vm->vcpus[i].power_cond);
		free(vm->vcpus);
	}
	event_close(&vm->stop_event);
	console_destroy(&vm->console);
	/* A console writer stuck on a stdout nobody reads still points into vm: leave it be. */
	if (!vm->console.writer_detached)
		free(vm);
}

int vm_dump_dtb(const struct vm_config *cfg, const struct hv_ops *hv, struct errbuf *e)
{
	struct vm *vm = vm_alloc(cfg, hv ? hv : &hv_null_ops);
	char tmp[4096];
	int r, fd;

	if (!vm)
		return err_set(e, -ENOMEM, "out of memory");
	r = vm_probe(vm, true, e);
	if (r == 0)
		r = vm_build(vm, e);
	if (r < 0)
		goto out;
	/* Write beside the target and rename, so a failure never leaves a partial file. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", cfg->dump_dtb) >= (int)sizeof(tmp)) {
		r = err_set(e, -ENAMETOOLONG, "%s: path too long", cfg->dump_dtb);
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		r = err_set(e, -errno, "%s: cannot create: %s", cfg->dump_dtb, strerror(errno));
		goto out;
	}
	if (write(fd, guest_mem_ptr(&vm->gm, vm->layout.fdt_base, vm->fdt_size), vm->fdt_size) !=
		    (ssize_t)vm->fdt_size ||
	    fchmod(fd, 0644) < 0 || close(fd) < 0) {
		r = err_set(e, -EIO, "%s: cannot write: %s", cfg->dump_dtb, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, cfg->dump_dtb) < 0) {
		r = err_set(e, -errno, "%s: cannot create: %s", cfg->dump_dtb, strerror(errno));
		unlink(tmp);
		goto out;
	}
	pr_info("dtb    : %zu bytes written to %s", vm->fdt_size, cfg->dump_dtb);
out:
	vm_free(vm);
	return r;
}

/* Signals are process-wide; the handler only needs to know where to knock. */
static struct event *signal_event;
static volatile sig_atomic_t signal_received;

static void vm_on_signal(int sig)
{
	signal_received = sig;
	if (signal_event)
		event_signal(signal_event);
}

static void vm_install_signals(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = vm_on_signal };

	signal_event = &vm->stop_event;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A closed stdout must not kill us: the console writer sees EPIPE and drops output. */
	signal(SIGPIPE, SIG_IGN);
}

/* The main thread: console input and stop requests, until the VM stops. */
static void vm_main_loop(struct vm *vm)
{
	while (!vm_stopping(vm)) {
		struct pollfd fds[3] = {
			{ .fd = event_fd(&vm->stop_event), .events = POLLIN },
			{ .fd = console_rx_fd(&vm->console), .events = POLLIN },
			{ .fd = console_in_fd(&vm->console), .events = POLLIN },
		};

		if (poll(fds, 3, -1) < 0 && errno != EINTR)
			break;
		if (signal_received) {
			vm->stop_signal = signal_received;
			vm_request_stop(vm, VM_STOP_SIGNAL, NULL);
			break;
		}
		if (fds[0].revents)
			event_drain(&vm->stop_event);
		if (fds[1].revents)
			console_handle_rx_space(&vm->console);
		if (fds[2].revents && console_handle_input(&vm->console) == CONSOLE_QUIT)
			vm_request_stop(vm, VM_STOP_QUIT, NULL);
	}
}

static int vm_exit_status(struct vm *vm, struct errbuf *e)
{
	switch (atomic_load(&vm->state)) {
	case VM_STOP_POWEROFF:
		pr_info("guest powered off");
		return VM_EXIT_POWEROFF;
	case VM_STOP_QUIT:
		pr_info("quit from the console (Ctrl-A x)");
		return VM_EXIT_POWEROFF;
	case VM_STOP_RESET:
		pr_info("guest reset: stopping (ignition does not reboot guests)");
		return VM_EXIT_RESET;
	case VM_STOP_SIGNAL:
		pr_info("stopped by signal %d", vm->stop_signal);
		return 128 + vm->stop_signal;
	default:
		err_set(e, -EIO, "%s", vm->stop_err.msg[0] ? vm->stop_err.msg : "VM stopped");
		return VM_EXIT_ERROR;
	}
}

/*
 * Queue notifications that the hypervisor can deliver straight to a device's worker skip the
 * vCPU exit (KVM ioeventfd). IGNITION_NO_NOTIFY_FD=1 turns it off to measure what it buys.
 */
static int vm_wire_notify_fds(struct vm *vm, struct errbuf *e)
{
	if (!vm->hv->add_notify_fd || vm_env_set("IGNITION_NO_NOTIFY_FD"))
		return 0;
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
			int fd = virtio_mmio_queue_notify_fd(vm->virtio[i], q), r;

			if (fd < 0)
				continue;
			r = vm->hv->add_notify_fd(vm->hvm, layout_virtio_base(i) +
						  VIRTIO_MMIO_QUEUE_NOTIFY, q, fd, e);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int vm_start_hypervisor(struct vm *vm, struct errbuf *e)
{
	struct hv_vm_params p = {
		.nr_vcpus = vm->nr_vcpus,
		.ipa_bits = layout_ipa_bits(&vm->layout),
		.cpu_features = vm->cpu_features,
		.pmu_intid = PPI_INTID(PMU_PPI),
	};
	int r;

	r = vm->hv->vm_create(&p, &vm->hvm, e);
	if (r < 0)
		return r;
	r = vm->hv->map_ram(vm->hvm, vm->ram.gpa, vm->ram.host, vm->ram.size, e);
	if (r < 0)
		return r;
	r = vm->hv->gic_create(vm->hvm, &vm->layout, e);
	if (r < 0)
		return r;
	return vm_wire_notify_fds(vm, e);
}

int vm_run(const struct vm_config *cfg, const struct hv_ops *hv, struct errbuf *e)
{
	struct vm *vm = vm_alloc(cfg, hv);
	int r, status = VM_EXIT_ERROR;

	if (!vm)
		return err_set(e, VM_EXIT_ERROR, "out of memory");
	r = vm_probe(vm, false, e);
	if (r == 0)
		r = vm_build(vm, e);
	if (r == 0) {
		vm_print_machine(vm);
		vm->psci = (struct psci_ctx){
			.ops = &vcpu_psci_ops,
			.opaque = vm,
			.nr_vcpus = vm->nr_vcpus,
			.ram_base = vm->layout.ram_base,
			.ram_size = vm->layout.ram_size,
		};
		r = vm_start_hypervisor(vm, e);
	}
	if (r == 0) {
		vm_install_signals(vm);
		console_raw_mode(&vm->console);
		r = console_start(&vm->console);
		if (r < 0)
			err_set(e, r, "cannot start the console thread");
	}
	if (r == 0 && vm->loop)
		r = evloop_start(vm->loop, e);
	if (r == 0)
		r = vcpus_start(vm, e);
	if (r == 0 && cfg->seccomp) {
		struct sandbox_rules rules = { .nr_syscalls = 0 };

		r = vm_sandbox_rules(vm, &rules, e);
		if (r == 0)
			r = sandbox_install(&rules, e);
	}
	if (r == 0) {
		vcpus_go(vm);
		vm_main_loop(vm);
		status = vm_exit_status(vm, e);
	} else if (vm->vcpus) {
		vm_request_stop(vm, VM_STOP_ERROR, e->msg);
	}

	/* Orderly stop: no vCPU runs, devices finish and flush, the terminal is restored. */
	if (vm->vcpus) {
		vcpus_kick_all(vm);
		vcpus_join(vm);
	}
	/* No host-side callback runs while devices shut down. */
	evloop_stop(vm->loop);
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		virtio_mmio_shutdown(vm->virtio[i]);
	console_stop(&vm->console);
	console_restore_terminal();
	signal_event = NULL;
	vm_free(vm);
	return status;
}

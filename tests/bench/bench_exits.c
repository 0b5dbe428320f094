// SPDX-License-Identifier: MIT
/*
 * The vCPU exit path, whole: a scripted backend hands the real run loop (vm_run) N MMIO exits and
 * then a power-off, so a callgrind count with N exits minus one with none is the cost of one
 * exit from the backend's return through the bus and the device and back (not a test: it prints
 * nothing but the VMM's own output; tests/bench/exits.sh does the counting).
 *
 *   bench_exits uart-lsr|uart-thr|virtio-isr N
 *	uart-lsr    1-byte reads of the 16550's LSR (what a guest polls around every byte)
 *	uart-thr    1-byte writes to THR (one console byte: the UART, the console ring, stdout)
 *	virtio-isr  4-byte reads of a virtio-mmio InterruptStatus (the first thing an interrupt
 *	            handler does)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/aarch64/layout.h"
#include "arch/aarch64/loader.h"
#include "devices/virtio/mmio.h"
#include "hv/hv.h"
#include "util/compiler.h"
#include "util/log.h"
#include "vmm/config.h"
#include "vmm/vm.h"

#define IMAGE_BYTES 4096

struct script {
	uint64_t addr;
	unsigned width;
	bool write;
	long left;
};

/* One VM at a time, one vCPU: the script is the backend's whole state. */
static struct script script;

struct hv_vm {
	int unused;
};

struct hv_vcpu {
	uint64_t last_read;
};

static int fake_probe(struct hv_caps *caps, struct errbuf *e)
{
	return hv_null_ops.probe(caps, e);
}

static int fake_vm_create(const struct hv_vm_params *p, struct hv_vm **vm, struct errbuf *e)
{
	*vm = calloc(1, sizeof(**vm));
	return *vm ? 0 : err_set(e, -ENOMEM, "out of memory");
}

static int fake_map_ram(struct hv_vm *vm, uint64_t gpa, void *host, uint64_t size, struct errbuf *e)
{
	return 0;
}

static int fake_gic_create(struct hv_vm *vm, const struct layout *l, struct errbuf *e)
{
	return 0;
}

static int fake_vcpu_create(struct hv_vm *vm, unsigned index, uint64_t mpidr, struct hv_vcpu **vcpu,
			    struct errbuf *e)
{
	*vcpu = calloc(1, sizeof(**vcpu));
	return *vcpu ? 0 : err_set(e, -ENOMEM, "out of memory");
}

static int fake_vcpu_set_boot(struct hv_vcpu *vcpu, uint64_t pc, uint64_t x0, struct errbuf *e)
{
	return 0;
}

static int fake_vcpu_run(struct hv_vcpu *vcpu, struct hv_exit *exit, struct errbuf *e)
{
	if (script.left-- <= 0) {
		exit->reason = HV_EXIT_SYSTEM_OFF;
		return 0;
	}
	exit->reason = HV_EXIT_MMIO;
	exit->mmio.addr = script.addr;
	exit->mmio.width = script.width;
	exit->mmio.write = script.write;
	exit->mmio.data = 'x';
	return 0;
}

static void fake_complete_mmio_read(struct hv_vcpu *vcpu, uint64_t data)
{
	vcpu->last_read = data;
}

static void fake_complete_call(struct hv_vcpu *vcpu, uint64_t x0)
{
}

static void fake_set_spi(struct hv_vm *vm, uint32_t intid, bool level)
{
}

static void fake_kick(struct hv_vcpu *vcpu)
{
}

static void fake_vcpu_destroy(struct hv_vcpu *vcpu)
{
	free(vcpu);
}

static void fake_vm_destroy(struct hv_vm *vm)
{
	free(vm);
}

static const struct hv_ops fake_ops = {
	.name = "scripted",
	.probe = fake_probe,
	.vm_create = fake_vm_create,
	.map_ram = fake_map_ram,
	.gic_create = fake_gic_create,
	.vcpu_create = fake_vcpu_create,
	.vcpu_set_boot = fake_vcpu_set_boot,
	.vcpu_run = fake_vcpu_run,
	.complete_mmio_read = fake_complete_mmio_read,
	.complete_call = fake_complete_call,
	.set_spi = fake_set_spi,
	.kick = fake_kick,
	.vcpu_destroy = fake_vcpu_destroy,
	.vm_destroy = fake_vm_destroy,
};

/* The smallest file the loader takes for an arm64 Image: a header and nothing to run. */
static int image_create(char *path, size_t len)
{
	uint8_t img[IMAGE_BYTES] = { 0 };
	int fd;

	snprintf(path, len, "%s/ignition-exits-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	put_le64(img + 16, IMAGE_BYTES); /* image_size; text_offset 0, little-endian */
	put_le32(img + 56, ARM64_IMAGE_MAGIC);
	if (write(fd, img, sizeof(img)) != (ssize_t)sizeof(img)) {
		close(fd);
		unlink(path);
		return -EIO;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct vm_config cfg = { .nr_vcpus = 1, .mem_mib = 64 };
	char path[256];
	struct errbuf e;
	int status;

	if (argc != 3)
		goto usage;
	if (!strcmp(argv[1], "uart-lsr"))
		script = (struct script){ UART_BASE + 5, 1, false, 0 };
	else if (!strcmp(argv[1], "uart-thr"))
		script = (struct script){ UART_BASE, 1, true, 0 };
	else if (!strcmp(argv[1], "virtio-isr"))
		script = (struct script){ VIRTIO_MMIO_BASE + VIRTIO_MMIO_INTERRUPT_STATUS, 4, false,
					  0 };
	else
		goto usage;
	script.left = strtol(argv[2], NULL, 0);
	cfg.rng = !strcmp(argv[1], "virtio-isr");
	log_set_level(LOG_WARN);
	if (image_create(path, sizeof(path)) < 0) {
		perror("bench_exits: kernel image");
		return 1;
	}
	cfg.kernel = path;
	status = vm_run(&cfg, &fake_ops, &e);
	unlink(path);
	if (status) {
		fprintf(stderr, "bench_exits: VM exit status %d: %s\n", status, e.msg);
		return 1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: bench_exits uart-lsr|uart-thr|virtio-isr N\n");
	return 2;
}

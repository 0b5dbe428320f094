// SPDX-License-Identifier: MIT
/*
 * Kernel Image / Image.gz / initrd loading into 2 MiB of guest RAM (a malloc block of exactly
 * that size, so ASan sees any write past it) below a limit from the input.
 *
 * Input: u8 mode, u32 limit selector, then
 *   mode 0: the rest is the kernel, loaded from memory (kernel_load_buf)
 *   mode 1: the rest is the kernel, loaded from a file (kernel_load)
 *   mode 2: u32 initrd length, the initrd, then the kernel: the VMM's order (initrd placed below
 *           the DTB, kernel loaded below the initrd, initrd copied in)
 * Checked: a loaded kernel lies below its limit with its bytes in place and its header readable
 * from RAM; an initrd does not overlap it; every failure is a one-line message.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/aarch64/layout.h"
#include "arch/aarch64/loader.h"
#include "tests/fuzz/fuzz.h"
#include "util/compiler.h"

/* Small: inflating a gzip bomb up to the limit is most of a run's time. */
#define RAM_SIZE (2 * SZ_1M)
/* Where the DTB would start: the initrd goes below it. */
#define FDT_BASE (RAM_BASE + RAM_SIZE - 4 * SZ_64K)

struct fuzz_loader {
	struct guest_ram ram;
	int kernel_fd, initrd_fd;
	char kernel_path[64], initrd_path[64];
};

static struct fuzz_loader *fl;

static int memfd_path(const char *name, char *path, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		abort();
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	fl = calloc(1, sizeof(*fl));
	if (!fl)
		abort();
	fl->ram = (struct guest_ram){ .host = malloc(RAM_SIZE), .gpa = RAM_BASE, .size = RAM_SIZE };
	if (!fl->ram.host)
		abort();
	fl->kernel_fd = memfd_path("kernel", fl->kernel_path, sizeof(fl->kernel_path));
	fl->initrd_fd = memfd_path("initrd", fl->initrd_path, sizeof(fl->initrd_path));
	return 0;
}

static void file_set(int fd, const uint8_t *buf, size_t len)
{
	if (ftruncate(fd, 0) || (len && pwrite(fd, buf, len, 0) != (ssize_t)len))
		abort();
}

static void error_check(int r, const struct errbuf *e)
{
	FUZZ_CHECK(r < 0);
	FUZZ_CHECK(e->msg[0] && !strchr(e->msg, '\n'));
}

static uint8_t *ram_at(uint64_t gpa)
{
	return fl->ram.host + (gpa - fl->ram.gpa);
}

static void kernel_check(const struct kernel_image *k, const uint8_t *buf, size_t len,
			 uint64_t limit)
{
	struct arm64_image_header hdr;

	FUZZ_CHECK(k->entry >= fl->ram.gpa && k->entry - fl->ram.gpa == k->text_offset);
	FUZZ_CHECK(k->file_bytes <= k->image_size);
	FUZZ_CHECK(k->entry < limit && k->image_size <= limit - k->entry);
	FUZZ_CHECK(arm64_image_parse(ram_at(k->entry), k->file_bytes, "ram", &hdr, NULL) == 0);
	if (!k->gzip)
		FUZZ_CHECK(k->file_bytes == len && !memcmp(ram_at(k->entry), buf, len));
}

static void kernel_try(const uint8_t *buf, size_t len, bool from_file, uint64_t limit)
{
	struct kernel_image k;
	struct errbuf e = { .msg = "" };
	int r;

	if (from_file) {
		file_set(fl->kernel_fd, buf, len);
		r = kernel_load(fl->kernel_path, &fl->ram, limit, &k, &e);
	} else {
		r = kernel_load_buf(buf, len, "Image", &fl->ram, limit, &k, &e);
	}
	if (r)
		error_check(r, &e);
	else
		kernel_check(&k, buf, len, limit);
}

/* vm_load_images(): initrd sized and placed first, the kernel below it, then the initrd copied. */
static void initrd_and_kernel(struct fuzz_in *in)
{
	struct layout l = { .ram_base = RAM_BASE, .ram_size = RAM_SIZE, .fdt_base = FDT_BASE };
	size_t ilen, klen;
	const uint8_t *initrd = fz_take(in, fz_u32(in), &ilen);
	const uint8_t *kernel = fz_take(in, in->left, &klen);
	struct kernel_image k;
	struct errbuf e = { .msg = "" };
	uint64_t size, base;
	int r;

	file_set(fl->initrd_fd, initrd, ilen);
	r = initrd_size(fl->initrd_path, &size, &e);
	if (!r)
		r = layout_place_initrd(&l, size, &base, &e);
	if (!r)
		r = kernel_load_buf(kernel, klen, "Image", &fl->ram, base, &k, &e);
	if (!r)
		r = initrd_load(fl->initrd_path, &fl->ram, base, size, &e);
	if (r) {
		error_check(r, &e);
		return;
	}
	FUZZ_CHECK(size == ilen && base >= k.entry + k.image_size);
	FUZZ_CHECK(base + size <= l.fdt_base && !memcmp(ram_at(base), initrd, ilen));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);
	uint8_t mode = fz_u8(&in) % 3;
	uint64_t limit = RAM_BASE - SZ_64K + fz_u32(&in) % (RAM_SIZE + 2 * SZ_64K + 1);
	size_t len;
	const uint8_t *buf;

	if (mode == 2) {
		initrd_and_kernel(&in);
		return 0;
	}
	buf = fz_take(&in, in.left, &len);
	kernel_try(buf, len, mode == 1, limit);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * Kernel Image / Image.gz / initrd loading into 2 MiB of guest RAM below a limit from the input.
 * RAM is a malloc block of exactly that size, so ASan sees any write past it; for the mapped load
 * it is an anonymous mapping between two PROT_NONE pages, as the VMM's RAM is a mapping.
 *
 * Input: u8 mode, u32 limit selector, then
 *   mode 0: the rest is the kernel, loaded from memory (kernel_load_buf)
 *   mode 1: the rest is the kernel, loaded from a file (kernel_load)
 *   mode 2: u32 initrd length, the initrd, then the kernel: the VMM's order (initrd placed below
 *           the DTB, kernel loaded below the initrd, initrd copied in)
 *   mode 3: the rest is the kernel, mapped from its file where it can be (kernel_load_mapped);
 *           bits 2-3 of the mode choose the page size (4, 16 or 64 KiB)
 * Checked: a loaded kernel lies below its limit with its bytes in place and its header readable
 * from RAM; a mapping stays inside RAM and reads as zeros past the file; an initrd does not
 * overlap the kernel; every failure is a one-line message.
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
	struct guest_ram mram; /* mapped: for kernel_load_mapped */
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

#define GUARD SZ_64K

/* Anonymous RAM between two PROT_NONE guards (of the largest page size a mode uses). */
static uint8_t *ram_map(void)
{
	uint8_t *p = mmap(NULL, RAM_SIZE + 2 * GUARD, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED || mprotect(p + GUARD, RAM_SIZE, PROT_READ | PROT_WRITE))
		abort();
	return p + GUARD;
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
	fl->mram = (struct guest_ram){ .host = ram_map(), .gpa = RAM_BASE, .size = RAM_SIZE };
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

static uint8_t *ram_at(const struct guest_ram *ram, uint64_t gpa)
{
	return ram->host + (gpa - ram->gpa);
}

static void kernel_check(const struct guest_ram *ram, const struct kernel_image *k,
			 const uint8_t *buf, size_t len, uint64_t limit)
{
	struct arm64_image_header hdr;
	uint8_t *p = ram_at(ram, k->entry);

	FUZZ_CHECK(k->entry >= ram->gpa && k->entry - ram->gpa == k->text_offset);
	FUZZ_CHECK(k->file_bytes <= k->image_size);
	FUZZ_CHECK(k->entry < limit && k->image_size <= limit - k->entry);
	/* An Image's header came through intact; a raw image sits where QEMU puts one. */
	if (k->raw)
		FUZZ_CHECK(k->text_offset == 0x80000 && k->file_bytes == k->image_size);
	else
		FUZZ_CHECK(arm64_image_parse(p, k->file_bytes, "ram", &hdr, NULL) == 0);
	if (!k->gzip)
		FUZZ_CHECK(k->file_bytes == len && !memcmp(p, buf, len));
	if (!k->mapped_bytes)
		return;
	FUZZ_CHECK(!k->gzip && k->mapped_bytes >= len);
	FUZZ_CHECK(k->mapped_bytes <= ram->size - (k->entry - ram->gpa));
	for (uint64_t i = len; i < k->mapped_bytes; i++)
		FUZZ_CHECK(!p[i]);
}

/* Anonymous RAM again where the file was mapped: the next run truncates the file. */
static void ram_unmap_kernel(const struct kernel_image *k)
{
	if (k->mapped_bytes &&
	    mmap(ram_at(&fl->mram, k->entry), k->mapped_bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) == MAP_FAILED)
		abort();
}

static void kernel_try_mapped(const uint8_t *buf, size_t len, uint8_t mode, uint64_t limit)
{
	static const uint64_t pages[] = { SZ_4K, SZ_16K, SZ_64K, SZ_4K };
	struct kernel_image k = { .mapped_bytes = 0 };
	struct errbuf e = { .msg = "" };
	int r;

	file_set(fl->kernel_fd, buf, len);
	r = kernel_load_mapped(fl->kernel_path, &fl->mram, limit, pages[(mode >> 2) & 3], &k, &e);
	if (r)
		error_check(r, &e);
	else
		kernel_check(&fl->mram, &k, buf, len, limit);
	ram_unmap_kernel(&k);
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
		kernel_check(&fl->ram, &k, buf, len, limit);
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
	FUZZ_CHECK(base + size <= l.fdt_base && !memcmp(ram_at(&fl->ram, base), initrd, ilen));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);
	uint8_t mode = fz_u8(&in);
	uint64_t limit = RAM_BASE - SZ_64K + fz_u32(&in) % (RAM_SIZE + 2 * SZ_64K + 1);
	size_t len;
	const uint8_t *buf;

	if (mode % 4 == 2) {
		initrd_and_kernel(&in);
		return 0;
	}
	buf = fz_take(&in, in.left, &len);
	if (mode % 4 == 3)
		kernel_try_mapped(buf, len, mode, limit);
	else
		kernel_try(buf, len, mode % 4 == 1, limit);
	return 0;
}

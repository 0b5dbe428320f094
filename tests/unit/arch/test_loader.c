// SPDX-License-Identifier: MIT
/*
 * The loader against synthetic arm64 Images written to temporary files: headers laid out as in
 * Documentation/arch/arm64/booting.rst, payloads with a position-dependent pattern so a byte in
 * the wrong place shows, and guest RAM prefilled with a sentinel so bytes that must not be
 * written (BSS, beyond the limit) can be checked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "arch/aarch64/layout.h"
#include "arch/aarch64/loader.h"
#include "util/log.h"

#define MiB(n)	 ((uint64_t)(n) << 20)
#define SENTINEL 0xa5
#define RAM_SIZE MiB(48)

/* Debian 12's arm64 vmlinuz: EFI stub, 4 KiB pages, placed anywhere. */
#define DEBIAN_IMAGE_SIZE 0x02010000ULL
#define DEBIAN_FLAGS	  0xaULL

struct fixture {
	struct guest_ram ram;
	char dir[64];
	char path[128];
	unsigned warnings;
	char last_warning[1024];
	unsigned notes; /* info lines */
	char last_note[1024];
	bool ram_mapped; /* RAM from mmap, as the VMM has it (kernel_load_mapped needs that) */
};

static void log_record(enum log_level level, const char *line, void *opaque)
{
	struct fixture *f = opaque;

	if (level == LOG_INFO) {
		f->notes++;
		snprintf(f->last_note, sizeof(f->last_note), "%s", line);
	}
	if (level != LOG_WARN)
		return;
	f->warnings++;
	snprintf(f->last_warning, sizeof(f->last_warning), "%s", line);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->ram.gpa = RAM_BASE;
	f->ram.size = RAM_SIZE;
	f->ram.host = malloc(RAM_SIZE);
	snprintf(f->dir, sizeof(f->dir), "/tmp/ignition-loader-XXXXXX");
	if (!f->ram.host || !mkdtemp(f->dir))
		return -1;
	memset(f->ram.host, SENTINEL, RAM_SIZE);
	snprintf(f->path, sizeof(f->path), "%s/Image", f->dir);
	log_set_hook(log_record, f);
	*state = f;
	return 0;
}

/* RAM as vm.c makes it: private, anonymous, page aligned. */
static int setup_mapped(void **state)
{
	struct fixture *f;
	void *p = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || setup(state))
		return -1;
	f = *state;
	free(f->ram.host);
	f->ram.host = p;
	f->ram_mapped = true;
	memset(f->ram.host, SENTINEL, RAM_SIZE);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	log_set_hook(NULL, NULL);
	unlink(f->path);
	rmdir(f->dir);
	if (f->ram_mapped)
		munmap(f->ram.host, RAM_SIZE);
	else
		free(f->ram.host);
	free(f);
	return 0;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* An Image of len bytes (>= 64): header, then bytes that depend on their offset. */
static uint8_t *image_make(size_t len, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	uint8_t *b = malloc(len);

	assert_non_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 7 + (i >> 8) * 13 + 1);
	memset(b, 0, 64);
	b[0] = 'M'; /* the EFI stub's "MZ" */
	b[1] = 'Z';
	put64(b + 8, text_offset);
	put64(b + 16, image_size);
	put64(b + 24, flags);
	memcpy(b + 56, "ARM\x64", 4);
	memcpy(b + 60, "PE\0\0", 4);
	return b;
}

static void file_write(const char *path, const void *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* gzip (not zlib) framing, as `gzip Image` writes it; level 1 keeps the test quick. */
static uint8_t *gzip_make(const uint8_t *in, size_t len, size_t *out_len)
{
	z_stream zs = { 0 };
	size_t cap = len + len / 100 + 1024;
	uint8_t *out = malloc(cap);

	assert_non_null(out);
	assert_int_equal(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*out_len = zs.total_out;
	deflateEnd(&zs);
	return out;
}

static uint8_t *ram_at(struct fixture *f, uint64_t gpa)
{
	return f->ram.host + (gpa - f->ram.gpa);
}

static bool ram_is(struct fixture *f, uint64_t gpa, uint8_t byte, size_t len)
{
	const uint8_t *p = ram_at(f, gpa);

	for (size_t i = 0; i < len; i++)
		if (p[i] != byte)
			return false;
	return true;
}

static uint64_t ram_end(struct fixture *f)
{
	return f->ram.gpa + f->ram.size;
}

static void test_debian_like_image(void **state)
{
	struct fixture *f = *state;
	size_t len = 300000;
	uint8_t *img = image_make(len, 0, DEBIAN_IMAGE_SIZE, DEBIAN_FLAGS);
	struct kernel_image k;
	struct errbuf e;

	file_write(f->path, img, len);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), 0);
	assert_int_equal(k.entry, RAM_BASE);
	assert_int_equal(k.text_offset, 0);
	assert_int_equal(k.file_bytes, len);
	assert_int_equal(k.image_size, DEBIAN_IMAGE_SIZE);
	assert_false(k.gzip);
	assert_memory_equal(ram_at(f, RAM_BASE), img, len);
	/* BSS is left to RAM that is already zero: nothing past the file was written. */
	assert_true(ram_is(f, RAM_BASE + len, SENTINEL, DEBIAN_IMAGE_SIZE - len));
	assert_int_equal(f->warnings, 0);
	free(img);
}

static void test_header_parse(void **state)
{
	uint8_t *img = image_make(64, 0x200000, 0x100000, DEBIAN_FLAGS);
	struct arm64_image_header h;
	struct errbuf e;

	(void)state;
	assert_int_equal(arm64_image_parse(img, 64, "x", &h, &e), 0);
	assert_int_equal(h.text_offset, 0x200000);
	assert_int_equal(h.image_size, 0x100000);
	assert_int_equal(h.flags, DEBIAN_FLAGS);
	assert_int_equal(h.page_size_kib, 4);
	put64(img + 24, 2 << 1);
	assert_int_equal(arm64_image_parse(img, 64, "x", &h, &e), 0);
	assert_int_equal(h.page_size_kib, 16);
	put64(img + 24, 3 << 1);
	assert_int_equal(arm64_image_parse(img, 64, "x", &h, &e), 0);
	assert_int_equal(h.page_size_kib, 64);
	put64(img + 24, 0);
	assert_int_equal(arm64_image_parse(img, 64, "x", &h, &e), 0);
	assert_int_equal(h.page_size_kib, 0);
	free(img);
}

static void test_text_offset(void **state)
{
	struct fixture *f = *state;
	size_t len = 8192;
	uint8_t *img = image_make(len, 0x200000, 0x400000, DEBIAN_FLAGS);
	struct kernel_image k;
	struct errbuf e;

	/* 2 MiB aligned: loaded there, silently. */
	file_write(f->path, img, len);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), 0);
	assert_int_equal(k.entry, RAM_BASE + 0x200000);
	assert_memory_equal(ram_at(f, k.entry), img, len);
	assert_true(ram_is(f, RAM_BASE, SENTINEL, 0x200000));
	assert_int_equal(f->warnings, 0);

	/* Pre-5.8 kernels use 0x80000: a warning, not a failure. */
	put64(img + 8, 0x80000);
	file_write(f->path, img, len);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), 0);
	assert_int_equal(k.entry, RAM_BASE + 0x80000);
	assert_int_equal(f->warnings, 1);
	assert_non_null(strstr(f->last_warning, "text_offset 0x80000 is not 2 MiB aligned"));
	assert_non_null(strstr(f->last_warning, f->path));
	free(img);
}

/* Kernels before 3.17 leave image_size zero; booting.rst says text_offset is then 0x80000. */
static void test_legacy_header(void **state)
{
	struct fixture *f = *state;
	size_t len = 4096;
	uint8_t *img = image_make(len, 0, 0, 0);
	struct kernel_image k;
	struct errbuf e;

	assert_int_equal(kernel_load_buf(img, len, "old", &f->ram, ram_end(f), &k, &e), 0);
	assert_int_equal(k.entry, RAM_BASE + 0x80000);
	assert_int_equal(k.image_size, len);
	assert_memory_equal(ram_at(f, k.entry), img, len);
	free(img);
}

static void test_fit_uses_image_size(void **state)
{
	struct fixture *f = *state;
	size_t len = 65536;
	uint64_t limit = RAM_BASE + MiB(8);
	uint8_t *img = image_make(len, 0, MiB(8), DEBIAN_FLAGS);
	struct kernel_image k;
	struct errbuf e;

	/* The file is tiny, but its BSS reaches exactly the limit: fits. */
	file_write(f->path, img, len);
	assert_int_equal(kernel_load(f->path, &f->ram, limit, &k, &e), 0);
	assert_int_equal(k.image_size, MiB(8));

	/* One page more of BSS and the footprint crosses the limit (the initrd, say). */
	memset(f->ram.host, SENTINEL, RAM_SIZE);
	put64(img + 16, MiB(8) + 4096);
	file_write(f->path, img, len);
	assert_int_equal(kernel_load(f->path, &f->ram, limit, &k, &e), -E2BIG);
	assert_non_null(strstr(e.msg, f->path));
	assert_non_null(strstr(e.msg, "kernel needs 8.0 MiB"));
	assert_non_null(strstr(e.msg, "below 0x40800000"));
	assert_true(ram_is(f, RAM_BASE, SENTINEL, len));
	free(img);
}

static void test_too_large_for_ram(void **state)
{
	struct fixture *f = *state;
	size_t len = 4096;
	uint8_t *img = image_make(len, 0, RAM_SIZE + 1, DEBIAN_FLAGS);
	struct kernel_image k;
	struct errbuf e;

	file_write(f->path, img, len);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "only 48.0 MiB of RAM are free"));

	/* A text_offset beyond RAM must not wrap around either. */
	put64(img + 8, ~0ULL << 21);
	put64(img + 16, 4096);
	assert_int_equal(kernel_load_buf(img, len, "k", &f->ram, ram_end(f), &k, &e), -E2BIG);

	/* A limit outside RAM is a caller bug, reported, not followed. */
	assert_int_equal(kernel_load_buf(img, len, "k", &f->ram, ram_end(f) + 1, &k, &e), -EINVAL);
	free(img);
}

static void test_bad_images(void **state)
{
	struct fixture *f = *state;
	uint8_t *img = image_make(4096, 0, MiB(1), DEBIAN_FLAGS);
	struct kernel_image k;
	struct errbuf e;
	char want[256];

	/* Truncated: shorter than the header. */
	file_write(f->path, img, 63);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), -ENOEXEC);
	snprintf(want, sizeof(want),
		 "%s: truncated (63 bytes, shorter than the 64-byte arm64 Image header)", f->path);
	assert_string_equal(e.msg, want);

	/* A PE file without the arm64 magic: an EFI application, an x86 bzImage, a damaged Image. */
	img[56] = 'X';
	file_write(f->path, img, 4096);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), -ENOEXEC);
	snprintf(want, sizeof(want),
		 "%s: a PE/EFI file, not an arm64 Image (bad magic at offset 56)", f->path);
	assert_string_equal(e.msg, want);
	assert_int_equal(f->notes, 0);

	/* Big-endian kernel: flags bit 0. */
	img[56] = 'A';
	put64(img + 24, DEBIAN_FLAGS | ARM64_IMAGE_FLAG_BE);
	file_write(f->path, img, 4096);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), -ENOEXEC);
	assert_non_null(strstr(e.msg, "big-endian"));
	assert_non_null(strstr(e.msg, f->path));
	assert_true(ram_is(f, RAM_BASE, SENTINEL, 4096));
	free(img);
}

static uint64_t page_size(void);

/* A raw program: bytes that depend on their offset, and not "MZ" at the start. */
static uint8_t *raw_make(size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	assert_non_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 11 + (i >> 8) * 5 + 3);
	return b;
}

/*
 * No arm64 magic: loaded raw at RAM + 0x80000 (QEMU's and kvmtool's place), entered at its first
 * byte, its footprint its length, with one note; nothing else in RAM is written.
 */
static void test_raw_image(void **state)
{
	struct fixture *f = *state;
	size_t len = 5000;
	uint8_t *raw = raw_make(len);
	struct kernel_image k;
	struct errbuf e;
	char want[512];

	file_write(f->path, raw, len);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), 0);
	assert_true(k.raw);
	assert_false(k.gzip);
	assert_int_equal(k.entry, RAM_BASE + 0x80000);
	assert_int_equal(k.text_offset, 0x80000);
	assert_int_equal(k.file_bytes, len);
	assert_int_equal(k.image_size, len);
	assert_memory_equal(ram_at(f, k.entry), raw, len);
	assert_true(ram_is(f, RAM_BASE, SENTINEL, 0x80000));
	assert_true(ram_is(f, k.entry + len, SENTINEL, 4096));
	assert_int_equal(f->warnings, 0);
	assert_int_equal(f->notes, 1);
	snprintf(want, sizeof(want),
		 "%s: no arm64 Image header: loaded raw at 0x40080000, entered at its first byte",
		 f->path);
	assert_string_equal(f->last_note, want);

	/* A magic-less Image header is raw too: nothing of it is believed. */
	free(raw);
	raw = image_make(len, 0x200000, MiB(8), DEBIAN_FLAGS);
	raw[0] = 0x14; /* a branch, not "MZ" */
	raw[1] = 0;
	raw[57] = 'X';
	assert_int_equal(kernel_load_buf(raw, len, "buf", &f->ram, ram_end(f), &k, &e), 0);
	assert_true(k.raw);
	assert_int_equal(k.entry, RAM_BASE + 0x80000);
	assert_int_equal(k.image_size, len);
	assert_int_equal(f->notes, 2);
	assert_non_null(strstr(f->last_note, "buf: no arm64 Image header"));
	free(raw);
}

/* A bare-metal program can be a few instructions: shorter than an Image header is fine. */
static void test_raw_tiny(void **state)
{
	struct fixture *f = *state;
	/* movz w0, #8; movk w0, #0x8400, lsl #16; hvc #0: PSCI SYSTEM_OFF */
	static const uint8_t prog[] = { 0x00, 0x01, 0x80, 0x52, 0x00, 0x80,
					0xb0, 0x72, 0x02, 0x00, 0x00, 0xd4 };
	struct kernel_image k;
	struct errbuf e;

	file_write(f->path, prog, sizeof(prog));
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), 0);
	assert_true(k.raw);
	assert_int_equal(k.entry, RAM_BASE + 0x80000);
	assert_int_equal(k.image_size, sizeof(prog));
	assert_memory_equal(ram_at(f, k.entry), prog, sizeof(prog));
	assert_true(ram_is(f, k.entry + sizeof(prog), SENTINEL, 64));

	/* One byte is still a program; none is not (file and buffer alike). */
	file_write(f->path, prog, 1);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), 0);
	assert_int_equal(k.file_bytes, 1);
	assert_int_equal(kernel_load_buf(prog, 0, "buf", &f->ram, ram_end(f), &k, &e), -ENOEXEC);
	assert_string_equal(e.msg, "buf: empty");
}

/* The size checks of an Image apply: a raw image must end below the limit (DTB or initrd). */
static void test_raw_too_large(void **state)
{
	struct fixture *f = *state;
	uint64_t limit = RAM_BASE + MiB(4);
	size_t fits = (size_t)(MiB(4) - 0x80000);
	uint8_t *raw = raw_make(fits + 1);
	struct kernel_image k = { 0 };
	struct errbuf e;

	file_write(f->path, raw, fits);
	assert_int_equal(kernel_load(f->path, &f->ram, limit, &k, &e), 0);
	assert_int_equal(k.image_size, fits);
	memset(f->ram.host, SENTINEL, RAM_SIZE);

	file_write(f->path, raw, fits + 1);
	assert_int_equal(kernel_load(f->path, &f->ram, limit, &k, &e), -E2BIG);
	assert_non_null(strstr(e.msg, f->path));
	assert_non_null(strstr(e.msg, "kernel needs 3.5 MiB at offset 0x80000"));
	assert_non_null(strstr(e.msg, "below 0x40400000"));
	assert_true(ram_is(f, RAM_BASE, SENTINEL, MiB(4)));
	assert_int_equal(kernel_load_mapped(f->path, &f->ram, limit, 4096, &k, &e), -E2BIG);
	assert_int_equal(kernel_load_buf(raw, fits + 1, "buf", &f->ram, limit, &k, &e), -E2BIG);
	assert_int_equal(f->notes, 1);
	free(raw);
}

/*
 * QEMU gunzips any kernel file before looking for the magic (arm_load_aarch64_image), so a
 * gzipped raw image is loaded raw, decompressed; a gzip stream of nothing is refused.
 */
static void test_raw_gzip(void **state)
{
	struct fixture *f = *state;
	size_t len = 200000, zlen;
	uint8_t *raw = raw_make(len), *gz = gzip_make(raw, len, &zlen);
	struct kernel_image k;
	struct errbuf e;

	file_write(f->path, gz, zlen);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), 0);
	assert_true(k.raw);
	assert_true(k.gzip);
	assert_int_equal(k.entry, RAM_BASE + 0x80000);
	assert_int_equal(k.file_bytes, len);
	assert_int_equal(k.image_size, len);
	assert_memory_equal(ram_at(f, k.entry), raw, len);
	assert_true(ram_is(f, RAM_BASE, SENTINEL, 0x80000));
	assert_int_equal(f->notes, 1);

	/* Bounded like an Image.gz: the decompressed program must fit below the limit. */
	assert_int_equal(kernel_load_buf(gz, zlen, "raw.gz", &f->ram, RAM_BASE + 0x80000 + len - 1,
					 &k, &e),
			 -E2BIG);
	assert_non_null(strstr(e.msg, "raw.gz: decompressed kernel is larger"));
	free(gz);

	gz = gzip_make(raw, 0, &zlen);
	assert_int_equal(kernel_load_buf(gz, zlen, "empty.gz", &f->ram, ram_end(f), &k, &e),
			 -ENOEXEC);
	assert_string_equal(e.msg, "empty.gz: the gzip data is empty");
	free(gz);
	free(raw);
}

/* Mapping applies to a raw image as to an Image: 0x80000 is page aligned. */
static void test_raw_mapped(void **state)
{
	struct fixture *f = *state;
	uint64_t page = page_size();
	size_t len = 2 * page + 5;
	uint8_t *raw = raw_make(len);
	struct kernel_image k;
	struct errbuf e;

	file_write(f->path, raw, len);
	assert_int_equal(kernel_load_mapped(f->path, &f->ram, ram_end(f), page, &k, &e), 0);
	assert_true(k.raw);
	assert_int_equal(k.entry, RAM_BASE + 0x80000);
	assert_int_equal(k.mapped_bytes, 3 * page);
	assert_memory_equal(ram_at(f, k.entry), raw, len);
	assert_true(ram_is(f, RAM_BASE, SENTINEL, 0x80000));
	free(raw);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The EFI stub's PE header at 0x40, as in Debian's Image: two sections of raw data in the file. */
static void pe_make(uint8_t *img, uint32_t text_ptr, uint32_t text_len, uint32_t data_ptr,
		    uint32_t data_len)
{
	uint8_t *pe = img + 0x40, *sect = pe + 24;

	put32(img + 60, 0x40);
	memset(pe, 0, 24 + 2 * 40);
	memcpy(pe, "PE\0\0", 4);
	pe[6] = 2; /* sections; no optional header (its size at +20 stays 0) */
	put32(sect + 16, text_len);
	put32(sect + 20, text_ptr);
	put32(sect + 40 + 16, data_len);
	put32(sect + 40 + 20, data_ptr);
}

/*
 * A partial copy of an EFI-stub Image still has a valid header, and image_size cannot tell its
 * missing tail from BSS: the PE section table can. Refused by every load path, RAM untouched.
 */
static void test_truncated_pe_image(void **state)
{
	struct fixture *f = *state;
	size_t len = 0x8000, cut = 0x6000, gz_len;
	uint8_t *img = image_make(len, 0, MiB(1), DEBIAN_FLAGS), *gz;
	struct kernel_image k;
	struct errbuf e;
	char want[256];

	pe_make(img, 0x1000, 0x3000, 0x4000, 0x4000);
	file_write(f->path, img, len);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), 0);
	assert_int_equal(k.file_bytes, len);
	memset(f->ram.host, SENTINEL, len);

	file_write(f->path, img, cut);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), -ENOEXEC);
	snprintf(want, sizeof(want),
		 "%s: truncated (24576 bytes; its PE header says the Image is "
		 "32768)",
		 f->path);
	assert_string_equal(e.msg, want);
	assert_true(ram_is(f, RAM_BASE, SENTINEL, len));

	assert_int_equal(kernel_load_buf(img, cut, "buf", &f->ram, ram_end(f), &k, &e), -ENOEXEC);
	assert_string_equal(e.msg, "buf: truncated (24576 bytes; its PE header says the Image is "
				   "32768)");

	gz = gzip_make(img, cut, &gz_len);
	file_write(f->path, gz, gz_len);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), -ENOEXEC);
	assert_string_equal(e.msg, want);
	free(gz);

	/* Without a PE header a short Image is taken as it is: the rest is BSS. */
	memset(img + 0x40, 0, 4);
	file_write(f->path, img, cut);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), 0);
	free(img);
}

static void test_bad_files(void **state)
{
	struct fixture *f = *state;
	struct kernel_image k;
	struct errbuf e;
	char want[256];

	file_write(f->path, "", 0);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), -EINVAL);
	snprintf(want, sizeof(want), "%s: file is empty", f->path);
	assert_string_equal(e.msg, want);

	assert_int_equal(kernel_load(f->dir, &f->ram, ram_end(f), &k, &e), -EISDIR);
	snprintf(want, sizeof(want), "%s: is a directory", f->dir);
	assert_string_equal(e.msg, want);

	assert_int_equal(kernel_load("/nonexistent/vmlinuz", &f->ram, ram_end(f), &k, &e), -ENOENT);
	assert_string_equal(e.msg, "/nonexistent/vmlinuz: No such file or directory");

	assert_int_equal(kernel_load("/dev/null", &f->ram, ram_end(f), &k, &e), -EINVAL);
	assert_string_equal(e.msg, "/dev/null: not a regular file");
}

static void test_gzip_good(void **state)
{
	struct fixture *f = *state;
	size_t len = 3 * 1000 * 1000 + 17, zlen;
	uint8_t *img = image_make(len, 0, MiB(6), DEBIAN_FLAGS);
	uint8_t *gz = gzip_make(img, len, &zlen);
	struct kernel_image k;
	struct errbuf e;

	assert_true(zlen < len);
	file_write(f->path, gz, zlen);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), 0);
	assert_true(k.gzip);
	assert_int_equal(k.entry, RAM_BASE);
	assert_int_equal(k.file_bytes, len);
	assert_int_equal(k.image_size, MiB(6));
	assert_memory_equal(ram_at(f, RAM_BASE), img, len);
	assert_true(ram_is(f, RAM_BASE + len, SENTINEL, MiB(6) - len));
	free(gz);
	free(img);
}

static void test_gzip_text_offset(void **state)
{
	struct fixture *f = *state;
	size_t len = 100000, zlen;
	uint8_t *img = image_make(len, 0x400000, MiB(1), DEBIAN_FLAGS);
	uint8_t *gz = gzip_make(img, len, &zlen);
	struct kernel_image k;
	struct errbuf e;

	assert_int_equal(kernel_load_buf(gz, zlen, "Image.gz", &f->ram, ram_end(f), &k, &e), 0);
	assert_int_equal(k.entry, RAM_BASE + 0x400000);
	assert_memory_equal(ram_at(f, k.entry), img, len);
	assert_true(ram_is(f, RAM_BASE, SENTINEL, 0x400000));
	free(gz);
	free(img);
}

static void test_gzip_corrupt(void **state)
{
	struct fixture *f = *state;
	size_t len = 1000000, zlen;
	uint8_t *img = image_make(len, 0, MiB(2), DEBIAN_FLAGS);
	uint8_t *gz = gzip_make(img, len, &zlen);
	struct kernel_image k;
	struct errbuf e;
	char want[256];

	/* Damage inside the deflate stream: zlib rejects the data or its CRC. */
	for (size_t i = zlen / 2; i < zlen / 2 + 16; i++)
		gz[i] ^= 0x5a;
	file_write(f->path, gz, zlen);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), -ENOEXEC);
	snprintf(want, sizeof(want), "%s: corrupt gzip data (", f->path);
	assert_true(strncmp(e.msg, want, strlen(want)) == 0);

	/* A damaged gzip header is corrupt too. */
	free(gz);
	gz = gzip_make(img, len, &zlen);
	gz[2] = 7; /* compression method must be 8 (deflate) */
	assert_int_equal(kernel_load_buf(gz, zlen, "Image.gz", &f->ram, ram_end(f), &k, &e),
			 -ENOEXEC);
	assert_non_null(strstr(e.msg, "Image.gz: corrupt gzip data"));
	free(gz);
	free(img);
}

static void test_gzip_truncated(void **state)
{
	struct fixture *f = *state;
	size_t len = 1000000, zlen;
	uint8_t *img = image_make(len, 0, MiB(2), DEBIAN_FLAGS);
	uint8_t *gz = gzip_make(img, len, &zlen);
	struct kernel_image k;
	struct errbuf e;
	char want[256];

	file_write(f->path, gz, zlen / 2);
	assert_int_equal(kernel_load(f->path, &f->ram, ram_end(f), &k, &e), -ENOEXEC);
	snprintf(want, sizeof(want), "%s: truncated gzip data", f->path);
	assert_string_equal(e.msg, want);

	/* Missing half of the 8-byte CRC/size trailer is still truncated. */
	assert_int_equal(kernel_load_buf(gz, zlen - 4, "Image.gz", &f->ram, ram_end(f), &k, &e),
			 -ENOEXEC);
	assert_string_equal(e.msg, "Image.gz: truncated gzip data");

	/* Cut inside the gzip header: not even the Image header comes out. */
	assert_int_equal(kernel_load_buf(gz, 5, "Image.gz", &f->ram, ram_end(f), &k, &e), -ENOEXEC);
	assert_string_equal(e.msg, "Image.gz: truncated gzip data");
	free(gz);
	free(img);
}

static void test_gzip_short_image(void **state)
{
	struct fixture *f = *state;
	uint8_t *img = image_make(64, 0, MiB(1), DEBIAN_FLAGS);
	size_t zlen;
	uint8_t *gz = gzip_make(img, 40, &zlen);
	struct kernel_image k;
	struct errbuf e;

	assert_int_equal(kernel_load_buf(gz, zlen, "Image.gz", &f->ram, ram_end(f), &k, &e),
			 -ENOEXEC);
	assert_string_equal(e.msg, "Image.gz: truncated (40 bytes, shorter than the 64-byte arm64 "
				   "Image header)");
	free(gz);
	free(img);
}

/* A decompression bomb only fills the room it was given and stops with an error. */
static void test_gzip_bounded(void **state)
{
	struct fixture *f = *state;
	size_t len = MiB(12), zlen;
	uint64_t limit = RAM_BASE + MiB(8);
	uint8_t *img = image_make(len, 0, MiB(1), DEBIAN_FLAGS);
	uint8_t *gz;
	struct kernel_image k;
	struct errbuf e;

	memset(img + 64, 0, len - 64);
	gz = gzip_make(img, len, &zlen);
	assert_true(zlen < MiB(1));
	assert_int_equal(kernel_load_buf(gz, zlen, "bomb.gz", &f->ram, limit, &k, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "bomb.gz: decompressed kernel is larger than the 8.0 MiB"));
	assert_true(ram_is(f, limit, SENTINEL, ram_end(f) - limit));
	free(gz);
	free(img);
}

static void test_initrd(void **state)
{
	struct fixture *f = *state;
	uint8_t data[10000];
	uint64_t size = 0, gpa = RAM_BASE + MiB(40);
	struct errbuf e;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 3);
	file_write(f->path, data, sizeof(data));
	assert_int_equal(initrd_size(f->path, &size, &e), 0);
	assert_int_equal(size, sizeof(data));
	assert_int_equal(initrd_load(f->path, &f->ram, gpa, size, &e), 0);
	assert_memory_equal(ram_at(f, gpa), data, sizeof(data));
	assert_true(ram_is(f, gpa + size, SENTINEL, 4096));

	/* The file changed between measuring and loading. */
	assert_int_equal(initrd_load(f->path, &f->ram, gpa, size + 1, &e), -EIO);
	assert_non_null(strstr(e.msg, "changed size"));

	/* Placement outside RAM, or reaching past its end, is refused before any write. */
	assert_int_equal(initrd_load(f->path, &f->ram, ram_end(f) - 4096, size, &e), -EINVAL);
	assert_int_equal(initrd_load(f->path, &f->ram, RAM_BASE - 4096, size, &e), -EINVAL);
	assert_int_equal(initrd_load(f->path, &f->ram, ~0ULL - 10, size, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "outside RAM"));
}

static void test_initrd_bad_files(void **state)
{
	struct fixture *f = *state;
	uint64_t size = 0;
	struct errbuf e;
	char want[256];

	file_write(f->path, "", 0);
	assert_int_equal(initrd_size(f->path, &size, &e), -EINVAL);
	snprintf(want, sizeof(want), "%s: file is empty", f->path);
	assert_string_equal(e.msg, want);
	assert_int_equal(initrd_size(f->dir, &size, &e), -EISDIR);
	assert_int_equal(initrd_size("/nonexistent/initrd.img", &size, &e), -ENOENT);
	assert_string_equal(e.msg, "/nonexistent/initrd.img: No such file or directory");
}

static uint64_t page_size(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

/*
 * The file's pages replace RAM at the load address: the guest sees the file, zeros after its end
 * up to the page boundary, and untouched RAM beyond (BSS) and before; its writes never reach the
 * file.
 */
static void test_mapped_image(void **state)
{
	struct fixture *f = *state;
	uint64_t page = page_size();
	size_t len = 3 * page + 100, map_len = 4 * page;
	uint8_t *img = image_make(len, 0x200000, MiB(1), DEBIAN_FLAGS);
	uint8_t back[64];
	struct kernel_image k;
	struct errbuf e;
	FILE *fp;

	file_write(f->path, img, len);
	assert_int_equal(kernel_load_mapped(f->path, &f->ram, ram_end(f), page, &k, &e), 0);
	assert_int_equal(k.entry, RAM_BASE + 0x200000);
	assert_int_equal(k.file_bytes, len);
	assert_int_equal(k.mapped_bytes, map_len);
	assert_false(k.gzip);
	assert_memory_equal(ram_at(f, k.entry), img, len);
	assert_true(ram_is(f, k.entry + len, 0, map_len - len));
	assert_true(ram_is(f, k.entry + map_len, SENTINEL, MiB(1) - map_len));
	assert_true(ram_is(f, RAM_BASE, SENTINEL, 0x200000));

	/* Private: the guest's writes (relocations, .data) stay in RAM. */
	memset(ram_at(f, k.entry), 0x5a, 64);
	fp = fopen(f->path, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(back, 1, sizeof(back), fp), sizeof(back));
	fclose(fp);
	assert_memory_equal(back, img, sizeof(back));
	assert_true(ram_is(f, k.entry, 0x5a, 64));
	free(img);
}

/* What cannot be mapped is copied: Image.gz, and a load address off the page grid. */
static void test_mapped_fallbacks(void **state)
{
	struct fixture *f = *state;
	uint64_t page = page_size();
	size_t len = 2 * page + 1, zlen;
	uint8_t *img = image_make(len, 0x200000, MiB(1), DEBIAN_FLAGS);
	uint8_t *gz = gzip_make(img, len, &zlen);
	struct kernel_image k;
	struct errbuf e;

	file_write(f->path, gz, zlen);
	assert_int_equal(kernel_load_mapped(f->path, &f->ram, ram_end(f), page, &k, &e), 0);
	assert_true(k.gzip);
	assert_int_equal(k.mapped_bytes, 0);
	assert_memory_equal(ram_at(f, k.entry), img, len);

	put64(img + 8, 0x200000 + page / 2);
	file_write(f->path, img, len);
	assert_int_equal(kernel_load_mapped(f->path, &f->ram, ram_end(f), page, &k, &e), 0);
	assert_int_equal(k.mapped_bytes, 0);
	assert_int_equal(k.entry, RAM_BASE + 0x200000 + page / 2);
	assert_memory_equal(ram_at(f, k.entry), img, len);

	/* Hypervisor pages larger than the host's (HVF's 16 KiB on 4 KiB hosts) are honoured. */
	put64(img + 8, 0x200000 + page);
	file_write(f->path, img, len);
	assert_int_equal(kernel_load_mapped(f->path, &f->ram, ram_end(f), 2 * page, &k, &e), 0);
	assert_int_equal(k.mapped_bytes, 0);
	assert_memory_equal(ram_at(f, k.entry), img, len);

	assert_int_equal(kernel_load_mapped(f->path, &f->ram, ram_end(f), 3 * page, &k, &e),
			 -EINVAL);
	free(gz);
	free(img);
}

/* The checks of kernel_load apply unchanged: nothing is mapped for a kernel that does not fit. */
static void test_mapped_too_large(void **state)
{
	struct fixture *f = *state;
	uint64_t page = page_size();
	size_t len = 8 * page;
	uint8_t *img = image_make(len, 0, MiB(8), DEBIAN_FLAGS);
	struct kernel_image k = { 0 };
	struct errbuf e;

	file_write(f->path, img, len);
	assert_int_equal(kernel_load_mapped(f->path, &f->ram, RAM_BASE + MiB(4), page, &k, &e),
			 -E2BIG);
	assert_int_equal(k.mapped_bytes, 0);
	assert_true(ram_is(f, RAM_BASE, SENTINEL, MiB(8)));
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_debian_like_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fit_uses_image_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large_for_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_images, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_pe_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_tiny, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_too_large, setup_mapped, teardown),
		cmocka_unit_test_setup_teardown(test_raw_gzip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_mapped, setup_mapped, teardown),
		cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_text_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_short_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_bad_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mapped_image, setup_mapped, teardown),
		cmocka_unit_test_setup_teardown(test_mapped_fallbacks, setup_mapped, teardown),
		cmocka_unit_test_setup_teardown(test_mapped_too_large, setup_mapped, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

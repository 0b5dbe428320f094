/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_ARCH_LOADER_H
#define IGNITION_ARCH_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* The arm64 Image header (Documentation/arch/arm64/booting.rst). */
#define ARM64_IMAGE_MAGIC 0x644d5241u /* "ARM\x64" at offset 56 */
#define ARM64_IMAGE_HEADER_SIZE 64u
#define ARM64_IMAGE_FLAG_BE (1u << 0)
#define ARM64_IMAGE_FLAG_PAGE_SIZE_SHIFT 1
#define ARM64_IMAGE_FLAG_PHYS_BASE (1u << 3)

struct arm64_image_header {
	uint64_t text_offset;
	uint64_t image_size;
	uint64_t flags;
	unsigned page_size_kib; /* 0 when the header leaves it unspecified, else 4, 16 or 64 */
};

/* Validates an Image header (magic, endianness); `name` is used in error messages. */
int arm64_image_parse(const uint8_t *buf, size_t len, const char *name,
		      struct arm64_image_header *hdr, struct errbuf *e);

/* Where the guest's RAM is in this process. */
struct guest_ram {
	uint8_t *host;
	uint64_t gpa;
	uint64_t size;
};

struct kernel_image {
	uint64_t entry;        /* guest physical load address = entry point */
	uint64_t file_bytes;   /* bytes placed in RAM (decompressed size for Image.gz) */
	uint64_t image_size;   /* footprint including BSS, from the header (>= file_bytes) */
	uint64_t text_offset;
	uint64_t mapped_bytes; /* of the file mapped rather than copied (kernel_load_mapped) */
	bool gzip;
	bool raw;	       /* no Image header: loaded at RAM + 0x80000, entered at byte 0 */
};

/*
 * Loads an arm64 Image or Image.gz at the 2 MiB aligned RAM base + text_offset. Only the file's
 * bytes are written; BSS is satisfied by RAM that is already zero. The kernel's footprint must end
 * below `limit` (a guest physical address: the DTB, or the initrd once placed).
 * A file (or gzip stream) without the arm64 magic is a raw image, as for QEMU and kvmtool: loaded
 * at RAM + 0x80000, entered at its first byte, its footprint its length, with a note on stderr
 * (info level). One that starts "MZ" (a PE file, as EFI-stub Images are) is refused instead.
 */
int kernel_load(const char *path, const struct guest_ram *ram, uint64_t limit,
		struct kernel_image *k, struct errbuf *e);

/*
 * Same, but an uncompressed Image whose load address is page_size aligned in this process is
 * mapped from the file (MAP_PRIVATE | MAP_FIXED) instead of copied: set-up reads nothing, the
 * guest faults in what it touches from the page cache, and VMs booting one file share its clean
 * pages, at the price of a fault per page the guest touches (see vm.c for what that measured).
 * ram must be a private anonymous mapping the caller owns (the kernel's pages of it are
 * replaced; munmap of the whole RAM removes them). Image.gz, and anything mmap refuses, is copied.
 * The file must not be modified in place while the VM runs (replace it by renaming, as package
 * managers and install(1) do): its pages are the guest kernel's until the guest writes them.
 */
int kernel_load_mapped(const char *path, const struct guest_ram *ram, uint64_t limit,
		       uint64_t page_size, struct kernel_image *k, struct errbuf *e);

/* Same, from a buffer already in memory (the fuzzer's entry point; kernel_load uses it for .gz). */
int kernel_load_buf(const uint8_t *buf, size_t len, const char *name, const struct guest_ram *ram,
		    uint64_t limit, struct kernel_image *k, struct errbuf *e);

/* Size of the initrd file, checked (regular, readable, non-empty). */
int initrd_size(const char *path, uint64_t *size, struct errbuf *e);
/* Copies the initrd file to guest physical `gpa`, which the layout chose. */
int initrd_load(const char *path, const struct guest_ram *ram, uint64_t gpa, uint64_t size,
		struct errbuf *e);

#endif

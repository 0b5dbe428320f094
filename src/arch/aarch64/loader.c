// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "arch/aarch64/layout.h"
#include "arch/aarch64/loader.h"
#include "util/compiler.h"
#include "util/file.h"
#include "util/log.h"

/* Header fields (Documentation/arch/arm64/booting.rst). */
#define HDR_TEXT_OFFSET	    8
#define HDR_IMAGE_SIZE	    16
#define HDR_FLAGS	    24
#define HDR_MAGIC	    56
#define FLAG_PAGE_SIZE_MASK 3u

/* Kernels before v3.17 leave image_size zero; their text_offset is then 0x80000. */
#define LEGACY_TEXT_OFFSET 0x80000ULL
/* Where QEMU and kvmtool put a raw (headerless) image: the offset old kernels wanted. */
#define RAW_LOAD_OFFSET 0x80000ULL

static double mib(uint64_t bytes)
{
	return (double)bytes / (double)SZ_1M;
}

static bool is_gzip(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
}

int arm64_image_parse(const uint8_t *buf, size_t len, const char *name,
		      struct arm64_image_header *hdr, struct errbuf *e)
{
	static const unsigned page_kib[] = { 0, 4, 16, 64 };
	uint32_t magic;

	if (len < ARM64_IMAGE_HEADER_SIZE)
		return err_set(
			e, -ENOEXEC,
			"%s: truncated (%zu bytes, shorter than the %u-byte arm64 Image header)",
			name, len, ARM64_IMAGE_HEADER_SIZE);
	magic = get_le32(buf + HDR_MAGIC);
	if (magic != ARM64_IMAGE_MAGIC)
		return err_set(e, -ENOEXEC, "%s: not an arm64 Image (bad magic at offset %d)", name,
			       HDR_MAGIC);
	hdr->text_offset = get_le64(buf + HDR_TEXT_OFFSET);
	hdr->image_size = get_le64(buf + HDR_IMAGE_SIZE);
	hdr->flags = get_le64(buf + HDR_FLAGS);
	if (hdr->flags & ARM64_IMAGE_FLAG_BE)
		return err_set(e, -ENOEXEC,
			       "%s: big-endian arm64 Image; only little-endian kernels can boot",
			       name);
	if (!hdr->image_size)
		hdr->text_offset = LEGACY_TEXT_OFFSET;
	hdr->page_size_kib =
		page_kib[(hdr->flags >> ARM64_IMAGE_FLAG_PAGE_SIZE_SHIFT) & FLAG_PAGE_SIZE_MASK];
	return 0;
}

static bool is_pe(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[0] == 'M' && buf[1] == 'Z';
}

/*
 * What the first bytes of a kernel (after gunzip) say: an arm64 Image, whose header fills hdr, or
 * a raw image (*raw), loaded like QEMU's and kvmtool's at RAM + 0x80000 and entered at its first
 * byte, whatever its length. A PE file ("MZ", as an EFI-stub Image starts) without the arm64
 * magic is refused instead: a cut-short Image or an EFI application, neither of which can run.
 */
static int kernel_parse_head(const uint8_t *buf, size_t len, const char *name,
			     struct arm64_image_header *hdr, bool *raw, struct errbuf *e)
{
	*raw = false;
	if (len >= ARM64_IMAGE_HEADER_SIZE && get_le32(buf + HDR_MAGIC) == ARM64_IMAGE_MAGIC)
		return arm64_image_parse(buf, len, name, hdr, e);
	if (is_pe(buf, len) && len < ARM64_IMAGE_HEADER_SIZE)
		return err_set(
			e, -ENOEXEC,
			"%s: truncated (%zu bytes, shorter than the %u-byte arm64 Image header)",
			name, len, ARM64_IMAGE_HEADER_SIZE);
	if (is_pe(buf, len))
		return err_set(e, -ENOEXEC,
			       "%s: a PE/EFI file, not an arm64 Image (bad magic at offset %d)",
			       name, HDR_MAGIC);
	*raw = true;
	*hdr = (struct arm64_image_header){ .text_offset = RAW_LOAD_OFFSET };
	return 0;
}

static void kernel_note_raw(const char *name, const struct kernel_image *k)
{
	pr_info("%s: no arm64 Image header: loaded raw at %#llx, entered at its first byte", name,
		(unsigned long long)k->entry);
}

/* PE/COFF offsets (the EFI stub's header inside an arm64 Image). */
#define PE_OFFSET_FIELD	 0x3c
#define PE_NR_SECTIONS	 6
#define PE_OPT_SIZE	 20
#define PE_COFF_SIZE	 24
#define PE_SECTION_SIZE	 40
#define PE_SECT_RAW_SIZE 16
#define PE_SECT_RAW_PTR	 20
#define PE_MAX_SECTIONS	 96

/*
 * The file's real length, when an EFI stub's PE header (in the first `have` bytes) says so: the
 * end of the last section's raw data. 0 when there is no such header or it lies outside `have`:
 * image_size cannot tell a short file from BSS, so only the PE header can.
 */
static uint64_t pe_raw_end(const uint8_t *buf, size_t have)
{
	uint64_t pe, sect, end = 0;
	unsigned nr;

	if (have < ARM64_IMAGE_HEADER_SIZE || buf[0] != 'M' || buf[1] != 'Z')
		return 0;
	pe = get_le32(buf + PE_OFFSET_FIELD);
	if (pe > have || have - pe < PE_COFF_SIZE || memcmp(buf + pe, "PE\0\0", 4))
		return 0;
	nr = get_le16(buf + pe + PE_NR_SECTIONS);
	sect = pe + PE_COFF_SIZE + get_le16(buf + pe + PE_OPT_SIZE);
	if (!nr || nr > PE_MAX_SECTIONS || sect > have || (have - sect) / PE_SECTION_SIZE < nr)
		return 0;
	for (unsigned i = 0; i < nr; i++) {
		const uint8_t *sh = buf + sect + (uint64_t)i * PE_SECTION_SIZE;
		uint64_t raw_end =
			(uint64_t)get_le32(sh + PE_SECT_RAW_PTR) + get_le32(sh + PE_SECT_RAW_SIZE);

		end = max_u64(end, raw_end);
	}
	return end;
}

/* A file that ends before its own PE header's sections do was cut short (a partial copy). */
static int image_check_complete(const uint8_t *buf, size_t have, uint64_t file_bytes,
				const char *name, struct errbuf *e)
{
	uint64_t want = pe_raw_end(buf, have);

	if (want > file_bytes)
		return err_set(e, -ENOEXEC,
			       "%s: truncated (%llu bytes; its PE header says the Image is %llu)",
			       name, (unsigned long long)file_bytes, (unsigned long long)want);
	return 0;
}

static int ram_check_limit(const struct guest_ram *ram, uint64_t limit, struct errbuf *e)
{
	if (limit < ram->gpa || limit - ram->gpa > ram->size)
		return err_set(e, -EINVAL, "kernel limit 0x%llx lies outside RAM",
			       (unsigned long long)limit);
	return 0;
}

/*
 * Chooses the load address for a kernel with header h, of which file_bytes are known so far, and
 * checks that its footprint (BSS included) ends at or below limit.
 */
static int kernel_place(const struct arm64_image_header *h, bool raw, uint64_t file_bytes,
			const char *name, const struct guest_ram *ram, uint64_t limit,
			struct kernel_image *k, struct errbuf *e)
{
	uint64_t base = align_up(ram->gpa, KERNEL_ALIGN);
	uint64_t need = max_u64(h->image_size, file_bytes);
	uint64_t room = limit > base ? limit - base : 0;
	int ret;

	ret = ram_check_limit(ram, limit, e);
	if (ret)
		return ret;
	if (h->text_offset > room || need > room - h->text_offset)
		return err_set(
			e, -E2BIG,
			"%s: kernel needs %.1f MiB at offset 0x%llx but only %.1f MiB of RAM "
			"are free below 0x%llx",
			name, mib(need), (unsigned long long)h->text_offset, mib(room),
			(unsigned long long)limit);
	if (h->text_offset % KERNEL_ALIGN && !raw)
		pr_warn("%s: text_offset 0x%llx is not 2 MiB aligned; loading it there anyway",
			name, (unsigned long long)h->text_offset);
	*k = (struct kernel_image){
		.entry = base + h->text_offset,
		.file_bytes = file_bytes,
		.image_size = need,
		.text_offset = h->text_offset,
		.raw = raw,
	};
	return 0;
}

/* -EIO from file_pread_full() means the file ended early. */
static int read_error(struct errbuf *e, const char *path, int ret)
{
	return err_set(e, ret, "%s: read failed: %s", path,
		       ret == -EIO ? "file shrank while loading" : strerror(-ret));
}

static uint8_t *ram_host(const struct guest_ram *ram, uint64_t gpa)
{
	return ram->host + (gpa - ram->gpa);
}

struct gunzip {
	z_stream zs;
	const uint8_t *in;
	size_t in_left; /* not yet handed to zlib */
	bool end;
	const char *name;
};

static int gunzip_feed(struct gunzip *g, struct errbuf *e)
{
	size_t chunk = min_u64(g->in_left, UINT_MAX);

	if (!chunk)
		return err_set(e, -ENOEXEC, "%s: truncated gzip data", g->name);
	g->zs.next_in = (Bytef *)g->in;
	g->zs.avail_in = (uInt)chunk;
	g->in += chunk;
	g->in_left -= chunk;
	return 0;
}

/* Inflates into out until len bytes are produced or the stream ends. */
static int gunzip_fill(struct gunzip *g, uint8_t *out, uint64_t len, uint64_t *produced,
		       struct errbuf *e)
{
	*produced = 0;
	while (*produced < len && !g->end) {
		uInt room = (uInt)min_u64(len - *produced, UINT_MAX);
		int ret;

		if (!g->zs.avail_in) {
			ret = gunzip_feed(g, e);
			if (ret)
				return ret;
		}
		g->zs.next_out = out + *produced;
		g->zs.avail_out = room;
		ret = inflate(&g->zs, Z_NO_FLUSH);
		*produced += room - g->zs.avail_out;
		if (ret == Z_STREAM_END)
			g->end = true;
		else if (ret == Z_MEM_ERROR)
			return err_set(e, -ENOMEM, "%s: out of memory while decompressing",
				       g->name);
		else if (ret != Z_OK && ret != Z_BUF_ERROR)
			return err_set(e, -ENOEXEC, "%s: corrupt gzip data (%s)", g->name,
				       g->zs.msg ? g->zs.msg : zError(ret));
	}
	return 0;
}

/*
 * Image.gz: the header is inflated first to learn where the kernel goes, then the rest straight
 * into guest RAM, bounded by limit so a gzip bomb can only fill the space it was given.
 */
static int kernel_gunzip(struct gunzip *g, const struct guest_ram *ram, uint64_t limit,
			 struct kernel_image *k, struct errbuf *e)
{
	uint8_t hdr_buf[ARM64_IMAGE_HEADER_SIZE];
	struct arm64_image_header hdr;
	uint64_t n, rest;
	bool raw;
	int ret;

	ret = gunzip_fill(g, hdr_buf, sizeof(hdr_buf), &n, e);
	if (!ret && !n)
		ret = err_set(e, -ENOEXEC, "%s: the gzip data is empty", g->name);
	if (!ret)
		ret = kernel_parse_head(hdr_buf, (size_t)n, g->name, &hdr, &raw, e);
	if (!ret)
		ret = kernel_place(&hdr, raw, n, g->name, ram, limit, k, e);
	if (ret)
		return ret;
	memcpy(ram_host(ram, k->entry), hdr_buf, n);
	ret = gunzip_fill(g, ram_host(ram, k->entry + n), limit - k->entry - n, &rest, e);
	if (ret)
		return ret;
	if (!g->end)
		return err_set(e, -E2BIG,
			       "%s: decompressed kernel is larger than the %.1f MiB of RAM free "
			       "below 0x%llx",
			       g->name, mib(limit - k->entry), (unsigned long long)limit);
	k->file_bytes = n + rest;
	k->image_size = max_u64(k->image_size, k->file_bytes);
	ret = image_check_complete(ram_host(ram, k->entry), (size_t)min_u64(k->file_bytes, SZ_4K),
				   k->file_bytes, g->name, e);
	if (ret)
		return ret;
	k->gzip = true;
	return 0;
}

static int kernel_load_gzip(const uint8_t *buf, size_t len, const char *name,
			    const struct guest_ram *ram, uint64_t limit, struct kernel_image *k,
			    struct errbuf *e)
{
	struct gunzip g = { .in = buf, .in_left = len, .name = name };
	int ret;

	/* 16 + MAX_WBITS: gzip wrapper only, so a stray zlib stream is not mistaken for one. */
	if (inflateInit2(&g.zs, 16 + MAX_WBITS) != Z_OK)
		return err_set(e, -ENOMEM, "%s: cannot start decompression", name);
	ret = kernel_gunzip(&g, ram, limit, k, e);
	inflateEnd(&g.zs);
	return ret;
}

static int kernel_load_mem(const uint8_t *buf, size_t len, const char *name,
			   const struct guest_ram *ram, uint64_t limit, struct kernel_image *k,
			   struct errbuf *e)
{
	struct arm64_image_header hdr;
	bool raw;
	int ret;

	if (is_gzip(buf, len))
		return kernel_load_gzip(buf, len, name, ram, limit, k, e);
	if (!len)
		return err_set(e, -ENOEXEC, "%s: empty", name);
	ret = kernel_parse_head(buf, len, name, &hdr, &raw, e);
	if (!ret)
		ret = image_check_complete(buf, len, len, name, e);
	if (!ret)
		ret = kernel_place(&hdr, raw, len, name, ram, limit, k, e);
	if (ret)
		return ret;
	memcpy(ram_host(ram, k->entry), buf, len);
	return 0;
}

int kernel_load_buf(const uint8_t *buf, size_t len, const char *name, const struct guest_ram *ram,
		    uint64_t limit, struct kernel_image *k, struct errbuf *e)
{
	int ret = kernel_load_mem(buf, len, name, ram, limit, k, e);

	if (!ret && k->raw)
		kernel_note_raw(name, k);
	return ret;
}

static int kernel_read_gzip(int fd, uint64_t size, const char *path, const struct guest_ram *ram,
			    uint64_t limit, struct kernel_image *k, struct errbuf *e)
{
	uint8_t *buf;
	int ret;

	/* gzip never shrinks a kernel to less than its compressed size: bigger cannot fit. */
	if (size > ram->size)
		return err_set(e, -E2BIG, "%s: %.1f MiB compressed is more than all of RAM", path,
			       mib(size));
	buf = malloc((size_t)size);
	if (!buf)
		return err_set(e, -ENOMEM, "%s: out of memory reading %.1f MiB", path, mib(size));
	ret = file_pread_full(fd, buf, (size_t)size, 0);
	if (ret)
		read_error(e, path, ret);
	else
		ret = kernel_load_mem(buf, (size_t)size, path, ram, limit, k, e);
	free(buf);
	return ret;
}

/*
 * Puts the file's pages over guest RAM at dst: MAP_PRIVATE, so the guest's writes (relocations,
 * .data) stay its own, and MAP_FIXED, replacing the anonymous RAM there. The last page reads as
 * zeros past the end of the file, and BSS beyond that page is still the anonymous RAM. Nothing is
 * read now: the guest faults in the pages it touches, straight from the page cache.
 */
static int kernel_mmap(int fd, uint8_t *dst, uint64_t len)
{
	if (mmap(dst, (size_t)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0) !=
	    MAP_FAILED)
		return 0;
	/* A failed MAP_FIXED may have unmapped the range: make it RAM again before copying there. */
	if (mmap(dst, (size_t)len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) == MAP_FAILED)
		return -errno;
	return 1;
}

/*
 * An uncompressed Image is mapped when the caller allows it (page != 0) and the load address is
 * page aligned in this process; otherwise it is read straight into guest RAM, never staged.
 */
static int kernel_read_image(int fd, uint64_t size, const uint8_t *head, size_t head_len,
			     const char *path, const struct guest_ram *ram, uint64_t limit,
			     uint64_t page, struct kernel_image *k, struct errbuf *e)
{
	struct arm64_image_header hdr;
	uint8_t *dst;
	uint64_t len;
	bool raw;
	int ret;

	ret = kernel_parse_head(head, head_len, path, &hdr, &raw, e);
	if (!ret)
		ret = image_check_complete(head, head_len, size, path, e);
	if (!ret)
		ret = kernel_place(&hdr, raw, size, path, ram, limit, k, e);
	if (ret)
		return ret;
	dst = ram_host(ram, k->entry);
	len = page ? align_up(size, page) : 0;
	if (page && !((uintptr_t)dst % page) && len <= ram->size - (k->entry - ram->gpa)) {
		ret = kernel_mmap(fd, dst, len);
		if (ret < 0)
			return err_set(e, ret, "%s: guest RAM lost while mapping the kernel: %s",
				       path, strerror(-ret));
		if (ret == 0) {
			k->mapped_bytes = len;
			return 0;
		}
	}
	ret = file_pread_full(fd, dst, (size_t)size, 0);
	if (ret)
		return read_error(e, path, ret);
	return 0;
}

static int kernel_open_load(const char *path, const struct guest_ram *ram, uint64_t limit,
			    uint64_t page, struct kernel_image *k, struct errbuf *e)
{
	uint8_t head[SZ_4K]; /* the Image header and the PE header after it */
	size_t head_len;
	uint64_t size;
	int fd, ret;

	ret = file_open_regular(path, &fd, &size, e);
	if (ret)
		return ret;
	head_len = (size_t)min_u64(size, sizeof(head));
	ret = file_pread_full(fd, head, head_len, 0);
	if (ret)
		read_error(e, path, ret);
	else if (is_gzip(head, head_len))
		ret = kernel_read_gzip(fd, size, path, ram, limit, k, e);
	else
		ret = kernel_read_image(fd, size, head, head_len, path, ram, limit, page, k, e);
	close(fd);
	if (!ret && k->raw)
		kernel_note_raw(path, k);
	return ret;
}

int kernel_load(const char *path, const struct guest_ram *ram, uint64_t limit,
		struct kernel_image *k, struct errbuf *e)
{
	return kernel_open_load(path, ram, limit, 0, k, e);
}

int kernel_load_mapped(const char *path, const struct guest_ram *ram, uint64_t limit,
		       uint64_t page_size, struct kernel_image *k, struct errbuf *e)
{
	if (!is_power_of_2(page_size))
		return err_set(e, -EINVAL, "page size %#llx is not a power of two",
			       (unsigned long long)page_size);
	return kernel_open_load(path, ram, limit, page_size, k, e);
}

int initrd_size(const char *path, uint64_t *size, struct errbuf *e)
{
	int fd, ret;

	ret = file_open_regular(path, &fd, size, e);
	if (!ret)
		close(fd);
	return ret;
}

int initrd_load(const char *path, const struct guest_ram *ram, uint64_t gpa, uint64_t size,
		struct errbuf *e)
{
	uint64_t now;
	int fd, ret;

	if (gpa < ram->gpa || gpa - ram->gpa > ram->size || size > ram->size - (gpa - ram->gpa))
		return err_set(e, -EINVAL, "%s: initrd at 0x%llx (%llu bytes) lies outside RAM",
			       path, (unsigned long long)gpa, (unsigned long long)size);
	ret = file_open_regular(path, &fd, &now, e);
	if (ret)
		return ret;
	if (now != size)
		ret = err_set(e, -EIO, "%s: changed size while loading (%llu, now %llu bytes)",
			      path, (unsigned long long)size, (unsigned long long)now);
	else
		ret = file_pread_full(fd, ram_host(ram, gpa), (size_t)size, 0);
	if (ret && now == size)
		read_error(e, path, ret);
	close(fd);
	return ret;
}

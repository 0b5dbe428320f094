// SPDX-License-Identifier: MIT
/*
 * FDT and command line building from option values: vCPU count, RAM size, GIC geometry, initrd
 * range, virtio slots, rng-seed, --cmdline / --append strings and the disk flags all come from the
 * input; so does the size of the buffer, which is a malloc block of exactly that size.
 *
 * Checked: the command line is exactly the concatenation the options ask for, or refused for its
 * length; the GIC lies between the virtio window and RAM; a built tree passes fdt_check_full() and
 * holds what was asked (bootargs, one node per vCPU and virtio slot, initrd range, seed); a tree
 * refused for space really is larger than the buffer; every failure is a one-line message.
 *
 * Input: u8 vCPUs (>= 0xf0: a u8 count follows), u8 flags, u16 RAM MiB (or u64 bytes), u8 virtio slots, u16 buffer size - 64,
 * then the GIC geometry, the initrd, the seed and the two strings as the flags say.
 */
#include <errno.h>

#include <libfdt.h>

#include "arch/aarch64/cmdline.h"
#include "arch/aarch64/fdt.h"
#include "arch/aarch64/layout.h"
#include "tests/fuzz/fuzz.h"
#include "util/compiler.h"

#define F_INITRD     0x01
#define F_DISK	     0x02
#define F_ROOT_RO    0x04
#define F_REPLACE    0x08
#define F_APPEND     0x10
#define F_SEED	     0x20
#define F_GIC_RAW    0x40
#define F_RAW_RANGES 0x80

#define STR_MAX 4096
/* The largest tree (128 vCPUs, 32 slots, 2 KiB of bootargs, a 255-byte seed) is under 20 KiB. */
#define BUF_MAX	    (64 + 0xffff)
#define BIG_BUFSIZE (64 * 1024)

struct fuzz_fdt {
	char replace[STR_MAX], append[STR_MAX];
	char cmdline[CMDLINE_MAX];
	uint8_t seed[256];
	struct fdt_virtio_slot slots[VIRTIO_MMIO_SLOTS];
	uint8_t *buf; /* BUF_MAX bytes */
	uint8_t *big;
};

static struct fuzz_fdt *ff;

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
/*
 * Replaces ASan's memcmp interceptor (a weak symbol) for the whole process, libfdt included.
 * libfdt looks every property name up in the strings table with one memcmp per byte offset, and
 * libFuzzer's hook on each call made this target five times slower; this loop's loads are still
 * checked by ASan. No coverage: it would only count string table offsets. (Without ASan,
 * libFuzzer's own interceptors define memcmp.)
 */
__attribute__((no_sanitize("coverage"))) int memcmp(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *p = a, *q = b;

	for (size_t i = 0; i < n; i++)
		if (p[i] != q[i])
			return p[i] < q[i] ? -1 : 1;
	return 0;
}
#endif
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	ff = calloc(1, sizeof(*ff));
	if (!ff || !(ff->big = malloc(BIG_BUFSIZE)) || !(ff->buf = malloc(BUF_MAX)))
		abort();
	return 0;
}

static void error_check(int r, const struct errbuf *e)
{
	FUZZ_CHECK(r < 0);
	FUZZ_CHECK(e->msg[0] && !strchr(e->msg, '\n'));
}

/* The model: base, the root= part, a space before --append, --append. */
static void cmdline_expect(const struct cmdline_opts *o, char *out, size_t size)
{
	const char *base = o->replace ? o->replace : CMDLINE_DEFAULT;
	const char *root = "";

	if (!o->replace && o->has_disk)
		root = o->root_ro ? " root=/dev/vda ro" : " root=/dev/vda rw";
	snprintf(out, size, "%s%s%s%s", base, root, o->append && *base ? " " : "",
		 o->append ? o->append : "");
}

/* The command line, or NULL when it was refused (as the VMM would stop there). */
static const char *cmdline_try(struct fuzz_in *in, uint8_t flags)
{
	struct cmdline_opts o = {
		.has_disk = flags & F_DISK,
		.root_ro = flags & F_ROOT_RO,
	};
	static char expect[2 * STR_MAX + 256];
	struct errbuf e = { .msg = "" };
	int r;

	if (flags & F_REPLACE)
		o.replace = fz_str(in, ff->replace, sizeof(ff->replace));
	if (flags & F_APPEND)
		o.append = fz_str(in, ff->append, sizeof(ff->append));
	cmdline_expect(&o, expect, sizeof(expect));
	r = cmdline_build(ff->cmdline, &o, &e);
	if (strlen(expect) >= CMDLINE_MAX) {
		FUZZ_CHECK(r == -E2BIG);
		error_check(r, &e);
		return NULL;
	}
	FUZZ_CHECK(r == 0 && !strcmp(ff->cmdline, expect));
	return ff->cmdline;
}

/*
 * Mostly a few vCPUs, sometimes any count: libfdt looks up every property name in the strings
 * table with one memcmp per byte, and libFuzzer hooks each memcmp, so big trees are slow.
 */
static unsigned vcpus_read(struct fuzz_in *in)
{
	uint8_t sel = fz_u8(in);

	return sel >= 0xf0 ? fz_u8(in) : sel % 20u;
}

static uint64_t align_read(struct fuzz_in *in)
{
	uint8_t sel = fz_u8(in);

	if (sel & 0x80)
		return fz_u32(in);
	return sel ? 1ULL << (sel % 40) : 0;
}

static void gic_read(struct fuzz_in *in, uint8_t flags, struct gic_geometry *g)
{
	if (!(flags & F_GIC_RAW)) {
		*g = (struct gic_geometry){ .dist_size = 0x10000,
					    .redist_size_per_cpu = 0x20000,
					    .dist_align = 0x10000,
					    .redist_align = 0x10000 };
		return;
	}
	g->dist_size = fz_u32(in);
	g->redist_size_per_cpu = fz_u32(in);
	g->dist_align = align_read(in);
	g->redist_align = align_read(in);
}

static void layout_check(const struct layout *l)
{
	uint64_t virtio_end = VIRTIO_MMIO_BASE + VIRTIO_MMIO_SLOTS * VIRTIO_MMIO_SIZE;

	FUZZ_CHECK(l->gicd_base >= virtio_end);
	FUZZ_CHECK(l->gicd_base + l->gicd_size <= l->gicr_base);
	FUZZ_CHECK(l->gicr_base + l->gicr_size <= RAM_BASE);
	FUZZ_CHECK(l->fdt_base == RAM_BASE + l->ram_size - FDT_MAX_SIZE);
	FUZZ_CHECK(l->nr_vcpus >= 1 && l->nr_vcpus <= MAX_VCPUS);
}

/* Initrd placed by the layout as the VMM does, or (F_RAW_RANGES) any range at all. */
static int initrd_read(struct fuzz_in *in, uint8_t flags, const struct layout *l,
		       struct fdt_desc *d)
{
	struct errbuf e = { .msg = "" };
	uint64_t size;
	int r;

	d->has_initrd = flags & F_INITRD;
	if (!d->has_initrd)
		return 0;
	if (flags & F_RAW_RANGES) {
		d->initrd_start = fz_u64(in);
		d->initrd_end = fz_u64(in);
		return 0;
	}
	size = fz_u32(in);
	r = layout_place_initrd(l, size, &d->initrd_start, &e);
	if (r) {
		error_check(r, &e);
		return r;
	}
	FUZZ_CHECK(d->initrd_start >= l->ram_base && d->initrd_start % INITRD_ALIGN == 0);
	FUZZ_CHECK(d->initrd_start + size <= l->fdt_base);
	d->initrd_end = d->initrd_start + size;
	return 0;
}

static int subnodes(const void *fdt, const char *path, const char *prefix)
{
	int parent = fdt_path_offset(fdt, path), n = 0, node;

	FUZZ_CHECK(parent >= 0);
	fdt_for_each_subnode(node, fdt, parent)
	{
		const char *name = fdt_get_name(fdt, node, NULL);

		n += name && !strncmp(name, prefix, strlen(prefix));
	}
	return n;
}

static void prop_check(const void *fdt, const char *path, const char *name, const void *val,
		       size_t len)
{
	int node = fdt_path_offset(fdt, path), plen;
	const void *p;

	FUZZ_CHECK(node >= 0);
	p = fdt_getprop(fdt, node, name, &plen);
	FUZZ_CHECK(p && (size_t)plen == len && !memcmp(p, val, len));
}

static void tree_check(const void *fdt, size_t bufsize, const struct fdt_desc *d)
{
	fdt64_t start = cpu_to_fdt64(d->initrd_start), end = cpu_to_fdt64(d->initrd_end);
	const char *bootargs = d->bootargs ? d->bootargs : "";

	FUZZ_CHECK(fdt_check_full(fdt, bufsize) == 0);
	FUZZ_CHECK(fdt_size(fdt) <= bufsize);
	FUZZ_CHECK(subnodes(fdt, "/cpus", "cpu@") == (int)d->layout->nr_vcpus);
	FUZZ_CHECK(subnodes(fdt, "/", "virtio_mmio@") == (int)d->nr_virtio);
	prop_check(fdt, "/chosen", "bootargs", bootargs, strlen(bootargs) + 1);
	if (d->has_initrd) {
		prop_check(fdt, "/chosen", "linux,initrd-start", &start, sizeof(start));
		prop_check(fdt, "/chosen", "linux,initrd-end", &end, sizeof(end));
	}
	if (d->rng_seed_len)
		prop_check(fdt, "/chosen", "rng-seed", d->rng_seed, d->rng_seed_len);
}

/*
 * The buffer ends at most 7 bytes before its malloc block ends (libfdt wants 8-byte alignment):
 * ASan catches a write past the block, the canary one into those last bytes.
 */
static void fdt_try(const struct fdt_desc *d, size_t bufsize)
{
	size_t start = align_down(BUF_MAX - bufsize, 8), slack = BUF_MAX - start - bufsize;
	uint8_t *buf = ff->buf + start;
	struct errbuf e = { .msg = "" };
	int r;

	memset(buf + bufsize, 0xcc, slack);
	r = fdt_build(buf, bufsize, d, &e);
	for (size_t i = 0; i < slack; i++)
		FUZZ_CHECK(buf[bufsize + i] == 0xcc);
	if (!r) {
		tree_check(buf, bufsize, d);
	} else if (r == -ENOSPC) {
		error_check(r, &e);
		FUZZ_CHECK(fdt_build(ff->big, BIG_BUFSIZE, d, &e) == 0);
		FUZZ_CHECK(fdt_size(ff->big) > bufsize);
	} else {
		error_check(r, &e);
		FUZZ_CHECK(r == -EINVAL && d->has_initrd && d->initrd_end < d->initrd_start);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);
	unsigned nr_vcpus = vcpus_read(&in);
	uint8_t flags = fz_u8(&in);
	uint16_t mib = fz_u16(&in);
	uint64_t ram_size = mib == 0xffff ? fz_u64(&in) : (uint64_t)mib << 20;
	struct fdt_desc d = { .nr_virtio = fz_u8(&in) % (VIRTIO_MMIO_SLOTS + 1) };
	size_t bufsize = 64 + (size_t)fz_u16(&in);
	struct errbuf e = { .msg = "" };
	struct gic_geometry gic;
	struct layout l;
	int r;

	gic_read(&in, flags, &gic);
	r = layout_init(&l, ram_size, nr_vcpus, &gic, &e);
	if (r) {
		error_check(r, &e);
		return 0;
	}
	layout_check(&l);
	d.layout = &l;
	if (initrd_read(&in, flags, &l, &d))
		return 0;
	for (unsigned i = 0; i < d.nr_virtio; i++)
		ff->slots[i] = (struct fdt_virtio_slot){ .base = layout_virtio_base(i),
							 .size = VIRTIO_MMIO_SIZE,
							 .spi = layout_virtio_spi(i) };
	d.virtio = ff->slots;
	if (flags & F_SEED) {
		const uint8_t *seed = fz_take(&in, fz_u8(&in), &d.rng_seed_len);

		memcpy(ff->seed, seed, d.rng_seed_len);
		d.rng_seed = ff->seed;
	}
	d.bootargs = cmdline_try(&in, flags);
	fdt_try(&d, bufsize);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * Just enough of a flattened device tree reader to find RAM, the UART, the virtio-mmio slots,
 * the GIC, the CPUs and the PSCI method. Every offset is checked against the blob's own sizes;
 * a blob that does not parse leaves ignition's fixed layout (docs/architecture.md) in place.
 */
#include "bg.h"

#define FDT_MAGIC      0xd00dfeedu
#define FDT_MAX_SIZE   (2 * SZ_1M)
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE   2u
#define FDT_PROP       3u
#define FDT_NOP	       4u
#define FDT_END	       9u

static u32 be32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

static u64 be64(const u8 *p)
{
	return (u64)be32(p) << 32 | be32(p + 4);
}

struct blob {
	const u8 *base;
	u32 st_off, st_end; /* structure block */
	u32 str_off, str_size; /* strings block */
};

/* The node being read at depth 1 or 2 (the CPU nodes live under /cpus). */
struct node {
	char name[32];
	const u8 *reg;
	u32 reg_len;
	const char *compat;
	u32 compat_len;
	const char *dtype;
	const u8 *method;
	const u8 *bootargs;
	u32 bootargs_len;
};

static bool compat_has(const struct node *n, const char *want)
{
	u32 i = 0;

	while (n->compat && i < n->compat_len) {
		const char *s = n->compat + i;
		u32 len = 0;

		while (i + len < n->compat_len && s[len])
			len++;
		if (i + len < n->compat_len && !strcmp(s, want))
			return true;
		i += len + 1;
	}
	return false;
}

static bool name_is(const struct node *n, const char *base)
{
	size_t i = 0;

	while (base[i] && n->name[i] == base[i])
		i++;
	return !base[i] && (n->name[i] == '\0' || n->name[i] == '@');
}

/* The root's #address-cells and #size-cells are 2 in ignition's tree; reg is (addr, size) pairs. */
static bool reg_pair(const struct node *n, unsigned idx, u64 *addr, u64 *size)
{
	if (!n->reg || n->reg_len < (idx + 1) * 16)
		return false;
	*addr = be64(n->reg + idx * 16);
	*size = be64(n->reg + idx * 16 + 8);
	return true;
}

static void node_commit_top(const struct node *n, struct machine *m)
{
	u64 a, s;

	if (n->dtype && !strcmp(n->dtype, "memory") && reg_pair(n, 0, &a, &s)) {
		m->ram_base = a;
		m->ram_size = s;
	} else if (compat_has(n, "ns16550a") && reg_pair(n, 0, &a, &s)) {
		m->uart = a;
	} else if (compat_has(n, "virtio,mmio") && reg_pair(n, 0, &a, &s)) {
		if (m->nr_virtio < MAX_VIRTIO)
			m->virtio[m->nr_virtio++] = a;
	} else if (compat_has(n, "arm,gic-v3") && reg_pair(n, 0, &a, &s)) {
		m->gicd = a;
		m->gicd_size = s;
		if (reg_pair(n, 1, &a, &s)) {
			m->gicr = a;
			m->gicr_size = s;
		}
	} else if (name_is(n, "psci") && n->method) {
		m->psci_hvc = !strcmp((const char *)n->method, "hvc");
	} else if (name_is(n, "chosen") && n->bootargs) {
		u32 len = n->bootargs_len < sizeof(m->bootargs) ? n->bootargs_len :
								  sizeof(m->bootargs) - 1;

		memcpy(m->bootargs, n->bootargs, len);
		m->bootargs[len] = '\0';
	}
}

static void node_commit_cpu(const struct node *n, struct machine *m)
{
	/* /cpus has #address-cells 1: reg is the MPIDR affinity. */
	if (!n->dtype || strcmp(n->dtype, "cpu") || !n->reg || n->reg_len < 4)
		return;
	if (m->nr_cpus < MAX_CPUS)
		m->mpidr[m->nr_cpus] = be32(n->reg);
	m->nr_cpus++;
}

/* A property value that must be a NUL-terminated string inside its length. */
static const char *prop_str(const u8 *v, u32 len)
{
	return len && v[len - 1] == '\0' ? (const char *)v : NULL;
}

static void prop_take(struct node *n, const char *name, const u8 *v, u32 len)
{
	if (!strcmp(name, "reg")) {
		n->reg = v;
		n->reg_len = len;
	} else if (!strcmp(name, "compatible") && prop_str(v, len)) {
		n->compat = (const char *)v;
		n->compat_len = len;
	} else if (!strcmp(name, "device_type")) {
		n->dtype = prop_str(v, len);
	} else if (!strcmp(name, "method")) {
		n->method = (const u8 *)prop_str(v, len);
	} else if (!strcmp(name, "bootargs") && prop_str(v, len)) {
		n->bootargs = v;
		n->bootargs_len = len - 1;
	}
}

static bool blob_open(u64 dtb, struct blob *b)
{
	const u8 *p = (const u8 *)(uintptr_t)dtb;
	u32 total, st_size;

	if (!dtb || (dtb & 7) || be32(p) != FDT_MAGIC)
		return false;
	total = be32(p + 4);
	b->base = p;
	b->st_off = be32(p + 8);
	b->str_off = be32(p + 12);
	b->str_size = be32(p + 32);
	st_size = be32(p + 36);
	if (total > FDT_MAX_SIZE || b->st_off > total || st_size > total - b->st_off ||
	    b->str_off > total || b->str_size > total - b->str_off || (b->st_off & 3))
		return false;
	b->st_end = b->st_off + st_size;
	return true;
}

/* The node name at off, copied (truncated) into n->name; returns the 4-aligned end, or 0. */
static u32 node_name(const struct blob *b, u32 off, struct node *n)
{
	u32 i = 0;

	while (off + i < b->st_end && b->base[off + i]) {
		if (i < sizeof(n->name) - 1)
			n->name[i] = (char)b->base[off + i];
		i++;
	}
	if (off + i >= b->st_end)
		return 0;
	n->name[i < sizeof(n->name) - 1 ? i : sizeof(n->name) - 1] = '\0';
	return (off + i + 1 + 3) & ~3u;
}

static const char *prop_name(const struct blob *b, u32 nameoff)
{
	u32 i;

	if (nameoff >= b->str_size)
		return NULL;
	for (i = nameoff; i < b->str_size; i++)
		if (!b->base[b->str_off + i])
			return (const char *)b->base + b->str_off + nameoff;
	return NULL;
}

static bool blob_walk(const struct blob *b, struct machine *m)
{
	struct node nodes[4]; /* root, top-level, under /cpus; [3] takes anything deeper */
	unsigned depth = 0;
	u32 off = b->st_off;

	while (off + 4 <= b->st_end) {
		u32 tok = be32(b->base + off), len, nameoff;
		const char *name;

		off += 4;
		switch (tok) {
		case FDT_BEGIN_NODE:
			memset(&nodes[depth < 3 ? depth : 3], 0, sizeof(nodes[0]));
			off = node_name(b, off, &nodes[depth < 3 ? depth : 3]);
			if (!off)
				return false;
			depth++;
			break;
		case FDT_END_NODE:
			if (!depth)
				return false;
			depth--;
			if (depth == 1)
				node_commit_top(&nodes[1], m);
			else if (depth == 2 && name_is(&nodes[1], "cpus"))
				node_commit_cpu(&nodes[2], m);
			break;
		case FDT_PROP:
			if (off + 8 > b->st_end)
				return false;
			len = be32(b->base + off);
			nameoff = be32(b->base + off + 4);
			off += 8;
			if (len > b->st_end - off)
				return false;
			name = prop_name(b, nameoff);
			if (name && depth >= 1 && depth <= 3)
				prop_take(&nodes[depth - 1], name, b->base + off, len);
			off = (off + len + 3) & ~3u;
			break;
		case FDT_NOP:
			break;
		case FDT_END:
			return depth == 0;
		default:
			return false;
		}
	}
	return false;
}

/* ignition's fixed layout (src/arch/aarch64/layout.h), for a blob that does not parse. */
static void machine_defaults(struct machine *m)
{
	memset(m, 0, sizeof(*m));
	m->ram_base = 0x40000000;
	m->ram_size = 512 * SZ_1M;
	m->uart = 0x09000000;
	m->psci_hvc = true;
}

/* Without a usable tree, find the virtio-mmio slots by their magic value. */
static void virtio_probe_slots(struct machine *m)
{
	for (unsigned i = 0; i < MAX_VIRTIO; i++) {
		u64 base = 0x0a000000 + 0x200ULL * i;

		if (rd32(base) == 0x74726976)
			m->virtio[m->nr_virtio++] = base;
	}
}

void fdt_scan(u64 dtb, struct machine *m)
{
	struct blob b;
	struct machine found;

	machine_defaults(m);
	memset(&found, 0, sizeof(found));
	if (blob_open(dtb, &b) && blob_walk(&b, &found) && found.uart && found.ram_size) {
		found.dtb_ok = true;
		*m = found;
		return;
	}
	virtio_probe_slots(m);
}

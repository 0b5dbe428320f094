// SPDX-License-Identifier: MIT
/*
 * virtio-rng (src/devices/virtio/rng.c) through the virtio-mmio transport, driven by the tests'
 * virtio driver on 128 KiB of guest RAM: chains of any shape (1-8 segments, readable and writable
 * in any order, indirect, outside RAM, huge lengths, over the rings), raw descriptors, RAM
 * scribbles, register writes, resets, and a host random source that returns short, fails or is
 * interrupted. The device is served on the notifying thread, as in the VMM.
 *
 * getrandom() is replaced here (the device's only way to write data): it fills with a pattern,
 * fails as the input says, and checks where it writes.
 *
 * Input: u8 features (bit 0 EVENT_IDX, bit 1 INDIRECT_DESC), u8 queue size (2^(n % 5)); then
 * operations until the end, each a u8 selector then its fields:
 *   0 chain    u8 shape (bits 0-2 segments - 1, bit 3 indirect, bit 4 not notified), then per
 *              segment u8 flags (bit 0 writable, bit 1 past the end of RAM, bit 2 huge length,
 *              bit 3 anywhere in RAM, rings included), u16 offset, u16 length
 *   1 raw      u8 descriptor, u8 address kind, u16 offset, u32 length, u16 flags, u16 next,
 *              u8 bit 0: make that descriptor available as a head
 *   2 notify   u8 queue index
 *   3 patch    u16 offset, u8 length, bytes: the driver scribbles on RAM
 *   4 restart  u8 features, u8 queue size, as at the start
 *   5 ack      acknowledge InterruptStatus
 *   6 register u8 register (offset / 4), u32 value
 *   7 source   u8: how the host random source behaves from now on
 *   8 read     u8 offset, u8 width: any register or config read
 * Checked: every byte the device writes lies in RAM; until the driver state is scribbled on,
 * every byte that changes in RAM lies in a writable segment of a chain the driver made available
 * or in the used ring, every used element names such a chain with a length within its writable
 * bytes (and 64 KiB), and the lengths add up to what the random source gave; the interrupt line
 * equals InterruptStatus != 0 after every operation.
 */
#include <errno.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices/virtio/queue.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/virtio.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_ring.h"
#include "tests/unit/virtio/driver.h"
#include "util/compiler.h"

#define RAM	    (128u * 1024)
#define QMAX	    16u
#define SEGS_MAX    8u
#define RNG_REQ_MAX (64u * 1024)

/*
 * The harness's own bookkeeping, kept out of the coverage map: its loops over RAM and chains
 * are no feature of the device, and tracing their comparisons cost more than the device (not
 * inlined: coverage is added after inlining, by the caller's attributes).
 */
#define HARNESS __attribute__((no_sanitize("coverage"), noinline))

struct chain {
	bool live;
	unsigned n;
	struct vdrv_buf b[SEGS_MAX];
	uint64_t writable;
};

static struct {
	struct vdrv d;
	uint8_t *snap;
	uint64_t data; /* first guest address past the rings */
	uint16_t num;
	/* The driver's state was scribbled on (or made by hand): used elements prove nothing. */
	bool loose;
	struct chain chains[QMAX];
	/* The host random source. */
	bool armed;
	uint8_t source;
	unsigned calls;
	uint64_t filled;
	uint8_t pattern;
} r;

HARNESS static bool in_ram(const uint8_t *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)r.d.ram;

	return a >= base && a - base <= RAM && len <= RAM - (a - base);
}

/* Inside a device-writable segment of a chain the driver has made available and not got back. */
HARNESS static bool in_writable(uint64_t gpa, uint64_t len)
{
	for (unsigned h = 0; h < QMAX; h++) {
		const struct chain *c = &r.chains[h];

		if (!c->live)
			continue;
		for (unsigned i = 0; i < c->n; i++)
			if (c->b[i].write && gpa >= c->b[i].gpa &&
			    gpa - c->b[i].gpa + len <= c->b[i].len)
				return true;
	}
	return false;
}

/*
 * The device's random source. Modes (source bits 0-2): 1 at most 1..32 bytes a call (bits
 * 3-7), 2 EINTR on every other call, 3 fails with EIO after 0..3 calls (bits 3-4), 4 returns 0
 * (nothing), 5 EAGAIN, else fills all it is asked for.
 */
ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
	size_t n = len;

	if (!r.armed)
		return syscall(SYS_getrandom, buf, len, flags);
	r.calls++;
	switch (r.source & 7) {
	case 1:
		n = min_u64(len, (r.source >> 3) % 32 + 1);
		break;
	case 2:
		if (r.calls % 2) {
			errno = EINTR;
			return -1;
		}
		break;
	case 3:
		if (r.calls > (unsigned)(r.source >> 3) % 4) {
			errno = EIO;
			return -1;
		}
		break;
	case 4:
		return 0;
	case 5:
		errno = EAGAIN;
		return -1;
	default:
		break;
	}
	FUZZ_CHECK(in_ram(buf, n));
	if (!r.loose)
		FUZZ_CHECK(in_writable(VDRV_RAM_GPA + (uint64_t)((uint8_t *)buf - r.d.ram), n));
	memset(buf, r.pattern++, n);
	r.filled += n;
	return (ssize_t)n;
}

/* Takes the used elements; while the driver state is sound each must answer a live chain. */
static uint64_t used_take(void)
{
	uint64_t sum = 0;
	uint32_t id, len;

	for (unsigned k = 0; k < QMAX && vdrv_get_used(&r.d, 0, &id, &len); k++) {
		if (r.loose)
			continue;
		FUZZ_CHECK(id < r.num && r.chains[id].live);
		FUZZ_CHECK(len <= r.chains[id].writable && len <= RNG_REQ_MAX);
		r.chains[id].live = false;
		sum += len;
	}
	return sum;
}

/* May a write of the device have changed this byte? */
HARNESS static bool may_change(uint64_t gpa)
{
	const struct vdrv_vq *vq = &r.d.vq[0];

	if (gpa >= vq->used && gpa < vq->used + vq_used_bytes(vq->num))
		return true;
	return in_writable(gpa, 1);
}

/* Every byte that differs from the snapshot may have been written by the device. */
HARNESS static void ram_diff_check(void)
{
	/* whole pages with libc's memcmp first: the device writes few of them */
	for (size_t i = 0; i < RAM; i += 4096) {
		if (!memcmp(r.snap + i, r.d.ram + i, 4096))
			continue;
		for (size_t j = i; j < i + 4096; j++)
			if (r.snap[j] != r.d.ram[j])
				FUZZ_CHECK(may_change(VDRV_RAM_GPA + j));
	}
}

/* A register write (QueueNotify above all) and what the device does on it, checked. */
static void device_op(uint64_t off, uint32_t val)
{
	bool loose = r.loose;
	uint64_t used;

	if (!loose)
		memcpy(r.snap, r.d.ram, RAM);
	r.filled = 0;
	r.calls = 0;
	vdrv_write(&r.d, off, val);
	if (!loose && !r.loose)
		ram_diff_check();
	used = used_take();
	if (!loose && !r.loose)
		FUZZ_CHECK(used == r.filled);
}

static void setup(uint8_t features, uint8_t size)
{
	uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1);

	if (features & 1)
		want |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (features & 2)
		want |= VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	memset(r.d.ram, 0, RAM);
	memset(r.d.vq, 0, sizeof(r.d.vq));
	memset(r.chains, 0, sizeof(r.chains));
	r.d.brk = VDRV_RAM_GPA;
	r.loose = false;
	r.num = (uint16_t)(1u << (size % 5));
	FUZZ_CHECK(vdrv_negotiate(&r.d, want) == 0);
	FUZZ_CHECK(vdrv_queue_setup(&r.d, 0, r.num) == 0);
	vdrv_driver_ok(&r.d);
	vdrv_ack(&r.d);
	r.data = align_up(r.d.brk, 4096);
}

static void op_chain(struct fuzz_in *in)
{
	uint8_t shape = fz_u8(in);
	unsigned n = (shape & 7u) + 1;
	bool indirect = shape & 8;
	struct vdrv_buf b[SEGS_MAX];
	uint64_t data_size = VDRV_RAM_GPA + RAM - r.data;
	int head;

	for (unsigned i = 0; i < n; i++) {
		uint8_t f = fz_u8(in);
		uint16_t off = fz_u16(in), len = fz_u16(in);

		b[i] = (struct vdrv_buf){ .gpa = r.data + off % data_size,
					  .len = len,
					  .write = f & 1 };
		if (f & 2)
			b[i].gpa = VDRV_RAM_GPA + RAM + off;
		if (f & 4)
			b[i].len = 0xffff0000u | len;
		if (f & 8) {
			b[i].gpa = VDRV_RAM_GPA + off % RAM;
			/* the device may write over the rings: nothing it reports is sure any more */
			if (b[i].write)
				r.loose = true;
		}
	}
	/* the driver's indirect table for a head has room for one ring's worth */
	if (indirect && n > r.num)
		n = r.num;
	head = vdrv_submit(&r.d, 0, b, n, indirect);
	if (head < 0)
		return;
	r.chains[head] = (struct chain){ .live = true, .n = n, .writable = 0 };
	memcpy(r.chains[head].b, b, n * sizeof(b[0]));
	for (unsigned i = 0; i < n; i++)
		if (b[i].write)
			r.chains[head].writable += b[i].len;
	if (!(shape & 16))
		device_op(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

static void op_read(struct fuzz_in *in)
{
	static const unsigned widths[] = { 1, 2, 4, 8 };
	uint64_t off = fz_u8(in) * 2u;
	unsigned w = widths[fz_u8(in) % 4];
	uint64_t v = vdrv_read_w(&r.d, off, w);

	FUZZ_CHECK(w == 8 || v >> (8 * w) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct errbuf e;

	fuzz_quiet();
	fz_vdrv_init(&r.d, RAM);
	r.snap = malloc(RAM);
	FUZZ_CHECK(r.snap);
	r.d.vm = virtio_rng_create(&r.d.gm, &r.d.irq, &e);
	FUZZ_CHECK(r.d.vm);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);
	uint8_t f = fz_u8(&in), qs = fz_u8(&in);
	static const struct fz_target target = {
		.d = &r.d,
		.ram = RAM,
		.nr_queues = 1,
		.data = &r.data,
		.loose = &r.loose,
		.setup = setup,
		.write = device_op,
	};

	r.armed = true;
	r.source = 0;
	setup(f, qs);
	while (!fz_empty(&in)) {
		unsigned op = fz_u8(&in) % 9;

		if (op == 0)
			op_chain(&in);
		else if (op == 7)
			r.source = fz_u8(&in);
		else if (op == 8)
			op_read(&in);
		else
			fz_transport_op(&target, &in, op);
		fz_irq_check(&r.d);
	}
	r.armed = false;
	return 0;
}

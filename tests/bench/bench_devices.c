// SPDX-License-Identifier: MIT
/*
 * Device-model benchmarks (not a test: it prints figures, asserts nothing).
 *
 *   bench_devices throughput [--size-mib N] [--dir D] [--only NAME-SUBSTRING]
 *	virtio-blk through the test driver against raw pread/pwrite of the same access pattern
 *	on the same file, in the same run, page cache warm for both: 4 KiB random reads and
 *	writes, 1 MiB sequential reads and writes. Best of five alternating runs each.
 *   bench_devices mmio uart|virtio N
 *	N guest MMIO accesses through bus_write/bus_read (a UART THR write, or a virtio-mmio
 *	InterruptStatus read); run under callgrind with N and with 0 to count instructions per
 *	access (tests/bench/devices.sh does that).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch/aarch64/layout.h"
#include "devices/bus.h"
#include "devices/serial.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/virtio.h"
#include "tests/unit/virtio/driver.h"
#include "util/compiler.h"
#include "util/log.h"

/* Darwin's libc has no fdatasync; fsync settles the same writeback before a timed run. */
#ifdef __APPLE__
#define fdatasync fsync
#endif

#define RAM_SIZE (64 * SZ_1M)
#define RUNS	 5
#define QUEUE	 256

enum pattern { RAND_READ_4K, RAND_WRITE_4K, SEQ_READ_1M, SEQ_WRITE_1M };

struct job {
	enum pattern pat;
	const char *name;
	uint32_t bs;
	unsigned qd; /* virtio requests in flight */
};

static const struct job jobs[] = {
	{ RAND_READ_4K, "4 KiB random read", 4096, 64 },
	{ RAND_WRITE_4K, "4 KiB random write", 4096, 64 },
	{ SEQ_READ_1M, "1 MiB sequential read", SZ_1M, 8 },
	{ SEQ_WRITE_1M, "1 MiB sequential write", SZ_1M, 8 },
};

struct bench {
	char path[256];
	uint64_t size;
	int fd; /* the raw side's own descriptor */
	struct vdrv d;
	uint64_t bufs; /* guest buffers: qd * bs */
	uint32_t seg; /* the device's SIZE_MAX: a buffer goes in segments of this, as a guest's */
	uint64_t *offs; /* the access pattern, shared by both sides */
	size_t nr_ops;
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* One timed pass: wall time, and the CPU time of the thread doing the I/O. */
struct sample {
	double wall;
	double cpu;
};

static void die(const char *what)
{
	fprintf(stderr, "bench_devices: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void file_create(struct bench *b, const char *dir)
{
	uint8_t *chunk = malloc(SZ_1M);
	uint64_t x = 0x243f6a8885a308d3ull;

	snprintf(b->path, sizeof(b->path), "%s/ignition-bench-XXXXXX", dir);
	b->fd = mkstemp(b->path);
	if (b->fd < 0 || !chunk)
		die("temporary image");
	for (uint64_t off = 0; off < b->size; off += SZ_1M) {
		for (size_t i = 0; i < SZ_1M; i += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(chunk + i, &x, 8);
		}
		if (pwrite(b->fd, chunk, SZ_1M, (off_t)off) != (ssize_t)SZ_1M)
			die("write image");
	}
	/* Warm the page cache and settle writeback before anything is timed. */
	fdatasync(b->fd);
	for (uint64_t off = 0; off < b->size; off += SZ_1M)
		if (pread(b->fd, chunk, SZ_1M, (off_t)off) != (ssize_t)SZ_1M)
			die("read image");
	free(chunk);
}

static bool is_write(const struct job *j)
{
	return j->pat == RAND_WRITE_4K || j->pat == SEQ_WRITE_1M;
}

static void pattern_make(struct bench *b, const struct job *j)
{
	unsigned seed = 12345;

	bool random = j->pat == RAND_READ_4K || j->pat == RAND_WRITE_4K;

	b->nr_ops = random ? b->size / j->bs / 2 : b->size / j->bs;
	for (size_t i = 0; i < b->nr_ops; i++)
		b->offs[i] = random ? (uint64_t)(rand_r(&seed) % (b->size / j->bs)) * j->bs :
				      (uint64_t)i * j->bs;
}

/* The same buffers as the virtio side, in the same rotation, so both touch as much memory. */
static struct sample run_raw(struct bench *b, const struct job *j)
{
	bool write = is_write(j);
	double t = now(), c = clock_s(CLOCK_THREAD_CPUTIME_ID);

	for (size_t i = 0; i < b->nr_ops; i++) {
		uint8_t *buf = vdrv_ptr(&b->d, b->bufs + (uint64_t)(i % j->qd) * j->bs);
		ssize_t n = write ? pwrite(b->fd, buf, j->bs, (off_t)b->offs[i]) :
				    pread(b->fd, buf, j->bs, (off_t)b->offs[i]);

		if (n != (ssize_t)j->bs)
			die("raw I/O");
	}
	return (struct sample){ now() - t, clock_s(CLOCK_THREAD_CPUTIME_ID) - c };
}

static void virtio_submit(struct bench *b, const struct job *j, size_t op, unsigned slot)
{
	struct vdrv_buf buf[QUEUE];
	uint32_t type = is_write(j) ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	unsigned n = 0;

	for (uint32_t off = 0; off < j->bs && n < QUEUE - 2; off += b->seg)
		buf[n++] = (struct vdrv_buf){
			.gpa = b->bufs + (uint64_t)slot * j->bs + off,
			.len = (uint32_t)min_u64(b->seg, j->bs - off),
			.write = !is_write(j),
		};
	if (vdrv_blk_submit(&b->d, type, b->offs[op] / 512, buf, n, true) < 0) {
		fprintf(stderr, "bench_devices: ring full\n");
		exit(1);
	}
}

/*
 * Keeps qd requests in flight; completions come by interrupt, as in a guest. The CPU time is the
 * device's: the whole process minus this (driver) thread.
 */
static struct sample run_virtio(struct bench *b, const struct job *j)
{
	unsigned slot_of[QUEUE], free_slots[QUEUE], nr_free = 0;
	size_t next = 0, done = 0;
	double t = now(), pc = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	double tc = clock_s(CLOCK_THREAD_CPUTIME_ID);

	for (unsigned s = 0; s < j->qd; s++)
		free_slots[nr_free++] = s;
	while (done < b->nr_ops) {
		uint32_t isr, id, len;

		while (nr_free && next < b->nr_ops) {
			unsigned s = free_slots[--nr_free];

			slot_of[b->d.vq[0].free_head] = s;
			virtio_submit(b, j, next++, s);
		}
		vdrv_kick(&b->d, 0);
		if (vdrv_wait_irq(&b->d, 10000, &isr)) {
			fprintf(stderr, "bench_devices: no interrupt for 10 s\n");
			exit(1);
		}
		while (vdrv_get_used(&b->d, 0, &id, &len)) {
			if (id >= QUEUE ||
			    vdrv_blk_status(&b->d, (uint16_t)id) != VIRTIO_BLK_S_OK) {
				fprintf(stderr, "bench_devices: request failed\n");
				exit(1);
			}
			free_slots[nr_free++] = slot_of[id];
			done++;
		}
	}
	t = now() - t;
	tc = clock_s(CLOCK_THREAD_CPUTIME_ID) - tc;
	return (struct sample){ t, clock_s(CLOCK_PROCESS_CPUTIME_ID) - pc - tc };
}

static double mbps(const struct bench *b, const struct job *j, double secs)
{
	return (double)b->nr_ops * j->bs / secs / 1e6;
}

static int throughput(uint64_t size_mib, const char *dir, const char *only)
{
	const uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
			      VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) |
			      VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
			      VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX);
	struct virtio_blk_params p = { 0 };
	struct bench b = { .size = size_mib * SZ_1M };
	struct errbuf e;

	file_create(&b, dir);
	b.offs = calloc(b.size / 4096, sizeof(*b.offs));
	if (!b.offs || vdrv_init(&b.d, RAM_SIZE))
		die("memory");
	p.path = b.path;
	b.d.vm = virtio_blk_create(&p, &b.d.gm, &b.d.irq, &e);
	if (!b.d.vm) {
		fprintf(stderr, "bench_devices: %s\n", e.msg);
		return 1;
	}
	if (vdrv_start(&b.d, want, QUEUE)) {
		fprintf(stderr, "bench_devices: driver setup failed\n");
		return 1;
	}
	b.seg = vdrv_read(&b.d, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_SIZE_MAX);
	if (!(b.d.features & VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX)) || !b.seg)
		b.seg = SZ_1M;
	b.bufs = vdrv_alloc(&b.d, 16 * SZ_1M, 4096);
	memset(vdrv_ptr(&b.d, b.bufs), 0x5a, 16 * SZ_1M);

	printf("virtio-blk device model vs raw pread/pwrite on the same %llu MiB file "
	       "(page cache warm), best of %d\n",
	       (unsigned long long)size_mib, RUNS);
	printf("%-24s %4s %10s %12s %6s %14s %14s\n", "pattern", "qd", "raw MB/s", "virtio MB/s",
	       "ratio", "raw cpu us/op", "device us/op");
	for (size_t k = 0; k < ARRAY_SIZE(jobs); k++) {
		const struct job *j = &jobs[k];
		struct sample raw = { 1e30, 0 }, vio = { 1e30, 0 }, t;

		if (only && !strstr(j->name, only))
			continue;
		pattern_make(&b, j);
		/* One untimed pass of each side, so neither pays for first touches. */
		run_raw(&b, j);
		run_virtio(&b, j);
		for (int r = 0; r < RUNS; r++) {
			fdatasync(b.fd);
			t = run_raw(&b, j);
			raw = t.wall < raw.wall ? t : raw;
			fdatasync(b.fd);
			t = run_virtio(&b, j);
			vio = t.wall < vio.wall ? t : vio;
		}
		printf("%-24s %4u %10.1f %12.1f %6.2f %14.2f %14.2f\n", j->name, j->qd,
		       mbps(&b, j, raw.wall), mbps(&b, j, vio.wall), raw.wall / vio.wall,
		       raw.cpu / b.nr_ops * 1e6, vio.cpu / b.nr_ops * 1e6);
	}
	printf("goal: ratio >= 0.90. qd: virtio requests in flight (raw is synchronous). cpu: CPU\n"
	       "time per request of the thread doing the I/O (raw: the caller; virtio: the device\n"
	       "worker), which shows the device model's own cost apart from scheduling.\n");
	vdrv_fini(&b.d);
	close(b.fd);
	unlink(b.path);
	free(b.offs);
	return 0;
}

static size_t tx_sink(void *opaque, const uint8_t *buf, size_t n)
{
	(void)opaque;
	(void)buf;
	return n;
}

static int mmio_loop(const char *what, long n)
{
	struct serial_host_ops host = { .tx = tx_sink };
	struct irq_line irq;
	struct guest_mem gm = { 0 };
	struct virtio_mmio *vm = NULL;
	struct serial *s = NULL;
	struct bus bus;
	struct errbuf e;
	volatile uint64_t sink = 0;
	bool uart = !strcmp(what, "uart");

	bus_init(&bus);
	irq_line_init(&irq, NULL, NULL, 32);
	gm.host = malloc(SZ_1M);
	gm.gpa = RAM_BASE;
	gm.size = SZ_1M;
	if (uart) {
		s = serial_create(&irq, &host);
		if (!s || serial_attach(s, &bus, UART_BASE, &e))
			return 1;
	} else {
		vm = virtio_rng_create(&gm, &irq, &e);
		if (!vm || virtio_mmio_attach(vm, &bus, VIRTIO_MMIO_BASE, &e))
			return 1;
	}
	for (long i = 0; i < n; i++) {
		if (uart)
			bus_write(&bus, UART_BASE, 1, 'x');
		else
			sink += bus_read(&bus, VIRTIO_MMIO_BASE + VIRTIO_MMIO_INTERRUPT_STATUS, 4);
	}
	if (s)
		serial_destroy(s);
	if (vm)
		virtio_mmio_destroy(vm);
	bus_destroy(&bus);
	free(gm.host);
	return (int)(sink & 0);
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_devices throughput [--size-mib N] [--dir D] [--only NAME]\n"
			"       bench_devices mmio uart|virtio N\n");
	return 2;
}

int main(int argc, char **argv)
{
	log_set_level(LOG_ERROR);
	if (argc >= 2 && !strcmp(argv[1], "throughput")) {
		uint64_t size_mib = 256;
		const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		const char *only = NULL;

		for (int i = 2; i + 1 < argc; i += 2) {
			if (!strcmp(argv[i], "--size-mib"))
				size_mib = strtoull(argv[i + 1], NULL, 0);
			else if (!strcmp(argv[i], "--dir"))
				dir = argv[i + 1];
			else if (!strcmp(argv[i], "--only"))
				only = argv[i + 1];
			else
				return usage();
		}
		if (size_mib < 16)
			return usage();
		return throughput(size_mib, dir, only);
	}
	if (argc == 4 && !strcmp(argv[1], "mmio") &&
	    (!strcmp(argv[2], "uart") || !strcmp(argv[2], "virtio")))
		return mmio_loop(argv[2], strtol(argv[3], NULL, 0));
	return usage();
}

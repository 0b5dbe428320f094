// SPDX-License-Identifier: MIT
/*
 * virtio-blk on a real temporary image, driven through the test-side driver: data compared
 * byte for byte with the file, read-only images, range checks, malformed requests, image locks
 * and open errors, discard/write-zeroes, deep queues, batches mixing I/O with flushes, an image
 * that shrinks, a reset while the worker is busy, the SEG_MAX / SIZE_MAX limits, and how long a
 * stop takes with a hostile queue (issue 11). meson runs it twice: with the workers'
 * io_uring where the kernel has one, and with IGNITION_NO_IO_URING (one preadv/pwritev each).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#endif

#include <cmocka.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "tests/unit/virtio/driver.h"
#include "util/log.h"

/* The modification time as a timespec: st_mtim in POSIX 2008, st_mtimespec in Darwin's stat. */
#ifdef __APPLE__
#define ST_MTIM(st) ((st).st_mtimespec)
#else
#define ST_MTIM(st) ((st).st_mtim)
#endif

#define RAM_SIZE (16 * SZ_1M)
#define IMG_SIZE (4 * SZ_1M)
#define CAPACITY (IMG_SIZE / 512)
/* issue 11's image: 1 GiB, sparse */
#define BIG_IMG_SIZE SZ_1G
#define WANT                                                                        \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |     \
	 VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | \
	 VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |     \
	 VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |           \
	 VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES))

struct fixture {
	struct vdrv d;
	char path[64];
	int fd; /* the test's own view of the image */
	uint64_t buf; /* 4 MiB of guest scratch */
};

static uint8_t pattern(uint64_t off)
{
	uint64_t x = off * 0x9e3779b97f4a7c15ull;

	return (uint8_t)(x >> 56);
}

static void image_create(struct fixture *f, uint64_t size)
{
	uint8_t *chunk = malloc(SZ_64K);

	snprintf(f->path, sizeof(f->path), "/tmp/ignition-blk-XXXXXX");
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	assert_non_null(chunk);
	for (uint64_t off = 0; off < size; off += SZ_64K) {
		size_t n = min_u64(SZ_64K, size - off);

		for (size_t i = 0; i < n; i++)
			chunk[i] = pattern(off + i);
		assert_int_equal(pwrite(f->fd, chunk, n, (off_t)off), (ssize_t)n);
	}
	free(chunk);
}

static struct virtio_mmio *blk_open(struct fixture *f, bool ro, struct errbuf *e)
{
	struct virtio_blk_params p = { .path = f->path, .readonly = ro };

	return virtio_blk_create(&p, &f->d.gm, &f->d.irq, e);
}

/* A sparse image: nothing is written until the guest writes. */
static void image_create_sparse(struct fixture *f, uint64_t size)
{
	snprintf(f->path, sizeof(f->path), "/tmp/ignition-blk-XXXXXX");
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	assert_int_equal(ftruncate(f->fd, (off_t)size), 0);
}

static int setup_image(void **state, bool ro, uint64_t sparse_size)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct errbuf e;

	assert_non_null(f);
	if (sparse_size)
		image_create_sparse(f, sparse_size);
	else
		image_create(f, IMG_SIZE);
	assert_int_equal(vdrv_init(&f->d, RAM_SIZE), 0);
	f->d.vm = blk_open(f, ro, &e);
	if (!f->d.vm)
		fail_msg("%s", e.msg);
	assert_int_equal(vdrv_start(&f->d, WANT, 256), 0);
	f->buf = vdrv_alloc(&f->d, 4 * SZ_1M, 4096);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_image(state, false, 0);
}

static int setup_ro(void **state)
{
	return setup_image(state, true, 0);
}

static int setup_big(void **state)
{
	return setup_image(state, false, BIG_IMG_SIZE);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vdrv_fini(&f->d);
	close(f->fd);
	unlink(f->path);
	free(f);
	return 0;
}

static void expect_file(struct fixture *f, uint64_t off, const void *data, size_t len)
{
	uint8_t *tmp = malloc(len);

	assert_non_null(tmp);
	assert_int_equal(pread(f->fd, tmp, len, (off_t)off), (ssize_t)len);
	assert_memory_equal(tmp, data, len);
	free(tmp);
}

static void expect_pattern(struct fixture *f, const uint8_t *p, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern(off + i))
			fail_msg("byte %zu of %zu at offset %llu differs", i, len,
				 (unsigned long long)off);
}

static int blk_req(struct fixture *f, uint32_t type, uint64_t sector, uint64_t gpa, uint32_t len,
		   bool write, uint32_t *used)
{
	struct vdrv_buf b = { .gpa = gpa, .len = len, .write = write };

	return vdrv_blk_sync(&f->d, type, sector, &b, 1, used);
}

static void test_read(void **state)
{
	struct fixture *f = *state;
	uint32_t used;

	assert_int_equal(blk_req(f, VIRTIO_BLK_T_IN, 5, f->buf, 4096, true, &used),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used, 4097);
	expect_pattern(f, vdrv_ptr(&f->d, f->buf), 5 * 512, 4096);
	/* The last sector of the disk. */
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_IN, CAPACITY - 1, f->buf, 512, true, &used),
			 VIRTIO_BLK_S_OK);
	expect_pattern(f, vdrv_ptr(&f->d, f->buf), IMG_SIZE - 512, 512);
}

static void test_read_segments(void **state)
{
	struct fixture *f = *state;
	struct vdrv_buf b[3] = {
		{ .gpa = f->buf + 8192, .len = 512, .write = true },
		{ .gpa = f->buf, .len = 1024, .write = true },
		{ .gpa = f->buf + 65536, .len = 2560, .write = true },
	};
	uint32_t id, len;

	for (int indirect = 0; indirect < 2; indirect++) {
		int head = vdrv_blk_submit(&f->d, VIRTIO_BLK_T_IN, 77, b, 3, indirect);

		assert_true(head >= 0);
		vdrv_notify(&f->d, 0);
		assert_int_equal(vdrv_wait_used(&f->d, 0, &id, &len, 5000), 0);
		assert_int_equal(id, head);
		assert_int_equal(len, 4097);
		assert_int_equal(vdrv_blk_status(&f->d, (uint16_t)head), VIRTIO_BLK_S_OK);
		expect_pattern(f, vdrv_ptr(&f->d, b[0].gpa), 77 * 512, 512);
		expect_pattern(f, vdrv_ptr(&f->d, b[1].gpa), 77 * 512 + 512, 1024);
		expect_pattern(f, vdrv_ptr(&f->d, b[2].gpa), 77 * 512 + 1536, 2560);
		memset(vdrv_ptr(&f->d, f->buf), 0, 128 * 1024);
	}
}

static void test_write(void **state)
{
	struct fixture *f = *state;
	uint8_t *p = vdrv_ptr(&f->d, f->buf);
	struct vdrv_buf b[2] = {
		{ .gpa = f->buf, .len = 3072 },
		{ .gpa = f->buf + SZ_1M, .len = 1024 },
	};
	uint32_t used;

	for (int i = 0; i < 3072; i++)
		p[i] = (uint8_t)(i * 7 + 1);
	for (int i = 0; i < 1024; i++)
		p[SZ_1M + i] = (uint8_t)(i * 13 + 5);
	assert_int_equal(vdrv_blk_sync(&f->d, VIRTIO_BLK_T_OUT, 100, b, 2, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	expect_file(f, 100 * 512, p, 3072);
	expect_file(f, 100 * 512 + 3072, p + SZ_1M, 1024);
	/* Neighbours untouched. */
	{
		uint8_t tmp[512];

		assert_int_equal(pread(f->fd, tmp, 512, 99 * 512), 512);
		expect_pattern(f, tmp, 99 * 512, 512);
		assert_int_equal(pread(f->fd, tmp, 512, 108 * 512), 512);
		expect_pattern(f, tmp, 108 * 512, 512);
	}
	/* And it reads back through the device. */
	memset(p + 2 * SZ_1M, 0, 4096);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_IN, 100, f->buf + 2 * SZ_1M, 3072, true, &used),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(p + 2 * SZ_1M, p, 3072);
}

static void test_flush(void **state)
{
	struct fixture *f = *state;
	uint32_t used;
	uint8_t st = VIRTIO_BLK_S_OK;

	assert_int_equal(vdrv_blk_sync(&f->d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &used), st);
	assert_int_equal(used, 1);
}

static void test_get_id(void **state)
{
	struct fixture *f = *state;
	uint8_t *p = vdrv_ptr(&f->d, f->buf);
	const char want[20] = "ignition0";
	uint32_t used;

	memset(p, 0xaa, 64);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_GET_ID, 0, f->buf, 20, true, &used),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used, 21);
	assert_memory_equal(p, want, 20);
	assert_int_equal(p[20], 0xaa);
}

/* Linux may hand the header in pieces: 16 bytes over any number of readable descriptors. */
static void test_header_split(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	uint64_t hdr = f->buf + SZ_1M, data = f->buf, st = f->buf + SZ_1M + 4096;
	uint8_t *h = vdrv_ptr(d, hdr);
	const unsigned splits[][2] = { { 7, 9 }, { 1, 15 }, { 15, 1 } };
	uint32_t id, len;

	for (size_t i = 0; i < ARRAY_SIZE(splits); i++) {
		struct vdrv_buf b[4] = {
			{ .gpa = hdr, .len = splits[i][0] },
			{ .gpa = hdr + splits[i][0], .len = splits[i][1] },
			{ .gpa = data, .len = 1024, .write = true },
			{ .gpa = st, .len = 1, .write = true },
		};
		int head;

		put_le32(h, VIRTIO_BLK_T_IN);
		put_le32(h + 4, 0);
		put_le64(h + 8, 33 + i);
		head = vdrv_submit(d, 0, b, 4, i == 2);
		assert_true(head >= 0);
		vdrv_notify(d, 0);
		assert_int_equal(vdrv_wait_used(d, 0, &id, &len, 5000), 0);
		assert_int_equal(len, 1025);
		assert_int_equal(*(uint8_t *)vdrv_ptr(d, st), VIRTIO_BLK_S_OK);
		expect_pattern(f, vdrv_ptr(d, data), (33 + i) * 512, 1024);
	}
	/* Header and payload in one descriptor, for a write. */
	{
		uint8_t *p = vdrv_ptr(d, hdr);
		struct vdrv_buf b[2] = {
			{ .gpa = hdr, .len = 16 + 512 },
			{ .gpa = st, .len = 1, .write = true },
		};

		put_le32(p, VIRTIO_BLK_T_OUT);
		put_le64(p + 8, 9);
		memset(p + 16, 0x5a, 512);
		assert_true(vdrv_submit(d, 0, b, 2, false) >= 0);
		vdrv_notify(d, 0);
		assert_int_equal(vdrv_wait_used(d, 0, &id, &len, 5000), 0);
		assert_int_equal(*(uint8_t *)vdrv_ptr(d, st), VIRTIO_BLK_S_OK);
		expect_file(f, 9 * 512, p + 16, 512);
	}
}

static uint64_t file_sum(struct fixture *f)
{
	uint8_t *p = malloc(IMG_SIZE);
	uint64_t h = 1469598103934665603ull;
	struct stat st;

	assert_int_equal(fstat(f->fd, &st), 0);
	assert_int_equal(st.st_size, IMG_SIZE);
	assert_non_null(p);
	assert_int_equal(pread(f->fd, p, IMG_SIZE, 0), IMG_SIZE);
	for (size_t i = 0; i < IMG_SIZE; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	free(p);
	return h;
}

static void test_out_of_range(void **state)
{
	struct fixture *f = *state;
	uint8_t *p = vdrv_ptr(&f->d, f->buf);
	const struct {
		uint64_t sector;
		uint32_t len;
	} bad[] = {
		{ CAPACITY, 512 },	  { CAPACITY - 1, 1024 },
		{ CAPACITY + 1000, 512 }, { UINT64_MAX, 512 },
		{ UINT64_MAX - 1, 1024 }, { 1ull << 55, 512 }, /* sector * 512 wraps */
	};
	uint64_t sum = file_sum(f);
	uint32_t used;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(p, 0xaa, 4096);
		assert_int_equal(blk_req(f, VIRTIO_BLK_T_IN, bad[i].sector, f->buf, bad[i].len,
					 true, &used),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(used, 1);
		for (int k = 0; k < 4096; k++)
			assert_int_equal(p[k], 0xaa);
		assert_int_equal(blk_req(f, VIRTIO_BLK_T_OUT, bad[i].sector, f->buf, bad[i].len,
					 false, &used),
				 VIRTIO_BLK_S_IOERR);
	}
	/* Not a whole number of sectors. */
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_IN, 0, f->buf, 100, true, &used),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_OUT, 0, f->buf, 700, false, &used),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(file_sum(f), sum);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_unsupported(void **state)
{
	struct fixture *f = *state;
	const uint32_t types[] = { 2, 3, 10, 14, 99, 0xffffffffu };
	uint32_t used;

	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		assert_int_equal(blk_req(f, types[i], 0, f->buf, 512, true, &used),
				 VIRTIO_BLK_S_UNSUPP);
		assert_int_equal(used, 1);
	}
}

/* A short header is the driver's bug, not a broken ring: IOERR, device keeps going. */
static void test_short_header(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	struct vdrv_buf b[2] = {
		{ .gpa = f->buf, .len = 8 },
		{ .gpa = f->buf + 64, .len = 1, .write = true },
	};
	uint32_t id, len;

	assert_true(vdrv_submit(d, 0, b, 2, false) >= 0);
	vdrv_notify(d, 0);
	assert_int_equal(vdrv_wait_used(d, 0, &id, &len, 5000), 0);
	assert_int_equal(len, 1);
	assert_int_equal(*(uint8_t *)vdrv_ptr(d, f->buf + 64), VIRTIO_BLK_S_IOERR);
	/* No writable byte at all: nothing to report into, used length 0. */
	assert_true(vdrv_submit(d, 0, b, 1, false) >= 0);
	vdrv_notify(d, 0);
	assert_int_equal(vdrv_wait_used(d, 0, &id, &len, 5000), 0);
	assert_int_equal(len, 0);
	assert_false(vdrv_status(d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_IN, 0, f->buf, 512, true, &len), VIRTIO_BLK_S_OK);
}

/*
 * The access mode of every fd this process has on path. The fds are listed where each system
 * shows them (macOS has no /proc); an fd is on path when it is the same inode.
 */
static int fd_modes(const char *path, int *modes, int max)
{
#ifdef __linux__
	DIR *dir = opendir("/proc/self/fd");
#else
	DIR *dir = opendir("/dev/fd");
#endif
	struct dirent *de;
	struct stat want, st;
	int n = 0;

	assert_int_equal(stat(path, &want), 0);
	assert_non_null(dir);
	while ((de = readdir(dir)) && n < max) {
		int fd = atoi(de->d_name), fl;

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == dirfd(dir))
			continue;
		if (fstat(fd, &st) < 0 || st.st_dev != want.st_dev || st.st_ino != want.st_ino)
			continue;
		fl = fcntl(fd, F_GETFL);
		assert_true(fl >= 0);
		modes[n++] = fl & O_ACCMODE;
	}
	closedir(dir);
	return n;
}

static void test_readonly(void **state)
{
	struct fixture *f = *state;
	uint8_t *p = vdrv_ptr(&f->d, f->buf);
	struct stat before, after;
	int modes[8], n;
	uint64_t sum;
	uint32_t used;

	/* Our own fd is closed for the check, so only the device's remains. */
	close(f->fd);
	n = fd_modes(f->path, modes, 8);
	f->fd = open(f->path, O_RDONLY);
	assert_true(f->fd >= 0);
	assert_int_equal(n, 1);
	assert_int_equal(modes[0], O_RDONLY);

	assert_true(vdrv_device_features(&f->d) & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	assert_false(vdrv_device_features(&f->d) & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD));
	sum = file_sum(f);
	assert_int_equal(fstat(f->fd, &before), 0);
	usleep(20000);
	memset(p, 0x77, 4096);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_OUT, 0, f->buf, 4096, false, &used),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, f->buf, 16, false, &used),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_FLUSH, 0, f->buf, 0, false, &used),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_IN, 0, f->buf, 4096, true, &used),
			 VIRTIO_BLK_S_OK);
	expect_pattern(f, p, 0, 4096);
	assert_int_equal(fstat(f->fd, &after), 0);
	assert_int_equal(file_sum(f), sum);
	assert_int_equal(ST_MTIM(before).tv_sec, ST_MTIM(after).tv_sec);
	assert_int_equal(ST_MTIM(before).tv_nsec, ST_MTIM(after).tv_nsec);
}

static void test_image_locks(void **state)
{
	struct fixture *f = *state;
	struct virtio_mmio *other;
	struct errbuf e;

	/* f->d.vm holds the image for writing. */
	other = blk_open(f, false, &e);
	assert_null(other);
	assert_non_null(strstr(e.msg, "locked by another process"));
	assert_non_null(strstr(e.msg, f->path));
	assert_null(blk_open(f, true, &e));
	assert_non_null(strstr(e.msg, "locked by another process"));
	/* Once it is gone, the image is free again; readers share. */
	virtio_mmio_destroy(f->d.vm);
	f->d.vm = blk_open(f, true, &e);
	assert_non_null(f->d.vm);
	other = blk_open(f, true, &e);
	assert_non_null(other);
	assert_null(blk_open(f, false, &e));
	virtio_mmio_destroy(other);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	struct virtio_blk_params p = { 0 };
	char dir[] = "/tmp/ignition-blkdir-XXXXXX";
	struct errbuf e;

	p.path = "/nonexistent/disk.img";
	assert_null(virtio_blk_create(&p, &f->d.gm, &f->d.irq, &e));
	assert_non_null(strstr(e.msg, "/nonexistent/disk.img"));
	assert_non_null(strstr(e.msg, "No such file"));

	assert_non_null(mkdtemp(dir));
	p.path = dir;
	for (int ro = 0; ro < 2; ro++) {
		p.readonly = ro;
		assert_null(virtio_blk_create(&p, &f->d.gm, &f->d.irq, &e));
		assert_non_null(strstr(e.msg, dir));
		assert_non_null(strstr(e.msg, "directory"));
	}
	rmdir(dir);

	/* A size that is not whole sectors: the message names the file. */
	virtio_mmio_destroy(f->d.vm);
	f->d.vm = NULL;
	assert_int_equal(ftruncate(f->fd, IMG_SIZE + 100), 0);
	p.path = f->path;
	p.readonly = false;
	assert_null(virtio_blk_create(&p, &f->d.gm, &f->d.irq, &e));
	assert_non_null(strstr(e.msg, f->path));
	assert_non_null(strstr(e.msg, "multiple of 512"));
}

static int dwz(struct fixture *f, uint32_t type, const uint64_t (*ranges)[3], unsigned n)
{
	uint8_t *p = vdrv_ptr(&f->d, f->buf);
	uint32_t used;

	for (unsigned i = 0; i < n; i++) {
		put_le64(p + 16 * i, ranges[i][0]);
		put_le32(p + 16 * i + 8, (uint32_t)ranges[i][1]);
		put_le32(p + 16 * i + 12, (uint32_t)ranges[i][2]);
	}
	return blk_req(f, type, 0, f->buf, 16 * n, false, &used);
}

static void expect_zero(struct fixture *f, uint64_t off, size_t len)
{
	uint8_t *z = calloc(1, len);

	assert_non_null(z);
	expect_file(f, off, z, len);
	free(z);
}

static void test_discard_write_zeroes(void **state)
{
	struct fixture *f = *state;
	const uint64_t wz[2][3] = { { 16, 8, 0 }, { 64, 16, VIRTIO_BLK_WZ_FLAG_UNMAP } };
	const uint64_t disc[1][3] = { { 1024, 2048, 0 } };
	const uint64_t bad_flags[1][3] = { { 0, 8, 0x2 } };
	const uint64_t disc_unmap[1][3] = { { 0, 8, VIRTIO_BLK_WZ_FLAG_UNMAP } };
	const uint64_t beyond[1][3] = { { CAPACITY - 4, 8, 0 } };
	uint8_t tmp[512];

	assert_true(vdrv_device_features(&f->d) & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, wz, 2), VIRTIO_BLK_S_OK);
	expect_zero(f, 16 * 512, 8 * 512);
	expect_zero(f, 64 * 512, 16 * 512);
	assert_int_equal(pread(f->fd, tmp, 512, 24 * 512), 512);
	expect_pattern(f, tmp, 24 * 512, 512);
	assert_int_equal(pread(f->fd, tmp, 512, 15 * 512), 512);
	expect_pattern(f, tmp, 15 * 512, 512);

	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, disc, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, disc_unmap, 1), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, bad_flags, 1), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, beyond, 1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, beyond, 1), VIRTIO_BLK_S_IOERR);
	/* The file keeps its size: holes, not truncation. */
	{
		struct stat st;

		assert_int_equal(fstat(f->fd, &st), 0);
		assert_int_equal(st.st_size, IMG_SIZE);
	}
}

/* 200 random 4 KiB reads in flight at once, completed by interrupts as Linux would see them. */
static void test_deep_queue(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	uint64_t sectors[256];
	int heads[200], done = 0, nreq = 200;
	unsigned seed = 1;

	for (int i = 0; i < nreq; i++) {
		struct vdrv_buf b = { .gpa = f->buf + 4096 * (uint64_t)i,
				      .len = 4096,
				      .write = true };

		sectors[i] = (uint64_t)(rand_r(&seed) % (CAPACITY - 8));
		heads[i] = vdrv_blk_submit(d, VIRTIO_BLK_T_IN, sectors[i], &b, 1, true);
		assert_true(heads[i] >= 0);
		vdrv_kick(d, 0);
	}
	while (done < nreq) {
		uint32_t isr, id, len;

		assert_int_equal(vdrv_wait_irq(d, 5000, &isr), 0);
		assert_int_equal(isr, VIRTIO_MMIO_INT_VRING);
		while (vdrv_get_used(d, 0, &id, &len)) {
			assert_int_equal(len, 4097);
			assert_int_equal(vdrv_blk_status(d, (uint16_t)id), VIRTIO_BLK_S_OK);
			done++;
		}
	}
	for (int i = 0; i < nreq; i++)
		expect_pattern(f, vdrv_ptr(d, f->buf + 4096 * (uint64_t)i), sectors[i] * 512, 4096);
}

/* Waits for every used element of heads[0..n), with the statuses and used lengths they got. */
static void wait_all(struct vdrv *d, const int *heads, int n, uint8_t *status, uint32_t *lens)
{
	int done = 0;

	while (done < n) {
		uint32_t isr, id, len;

		assert_int_equal(vdrv_wait_irq(d, 5000, &isr), 0);
		while (vdrv_get_used(d, 0, &id, &len)) {
			int k = 0;

			while (k < n && heads[k] != (int)id)
				k++;
			assert_true(k < n);
			status[k] = vdrv_blk_status(d, (uint16_t)id);
			lens[k] = len;
			done++;
		}
	}
}

/*
 * 128 writes of distinct 4 KiB blocks in flight at once, served in batches by both workers,
 * each landing in the image byte for byte.
 */
static void test_deep_queue_writes(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	int heads[128];
	uint8_t status[128];
	uint32_t lens[128];
	uint8_t *p = vdrv_ptr(d, f->buf);

	for (int i = 0; i < 128; i++) {
		/* blocks 0, 7, 14, ... wrap around the 1024 blocks of the image: all distinct */
		uint64_t block = (uint64_t)i * 7 % (IMG_SIZE / 4096);
		struct vdrv_buf b = { .gpa = f->buf + 4096 * (uint64_t)i, .len = 4096 };

		memset(p + 4096 * i, 0x80 + i, 4096);
		heads[i] = vdrv_blk_submit(d, VIRTIO_BLK_T_OUT, block * 8, &b, 1, true);
		assert_true(heads[i] >= 0);
	}
	vdrv_notify(d, 0);
	wait_all(d, heads, 128, status, lens);
	for (int i = 0; i < 128; i++) {
		assert_int_equal(status[i], VIRTIO_BLK_S_OK);
		assert_int_equal(lens[i], 1);
		expect_file(f, (uint64_t)i * 7 % (IMG_SIZE / 4096) * 4096, p + 4096 * i, 4096);
	}
}

/*
 * One notification, one batch: write, flush, read of the same sector, GET_ID, write again.
 * Every request that is not a read or write waits for the I/O before it, and the I/O after it
 * waits for it: the read sees the first write, the image ends with the second.
 */
static void test_mixed_batch(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	uint8_t *p = vdrv_ptr(d, f->buf);
	struct vdrv_buf w1 = { .gpa = f->buf, .len = 4096 };
	struct vdrv_buf rd = { .gpa = f->buf + 4096, .len = 4096, .write = true };
	struct vdrv_buf id = { .gpa = f->buf + 8192, .len = VIRTIO_BLK_ID_BYTES, .write = true };
	struct vdrv_buf w2 = { .gpa = f->buf + 12288, .len = 4096 };
	int heads[5];
	uint8_t status[5];
	uint32_t lens[5];

	memset(p, 0xa1, 4096);
	memset(p + 4096, 0, 4096);
	memset(p + 12288, 0xb2, 4096);
	heads[0] = vdrv_blk_submit(d, VIRTIO_BLK_T_OUT, 16, &w1, 1, false);
	heads[1] = vdrv_blk_submit(d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);
	heads[2] = vdrv_blk_submit(d, VIRTIO_BLK_T_IN, 16, &rd, 1, false);
	heads[3] = vdrv_blk_submit(d, VIRTIO_BLK_T_GET_ID, 0, &id, 1, false);
	heads[4] = vdrv_blk_submit(d, VIRTIO_BLK_T_OUT, 16, &w2, 1, false);
	for (int i = 0; i < 5; i++)
		assert_true(heads[i] >= 0);
	vdrv_notify(d, 0);
	wait_all(d, heads, 5, status, lens);
	for (int i = 0; i < 5; i++)
		assert_int_equal(status[i], VIRTIO_BLK_S_OK);
	assert_int_equal(lens[2], 4097);
	for (int i = 0; i < 4096; i++)
		if (p[4096 + i] != 0xa1)
			fail_msg("the read after the flush missed the write before it (byte %d)",
				 i);
	assert_memory_equal(p + 8192, "ignition0", 10);
	expect_file(f, 16 * 512, p + 12288, 4096);
}

/*
 * The image shrinks under the running device (someone truncated it): reads beyond the new end
 * fail with IOERR instead of returning stale or uninitialised guest memory, and the rest works.
 */
static void test_image_shrinks(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	uint8_t *p = vdrv_ptr(d, f->buf);
	uint32_t used;

	assert_int_equal(ftruncate(f->fd, IMG_SIZE / 2), 0);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_IN, CAPACITY - 8, f->buf, 4096, true, &used),
			 VIRTIO_BLK_S_IOERR);
	/* a read across the new end: its first half exists, the rest does not */
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_IN, CAPACITY / 2 - 4, f->buf, 4096, true, &used),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_IN, 8, f->buf, 4096, true, &used),
			 VIRTIO_BLK_S_OK);
	expect_pattern(f, p, 8 * 512, 4096);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * Reset while the worker is in the middle of large reads: afterwards the device is idle and
 * clean, writes nothing more into guest memory, and works again after re-initialisation.
 */
static void test_reset_during_io(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	unsigned waited = 0;
	unsigned seed = 7;

	for (int iter = 0; iter < 20; iter++) {
		struct timespec ts = { 0, (long)(rand_r(&seed) % 1500) * 1000 };
		uint8_t *data = vdrv_ptr(d, f->buf);
		struct timespec t0, t1;

		assert_int_equal(vdrv_start(d, WANT, 256), 0);
		for (int i = 0; i < 8; i++) {
			/* 512 KiB each, in segments of SIZE_MAX as a guest sends them */
			uint64_t gpa = f->buf + (uint64_t)i * 512 * 1024;
			struct vdrv_buf b[4];

			for (int k = 0; k < 4; k++)
				b[k] = (struct vdrv_buf){ .gpa = gpa + (uint64_t)k * 128 * 1024,
							  .len = 128 * 1024,
							  .write = true };
			assert_true(vdrv_blk_submit(d, VIRTIO_BLK_T_IN, 0, b, 4, false) >= 0);
		}
		vdrv_notify(d, 0);
		nanosleep(&ts, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		vdrv_write(d, VIRTIO_MMIO_STATUS, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* A reset that found reads in flight waited for them (tens of microseconds). */
		waited += (t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec > 50000;

		assert_int_equal(vdrv_status(d), 0);
		assert_int_equal(vdrv_read(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
		assert_false(atomic_load(&d->level));
		/* Nothing may land in guest memory after the reset returned. */
		memset(data, 0, 4 * SZ_1M);
		memset(vdrv_ptr(d, d->vq[0].used), 0, vq_used_bytes(256));
		usleep(5000);
		assert_true(all_zero(data, 4 * SZ_1M));
		assert_true(all_zero(vdrv_ptr(d, d->vq[0].used), vq_used_bytes(256)));
	}
	print_message("resets that waited for in-flight I/O: %u of 20\n", waited);
	{
		uint32_t used;

		assert_int_equal(vdrv_start(d, WANT, 256), 0);
		assert_int_equal(blk_req(f, VIRTIO_BLK_T_IN, 3, f->buf, 4096, true, &used),
				 VIRTIO_BLK_S_OK);
		expect_pattern(f, vdrv_ptr(d, f->buf), 3 * 512, 4096);
	}
}

static void test_shutdown(void **state)
{
	struct fixture *f = *state;
	uint8_t *p = vdrv_ptr(&f->d, f->buf);
	uint32_t used;

	memset(p, 0x3c, 512);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_OUT, 2, f->buf, 512, false, &used),
			 VIRTIO_BLK_S_OK);
	virtio_mmio_shutdown(f->d.vm);
	virtio_mmio_shutdown(f->d.vm);
	expect_file(f, 1024, p, 512);
	/* A stopped device serves nothing, and register accesses stay safe. */
	{
		struct vdrv_buf b = { .gpa = f->buf, .len = 512, .write = true };
		uint32_t id;

		assert_true(vdrv_blk_submit(&f->d, VIRTIO_BLK_T_IN, 0, &b, 1, false) >= 0);
		vdrv_notify(&f->d, 0);
		assert_int_equal(vdrv_wait_used(&f->d, 0, &id, &used, 200), -1);
	}
	assert_int_equal(vdrv_read(&f->d, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	vdrv_write(&f->d, VIRTIO_MMIO_STATUS, 0);
}

/* Where a refused or abandoned request would have written: still a hole in a sparse image. */
static const uint8_t zeroes[4 * SZ_1M];

static uint32_t config_le32(struct vdrv *d, unsigned off)
{
	return vdrv_read(d, VIRTIO_MMIO_CONFIG + off);
}

/* Writes the guest was told had completed, the first one flushed: what any stop must keep. */
#define MARK1_OFF (512 * SZ_1M)
#define MARK2_OFF (700 * SZ_1M)

static void markers_write(struct fixture *f, uint64_t gpa)
{
	uint8_t *p = vdrv_ptr(&f->d, gpa);
	uint32_t used;

	memset(p, 0xc3, SZ_64K);
	memset(p + SZ_64K, 0x3c, 4096);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_OUT, MARK1_OFF / 512, gpa, SZ_64K, false, &used),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(vdrv_blk_sync(&f->d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &used),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_OUT, MARK2_OFF / 512, gpa + SZ_64K, 4096, false,
				 &used),
			 VIRTIO_BLK_S_OK);
}

static void markers_expect(struct fixture *f, uint64_t gpa)
{
	uint8_t *p = vdrv_ptr(&f->d, gpa);

	memset(p, 0xc3, SZ_64K);
	memset(p + SZ_64K, 0x3c, 4096);
	expect_file(f, MARK1_OFF, p, SZ_64K);
	expect_file(f, MARK2_OFF, p + SZ_64K, 4096);
}

/* virtio_mmio_shutdown, as SIGTERM, power-off and Ctrl-A x reach it: milliseconds. */
static double timed_shutdown(struct fixture *f)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	virtio_mmio_shutdown(f->d.vm);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

/*
 * Issue 11's attack: 16 indirect writes of 254 descriptors, each descriptor the same 4 MiB
 * buffer, queued against a 1 GiB sparse image: 16 GiB to write, for which stopping used to wait
 * (3.4-4.0 s). Every descriptor is over SIZE_MAX, so each is refused with IOERR and writes
 * nothing; the stop takes milliseconds, and the writes completed before it are on the disk.
 */
static void test_stop_attack(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	uint64_t marks = vdrv_alloc(d, 2 * SZ_64K, 4096);
	static struct vdrv_buf bufs[254];
	uint32_t id, len;
	unsigned answered = 0;
	double ms;

	markers_write(f, marks);
	memset(vdrv_ptr(d, f->buf), 0x5a, 4 * SZ_1M);
	for (unsigned i = 0; i < ARRAY_SIZE(bufs); i++)
		bufs[i] = (struct vdrv_buf){ .gpa = f->buf, .len = 4 * SZ_1M };
	for (int k = 0; k < 16; k++)
		assert_true(vdrv_blk_submit(d, VIRTIO_BLK_T_OUT, 0, bufs, 254, true) >= 0);
	vdrv_notify(d, 0);
	usleep(20000); /* the worker has taken them */
	ms = timed_shutdown(f);
	print_message("stop with 16 x 254 x 4 MiB writes queued: %.1f ms\n", ms);
	assert_true(ms < 500);
	markers_expect(f, marks);
	while (vdrv_get_used(d, 0, &id, &len)) {
		assert_int_equal(vdrv_blk_status(d, (uint16_t)id), VIRTIO_BLK_S_IOERR);
		assert_int_equal(len, 1);
		answered++;
	}
	print_message("attack requests answered (IOERR) before the stop: %u of 16\n", answered);
	/* refused, not half done: the image where they aimed is still a hole */
	expect_file(f, 0, zeroes, sizeof(zeroes));
}

/*
 * The same flood within the advertised limits: every ring slot holds a write of SEG_MAX
 * segments of SIZE_MAX bytes, all one buffer (8 GiB queued). The stop cuts the queue after
 * the chunk in progress; every write answered before it is in the image, and so is what was
 * written and flushed before.
 */
static void test_stop_flood(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	uint64_t marks = vdrv_alloc(d, 2 * SZ_64K, 4096);
	uint32_t size_max = config_le32(d, VIRTIO_BLK_CFG_SIZE_MAX);
	uint32_t seg_max = config_le32(d, VIRTIO_BLK_CFG_SEG_MAX);
	static struct vdrv_buf bufs[VDRV_QUEUE_MAX];
	uint8_t *p = vdrv_ptr(d, f->buf);
	unsigned queued = 0, ok = 0, answered = 0;
	uint32_t id, len;
	double ms;

	assert_true(vdrv_device_features(d) & VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX));
	assert_true(size_max >= 4096 && size_max <= 4 * SZ_1M && size_max % 512 == 0);
	assert_true(seg_max >= 1 && seg_max <= VDRV_QUEUE_MAX - 2);
	markers_write(f, marks);
	for (uint32_t i = 0; i < size_max; i++)
		p[i] = (uint8_t)(i * 31 + 7);
	for (unsigned i = 0; i < seg_max; i++)
		bufs[i] = (struct vdrv_buf){ .gpa = f->buf, .len = size_max };
	while (vdrv_blk_submit(d, VIRTIO_BLK_T_OUT, 0, bufs, seg_max, true) >= 0)
		queued++;
	vdrv_notify(d, 0);
	/* Once one has completed the worker is in the middle of the rest. */
	assert_int_equal(vdrv_wait_used(d, 0, &id, &len, 5000), 0);
	ok += vdrv_blk_status(d, (uint16_t)id) == VIRTIO_BLK_S_OK;
	answered++;
	ms = timed_shutdown(f);
	while (vdrv_get_used(d, 0, &id, &len)) {
		ok += vdrv_blk_status(d, (uint16_t)id) == VIRTIO_BLK_S_OK;
		answered++;
	}
	print_message("stop with %u writes of %u x %u bytes queued: %.1f ms (%u answered, %u OK)\n",
		      queued, seg_max, size_max, ms, answered, ok);
	assert_true(ms < 500);
	assert_int_equal(ok, answered);
	assert_true(answered < queued);
	markers_expect(f, marks);
	for (uint64_t off = 0; off < (uint64_t)seg_max * size_max; off += size_max)
		expect_file(f, off, p, size_max);
}

/*
 * One request of nsegs payload segments of seg_len bytes, all aliasing one buffer at area + 64,
 * through an indirect table, waited for: the status (or -1 on a timeout). With merge, the first
 * payload segment shares the header's descriptor (a write) or the last one the status byte's
 * (a read), as VIRTIO_F_ANY_LAYOUT allows: SEG_MAX + 1 segments then still fit the queue.
 */
static int req_segs(struct fixture *f, uint64_t area, uint32_t type, uint64_t sector,
		    uint32_t seg_len, unsigned nsegs, bool merge, uint32_t *used)
{
	static struct vdrv_buf b[VDRV_QUEUE_MAX + 2];
	struct vdrv *d = &f->d;
	uint64_t hdr = area, data = area + 64, st = data + seg_len;
	bool in = type == VIRTIO_BLK_T_IN;
	unsigned n = 0;
	uint32_t id;

	put_le32(vdrv_ptr(d, hdr), type);
	put_le32((uint8_t *)vdrv_ptr(d, hdr) + 4, 0);
	put_le64((uint8_t *)vdrv_ptr(d, hdr) + 8, sector);
	if (merge && !in) {
		/* the payload right after the header, in its descriptor */
		data = hdr + VIRTIO_BLK_HDR_BYTES;
		st = data + seg_len;
		b[n++] = (struct vdrv_buf){ .gpa = hdr, .len = VIRTIO_BLK_HDR_BYTES + seg_len };
		nsegs--;
	} else {
		b[n++] = (struct vdrv_buf){ .gpa = hdr, .len = VIRTIO_BLK_HDR_BYTES };
	}
	for (unsigned i = 0; i < nsegs - (merge && in); i++)
		b[n++] = (struct vdrv_buf){ .gpa = data, .len = seg_len, .write = in };
	if (merge && in)
		b[n++] = (struct vdrv_buf){ .gpa = data, .len = seg_len + 1, .write = true };
	else
		b[n++] = (struct vdrv_buf){ .gpa = st, .len = 1, .write = true };
	*(uint8_t *)vdrv_ptr(d, st) = 0xee;
	if (vdrv_submit(d, 0, b, n, true) < 0)
		return -1;
	vdrv_notify(d, 0);
	if (vdrv_wait_used(d, 0, &id, used, 5000))
		return -1;
	return *(uint8_t *)vdrv_ptr(d, st);
}

/*
 * SIZE_MAX and SEG_MAX are offered. A request at them works, however its header and status
 * share descriptors; one beyond either (a segment too long, a segment too many, and so more
 * bytes than SEG_MAX x SIZE_MAX, the cap on a request) is answered with IOERR, touches neither
 * the image nor guest memory, and leaves the device working.
 */
static void test_request_limits(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	uint64_t feat = vdrv_device_features(d);
	uint32_t size_max = config_le32(d, VIRTIO_BLK_CFG_SIZE_MAX);
	uint32_t seg_max = config_le32(d, VIRTIO_BLK_CFG_SEG_MAX);
	uint64_t cap = (uint64_t)seg_max * size_max, bad_sector = 256 * SZ_1M / 512;
	uint64_t area = vdrv_alloc(d, size_max + 8192, 4096);
	const struct {
		uint32_t seg_len;
		unsigned nsegs;
		bool merge;
	} bad[] = {
		{ size_max + 512, 1, false }, /* one segment over SIZE_MAX */
		{ size_max + 512, 2, true },
		{ 512, seg_max + 1, true }, /* one segment over SEG_MAX */
		{ size_max, seg_max + 1, true }, /* and SIZE_MAX bytes over the cap */
	};
	uint32_t used;

	assert_true(feat & VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX));
	assert_true(feat & VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX));
	/* at least a 64 KiB page: Linux refuses a smaller max_segment_size */
	assert_true(size_max >= SZ_64K && size_max % 4096 == 0 && size_max <= SZ_1M);
	assert_true(seg_max >= 1 && seg_max + 2 <= VDRV_QUEUE_MAX);
	print_message("size_max %u, seg_max %u: at most %llu bytes a request\n", size_max, seg_max,
		      (unsigned long long)cap);

	for (int merge = 0; merge < 2; merge++) {
		uint8_t *p = vdrv_ptr(d, area + (merge ? VIRTIO_BLK_HDR_BYTES : 64));

		memset(p, 0x6b + merge, size_max);
		assert_int_equal(req_segs(f, area, VIRTIO_BLK_T_OUT, 0, size_max, seg_max, merge,
					  &used),
				 VIRTIO_BLK_S_OK);
		assert_int_equal(used, 1);
		for (uint64_t off = 0; off < cap; off += size_max)
			expect_file(f, off, p, size_max);
		p = vdrv_ptr(d, area + 64);
		memset(p, 0, size_max);
		assert_int_equal(req_segs(f, area, VIRTIO_BLK_T_IN, 0, size_max, seg_max, merge,
					  &used),
				 VIRTIO_BLK_S_OK);
		assert_int_equal(used, cap + 1);
		for (uint32_t i = 0; i < size_max; i++)
			assert_int_equal(p[i], 0x6b + merge);
	}

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint8_t *p = vdrv_ptr(d, area + 64);

		assert_int_equal(req_segs(f, area, VIRTIO_BLK_T_OUT, bad_sector, bad[i].seg_len,
					  bad[i].nsegs, bad[i].merge, &used),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(used, 1);
		/* a hole stays a hole */
		expect_file(f, bad_sector * 512, zeroes, sizeof(zeroes));
		memset(p, 0x77, bad[i].seg_len);
		assert_int_equal(req_segs(f, area, VIRTIO_BLK_T_IN, 0, bad[i].seg_len, bad[i].nsegs,
					  bad[i].merge, &used),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(used, 1);
		for (uint32_t k = 0; k < bad[i].seg_len; k++)
			if (p[k] != 0x77)
				fail_msg("refused read %zu wrote guest byte %u", i, k);
	}
	assert_false(vdrv_status(d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(blk_req(f, VIRTIO_BLK_T_IN, 0, f->buf, 4096, true, &used),
			 VIRTIO_BLK_S_OK);
}

#ifdef __linux__
struct stopper {
	struct virtio_mmio *vm;
	pthread_t thread;
};

static void *stopper_run(void *opaque)
{
	struct stopper *st = opaque;

	virtio_mmio_shutdown(st->vm);
	return NULL;
}

/* A userfaultfd on one page of guest RAM (emptied first): the device's copy waits in it. */
static int uffd_trap(void *page)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)page, .len = 4096 },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api) || madvise(page, 4096, MADV_DONTNEED) ||
	    ioctl(fd, UFFDIO_REGISTER, &reg)) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/*
 * A stop arrives while a worker is inside a 3 MiB write, its second 1 MiB chunk held on a
 * guest page that faults (a userfaultfd) until the test lets it go after the stop: the chunk in
 * progress completes, the third never starts, and the request is not answered.
 */
static void test_stop_between_chunks(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	uint64_t area = vdrv_alloc(d, 3 * SZ_1M, 4096);
	uint8_t *p = vdrv_ptr(d, area), page[4096];
	struct vdrv_buf b[24];
	struct stopper st = { .vm = d->vm };
	struct pollfd pfd = { .events = POLLIN };
	struct uffd_msg msg;
	struct uffdio_copy copy;
	int fd, pr, cr;
	bool got;

	for (int c = 0; c < 3; c++)
		memset(p + c * SZ_1M, 0xa1 + 0x11 * c, SZ_1M);
	for (int i = 0; i < 24; i++)
		b[i] = (struct vdrv_buf){ .gpa = area + (uint64_t)i * 128 * 1024,
					  .len = 128 * 1024 };
	fd = uffd_trap(p + SZ_1M);
	if (fd < 0) {
		print_message("no userfaultfd here (%s): skipped\n", strerror(-fd));
		skip();
	}
	assert_true(vdrv_blk_submit(d, VIRTIO_BLK_T_OUT, 0, b, 24, true) >= 0);
	vdrv_notify(d, 0);
	/* The worker has written the first chunk and waits in the second. */
	pfd.fd = fd;
	got = poll(&pfd, 1, 5000) == 1 && read(fd, &msg, sizeof(msg)) == (ssize_t)sizeof(msg) &&
	      msg.event == UFFD_EVENT_PAGEFAULT;
	pr = got ? pthread_create(&st.thread, NULL, stopper_run, &st) : -1;
	usleep(100000); /* the stop is requested; its join waits for the worker */
	memset(page, 0xb2, sizeof(page));
	copy = (struct uffdio_copy){ .dst = (uintptr_t)(p + SZ_1M),
				     .src = (uintptr_t)page,
				     .len = sizeof(page) };
	cr = ioctl(fd, UFFDIO_COPY, &copy);
	/* No assertion before this: a worker left waiting would hang the teardown. */
	close(fd);
	if (!pr)
		pthread_join(st.thread, NULL);
	assert_true(got);
	assert_int_equal(pr, 0);
	assert_int_equal(cr, 0);
	assert_int_equal(vdrv_used_idx(d, 0), 0);
	expect_file(f, 0, p, 2 * SZ_1M);
	expect_file(f, 2 * SZ_1M, zeroes, SZ_1M);
}
#else
static void test_stop_between_chunks(void **state)
{
	skip();
}
#endif

#define T(fn)	  cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define T_BIG(fn) cmocka_unit_test_setup_teardown(fn, setup_big, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_read),
		T(test_read_segments),
		T(test_write),
		T(test_flush),
		T(test_get_id),
		T(test_header_split),
		T(test_out_of_range),
		T(test_unsupported),
		T(test_short_header),
		cmocka_unit_test_setup_teardown(test_readonly, setup_ro, teardown),
		T(test_image_locks),
		T(test_open_errors),
		T(test_discard_write_zeroes),
		T(test_deep_queue),
		T(test_deep_queue_writes),
		T(test_mixed_batch),
		T(test_image_shrinks),
		T(test_reset_during_io),
		T(test_shutdown),
		T_BIG(test_request_limits),
		T_BIG(test_stop_attack),
		T_BIG(test_stop_flood),
		T_BIG(test_stop_between_chunks),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests_name("virtio-blk", tests, NULL, NULL);
}

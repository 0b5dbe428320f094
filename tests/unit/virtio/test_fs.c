// SPDX-License-Identifier: MIT
/*
 * virtio-fs through the test driver: config space, FUSE requests on the request queue in the
 * buffer layouts the guest uses, FORGET on hiprio, malformed chains, many requests in flight,
 * the largest request (1 MiB in 260 descriptors), and a reset that ends the session.
 */
#include <fcntl.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio/fs.h"
#include "devices/virtio/virtio.h"
#include "fs/fuse_wire.h"
#include "tests/unit/virtio/driver.h"

#define RAM_SIZE (8 * SZ_1M)
#define TAG36	 "a-tag-of-exactly-thirty-six-bytes-xy"

struct fixture {
	struct vdrv d;
	char dir[256];
	uint64_t unique;
};

static void fix_write(struct fixture *f, const char *name, const char *text)
{
	char p[512];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", f->dir, name);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Features, queues (the request queue of request_num entries), DRIVER_OK: as Linux starts it. */
static void fs_start(struct fixture *f, uint16_t request_num)
{
	struct vdrv *d = &f->d;

	assert_int_equal(vdrv_negotiate(d, VIRTIO_BIT(VIRTIO_F_VERSION_1) |
						   VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC)),
			 0);
	assert_int_equal(vdrv_queue_setup(d, VIRTIO_FS_QUEUE_HIPRIO, 16), 0);
	assert_int_equal(vdrv_queue_setup(d, VIRTIO_FS_QUEUE_REQUEST, request_num), 0);
	vdrv_driver_ok(d);
	assert_true(vdrv_status(d) & VIRTIO_STATUS_DRIVER_OK);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct virtio_fs_params p = { .tag = TAG36 };
	struct errbuf e;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/ignition-vfs-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	p.path = f->dir;
	assert_int_equal(vdrv_init(&f->d, RAM_SIZE), 0);
	f->d.vm = virtio_fs_create(&p, &f->d.gm, &f->d.irq, &e);
	assert_non_null(f->d.vm);
	fs_start(f, 64);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vdrv_fini(&f->d);
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* A request as Linux lays it out: in header, arguments, out header, reply payload. */
struct req {
	uint64_t in_hdr, args, out_hdr, payload;
	uint32_t args_len, payload_len;
	uint64_t unique;
};

static void req_build(struct fixture *f, struct req *r, uint32_t op, uint64_t node, const void *a,
		      uint32_t alen, uint32_t room)
{
	struct vdrv *d = &f->d;
	struct fw_in_header h = {
		.len = (uint32_t)sizeof(h) + alen,
		.opcode = op,
		.unique = ++f->unique,
		.nodeid = node,
	};

	r->in_hdr = vdrv_alloc(d, sizeof(h), 8);
	r->args = vdrv_alloc(d, alen ? alen : 1, 8);
	r->out_hdr = vdrv_alloc(d, sizeof(struct fw_out_header), 8);
	r->payload = vdrv_alloc(d, room ? room : 1, 8);
	r->args_len = alen;
	r->payload_len = room;
	r->unique = h.unique;
	memcpy(vdrv_ptr(d, r->in_hdr), &h, sizeof(h));
	if (alen)
		memcpy(vdrv_ptr(d, r->args), a, alen);
	memset(vdrv_ptr(d, r->out_hdr), 0xee, sizeof(struct fw_out_header));
}

static int req_submit(struct fixture *f, struct req *r, unsigned q, bool indirect)
{
	struct vdrv_buf b[4];
	unsigned n = 0;

	b[n++] = (struct vdrv_buf){ .gpa = r->in_hdr, .len = sizeof(struct fw_in_header) };
	if (r->args_len)
		b[n++] = (struct vdrv_buf){ .gpa = r->args, .len = r->args_len };
	if (q == VIRTIO_FS_QUEUE_REQUEST) {
		b[n++] = (struct vdrv_buf){ .gpa = r->out_hdr, .len = 16, .write = true };
		if (r->payload_len)
			b[n++] = (struct vdrv_buf){ .gpa = r->payload,
						    .len = r->payload_len,
						    .write = true };
	}
	return vdrv_submit(&f->d, q, b, n, indirect);
}

/* Runs one request; returns the reply's error and the used length in *used. */
static int req_run(struct fixture *f, struct req *r, unsigned q, bool indirect, uint32_t *used)
{
	struct fw_out_header oh;
	uint32_t id, len;
	int head = req_submit(f, r, q, indirect);

	assert_true(head >= 0);
	vdrv_notify(&f->d, q);
	assert_int_equal(vdrv_wait_used(&f->d, q, &id, &len, 5000), 0);
	assert_int_equal(id, head);
	if (used)
		*used = len;
	if (q == VIRTIO_FS_QUEUE_HIPRIO || !len)
		return -1000;
	memcpy(&oh, vdrv_ptr(&f->d, r->out_hdr), sizeof(oh));
	assert_int_equal(oh.unique, r->unique);
	assert_int_equal(oh.len, len);
	return oh.error;
}

static int call(struct fixture *f, uint32_t op, uint64_t node, const void *a, uint32_t alen,
		uint32_t room, void *reply)
{
	struct req r;
	int err;

	req_build(f, &r, op, node, a, alen, room);
	err = req_run(f, &r, VIRTIO_FS_QUEUE_REQUEST, false, NULL);
	if (!err && reply)
		memcpy(reply, vdrv_ptr(&f->d, r.payload), room);
	return err;
}

static void fuse_init(struct fixture *f)
{
	struct fw_init_in in = { .major = 7, .minor = 38, .max_readahead = 65536 };
	struct fw_init_out o;

	assert_int_equal(call(f, FW_INIT, 0, &in, sizeof(in), sizeof(o), &o), 0);
	assert_int_equal(o.major, 7);
	assert_true(o.minor >= 31);
}

static void test_config(void **state)
{
	struct fixture *f = *state;
	char tag[37] = { 0 };

	assert_int_equal(vdrv_read(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_FS);
	for (unsigned i = 0; i < 36; i++)
		tag[i] = (char)vdrv_read_w(&f->d, VIRTIO_MMIO_CONFIG + i, 1);
	assert_string_equal(tag, TAG36);
	assert_int_equal(vdrv_read(&f->d, VIRTIO_MMIO_CONFIG + 36), 1);
	/* config space is read-only */
	vdrv_write(&f->d, VIRTIO_MMIO_CONFIG + 36, 7);
	assert_int_equal(vdrv_read(&f->d, VIRTIO_MMIO_CONFIG + 36), 1);
	/* a third queue does not exist */
	vdrv_write(&f->d, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(vdrv_read(&f->d, VIRTIO_MMIO_QUEUE_NUM_MAX_REG), 0);
}

static void test_requests(void **state)
{
	struct fixture *f = *state;
	struct fw_entry_out e;
	struct fw_open_in oi = { .flags = FW_O_RDONLY };
	struct fw_open_out oo;
	struct fw_read_in ri;
	struct fw_forget_in fg = { .nlookup = 1 };
	struct fw_getattr_in ga = { 0 };
	struct req r;
	uint32_t used;

	fix_write(f, "hello", "hello from the host\n");
	fuse_init(f);
	assert_int_equal(call(f, FW_LOOKUP, FW_ROOT_ID, "hello", 6, sizeof(e), &e), 0);
	assert_int_equal(e.attr.size, 20);
	assert_int_equal(call(f, FW_OPEN, e.nodeid, &oi, sizeof(oi), sizeof(oo), &oo), 0);
	/* READ through an indirect table; the used length covers header and data */
	ri = (struct fw_read_in){ .fh = oo.fh, .size = 4096 };
	req_build(f, &r, FW_READ, e.nodeid, &ri, sizeof(ri), 4096);
	assert_int_equal(req_run(f, &r, VIRTIO_FS_QUEUE_REQUEST, true, &used), 0);
	assert_int_equal(used, 16 + 20);
	assert_memory_equal(vdrv_ptr(&f->d, r.payload), "hello from the host\n", 20);
	/* FORGET on hiprio: nothing written back, the guest's reference is gone */
	req_build(f, &r, FW_FORGET, e.nodeid, &fg, sizeof(fg), 0);
	assert_int_equal(req_run(f, &r, VIRTIO_FS_QUEUE_HIPRIO, false, &used), -1000);
	assert_int_equal(used, 0);
	assert_int_equal(call(f, FW_GETATTR, e.nodeid, &ga, sizeof(ga), 104, NULL), -ENOENT);
	/* xattrs are not served */
	assert_int_equal(call(f, FW_GETXATTR, FW_ROOT_ID, "user.x\0\0\0\0\0\0\0\0\0", 16, 64, NULL),
			 -ENOSYS);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_malformed_chains(void **state)
{
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	struct fw_getattr_in ga = { 0 };
	struct req r;
	uint32_t used, id, len;
	uint64_t junk = vdrv_alloc(d, 64, 8);
	int head;

	fuse_init(f);
	/* a request with no writable part on the request queue: no reply, nothing breaks */
	req_build(f, &r, FW_GETATTR, FW_ROOT_ID, &ga, sizeof(ga), 0);
	assert_int_equal(req_run(f, &r, VIRTIO_FS_QUEUE_HIPRIO, false, &used), -1000);
	assert_int_equal(used, 0);
	/* a header whose len is larger than the chain */
	req_build(f, &r, FW_GETATTR, FW_ROOT_ID, &ga, sizeof(ga), 104);
	((struct fw_in_header *)vdrv_ptr(d, r.in_hdr))->len = 1u << 30;
	assert_int_equal(req_run(f, &r, VIRTIO_FS_QUEUE_REQUEST, false, &used), -1000);
	assert_int_equal(used, 0);
	/* only writable buffers, and an 8-byte readable part */
	head = vdrv_submit(d, VIRTIO_FS_QUEUE_REQUEST,
			   (struct vdrv_buf[]){ { .gpa = junk, .len = 64, .write = true } }, 1,
			   false);
	vdrv_notify(d, VIRTIO_FS_QUEUE_REQUEST);
	assert_int_equal(vdrv_wait_used(d, VIRTIO_FS_QUEUE_REQUEST, &id, &len, 5000), 0);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	head = vdrv_submit(d, VIRTIO_FS_QUEUE_REQUEST,
			   (struct vdrv_buf[]){ { .gpa = junk, .len = 8 },
						{ .gpa = junk + 8, .len = 56, .write = true } },
			   2, false);
	vdrv_notify(d, VIRTIO_FS_QUEUE_REQUEST);
	assert_int_equal(vdrv_wait_used(d, VIRTIO_FS_QUEUE_REQUEST, &id, &len, 5000), 0);
	assert_int_equal(len, 0);
	/* and the device still serves */
	assert_int_equal(call(f, FW_GETATTR, FW_ROOT_ID, &ga, sizeof(ga), 104, NULL), 0);
	assert_false(vdrv_status(d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* Many requests at once: the workers take them in any order, each gets its own reply. */
static void test_many_in_flight(void **state)
{
	struct fixture *f = *state;
	enum { N = 24 };
	struct fw_entry_out e;
	struct fw_open_in oi = { .flags = FW_O_RDONLY };
	struct fw_open_out oo;
	struct req r[N];
	int heads[N];
	bool done[N] = { false };
	char text[64];

	for (int i = 0; i < 64; i++)
		text[i] = (char)('A' + i % 26);
	text[63] = 0;
	fix_write(f, "data", text);
	fuse_init(f);
	assert_int_equal(call(f, FW_LOOKUP, FW_ROOT_ID, "data", 5, sizeof(e), &e), 0);
	assert_int_equal(call(f, FW_OPEN, e.nodeid, &oi, sizeof(oi), sizeof(oo), &oo), 0);
	for (int i = 0; i < N; i++) {
		struct fw_read_in ri = { .fh = oo.fh, .offset = (uint64_t)i, .size = 8 };

		req_build(f, &r[i], FW_READ, e.nodeid, &ri, sizeof(ri), 8);
		heads[i] = req_submit(f, &r[i], VIRTIO_FS_QUEUE_REQUEST, i & 1);
		assert_true(heads[i] >= 0);
	}
	vdrv_notify(&f->d, VIRTIO_FS_QUEUE_REQUEST);
	for (int k = 0; k < N; k++) {
		uint32_t id, len;
		int i;

		assert_int_equal(vdrv_wait_used(&f->d, VIRTIO_FS_QUEUE_REQUEST, &id, &len, 5000),
				 0);
		for (i = 0; i < N && heads[i] != (int)id; i++)
			;
		assert_true(i < N);
		assert_false(done[i]);
		done[i] = true;
		assert_int_equal(len, 16 + 8);
		assert_memory_equal(vdrv_ptr(&f->d, r[i].payload), text + i, 8);
	}
}

/* Sends a chain of n buffers and waits for it; returns the used length. */
static uint32_t chain_run(struct fixture *f, const struct vdrv_buf *b, unsigned n, bool indirect)
{
	uint32_t id, len;
	int head = vdrv_submit(&f->d, VIRTIO_FS_QUEUE_REQUEST, b, n, indirect);

	assert_true(head >= 0);
	vdrv_notify(&f->d, VIRTIO_FS_QUEUE_REQUEST);
	assert_int_equal(vdrv_wait_used(&f->d, VIRTIO_FS_QUEUE_REQUEST, &id, &len, 5000), 0);
	assert_int_equal(id, head);
	return len;
}

/*
 * The largest request INIT announces, as Linux builds it: a 1 MiB WRITE or READ is one chain of
 * a page per descriptor plus the headers (260 descriptors), longer than the other devices'
 * queues, direct and through an indirect table. The bytes land in the host file and come back.
 */
static void test_max_request(void **state)
{
	enum { PAGES = 256, PG = 4096, NDESC = PAGES + 4 };
	struct fixture *f = *state;
	struct vdrv *d = &f->d;
	struct fw_init_in ii = { .major = 7,
				 .minor = 38,
				 .max_readahead = 1u << 20,
				 .flags = FW_INIT_MAX_PAGES | FW_INIT_BIG_WRITES };
	struct fw_init_out io;
	struct fw_entry_out e;
	struct fw_open_in oi = { .flags = FW_O_RDWR };
	struct fw_open_out oo;
	struct vdrv_buf b[NDESC];
	uint64_t data = vdrv_alloc(d, PAGES * PG, PG), hdr = vdrv_alloc(d, 256, 8);
	uint8_t *want = malloc(PAGES * PG);
	char p[512];
	int fd;

	assert_non_null(want);
	vdrv_write(d, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_FS_QUEUE_REQUEST);
	assert_true(vdrv_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX_REG) >= NDESC);
	fs_start(f, 512);
	assert_int_equal(call(f, FW_INIT, 0, &ii, sizeof(ii), sizeof(io), &io), 0);
	assert_int_equal(io.max_write, 1u << 20);
	assert_int_equal(io.max_pages, PAGES);
	fix_write(f, "big", "");
	assert_int_equal(call(f, FW_LOOKUP, FW_ROOT_ID, "big", 4, sizeof(e), &e), 0);
	assert_int_equal(call(f, FW_OPEN, e.nodeid, &oi, sizeof(oi), sizeof(oo), &oo), 0);
	for (int pass = 0; pass < 2; pass++) {
		struct fw_in_header h = { .opcode = FW_WRITE,
					  .unique = ++f->unique,
					  .nodeid = e.nodeid };
		struct fw_write_in wi = { .fh = oo.fh, .size = PAGES * PG };
		struct fw_read_in ri = { .fh = oo.fh, .size = PAGES * PG };
		struct fw_write_out wo;
		struct fw_out_header oh;
		uint8_t *pages = vdrv_ptr(d, data);
		unsigned n = 0;

		for (unsigned i = 0; i < PAGES * PG; i++)
			want[i] = (uint8_t)(i * 7 + i / PG + pass);
		memcpy(pages, want, PAGES * PG);
		h.len = (uint32_t)(sizeof(h) + sizeof(wi) + wi.size);
		memcpy(vdrv_ptr(d, hdr), &h, sizeof(h));
		memcpy(vdrv_ptr(d, hdr + 64), &wi, sizeof(wi));
		b[n++] = (struct vdrv_buf){ .gpa = hdr, .len = sizeof(h) };
		b[n++] = (struct vdrv_buf){ .gpa = hdr + 64, .len = sizeof(wi) };
		for (unsigned i = 0; i < PAGES; i++)
			b[n++] = (struct vdrv_buf){ .gpa = data + i * PG, .len = PG };
		b[n++] = (struct vdrv_buf){ .gpa = hdr + 128, .len = sizeof(oh), .write = true };
		b[n++] = (struct vdrv_buf){ .gpa = hdr + 192, .len = sizeof(wo), .write = true };
		assert_int_equal(n, NDESC);
		assert_int_equal(chain_run(f, b, n, pass), sizeof(oh) + sizeof(wo));
		memcpy(&oh, vdrv_ptr(d, hdr + 128), sizeof(oh));
		memcpy(&wo, vdrv_ptr(d, hdr + 192), sizeof(wo));
		assert_int_equal(oh.error, 0);
		assert_int_equal(wo.size, PAGES * PG);

		/* the host file has every byte */
		snprintf(p, sizeof(p), "%s/big", f->dir);
		fd = open(p, O_RDONLY);
		assert_true(fd >= 0);
		memset(pages, 0, PAGES * PG);
		assert_int_equal(read(fd, pages, PAGES * PG), PAGES * PG);
		close(fd);
		assert_memory_equal(pages, want, PAGES * PG);

		/* and READ brings them back into a page per descriptor */
		memset(pages, 0, PAGES * PG);
		h = (struct fw_in_header){ .len = sizeof(h) + sizeof(ri),
					   .opcode = FW_READ,
					   .unique = ++f->unique,
					   .nodeid = e.nodeid };
		memcpy(vdrv_ptr(d, hdr), &h, sizeof(h));
		memcpy(vdrv_ptr(d, hdr + 64), &ri, sizeof(ri));
		n = 0;
		b[n++] = (struct vdrv_buf){ .gpa = hdr, .len = sizeof(h) };
		b[n++] = (struct vdrv_buf){ .gpa = hdr + 64, .len = sizeof(ri) };
		b[n++] = (struct vdrv_buf){ .gpa = hdr + 128, .len = sizeof(oh), .write = true };
		for (unsigned i = 0; i < PAGES; i++)
			b[n++] =
				(struct vdrv_buf){ .gpa = data + i * PG, .len = PG, .write = true };
		assert_int_equal(chain_run(f, b, n, !pass), sizeof(oh) + PAGES * PG);
		assert_memory_equal(pages, want, PAGES * PG);
	}
	assert_false(vdrv_status(d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	free(want);
}

/* A reset ends the FUSE session: the old nodeids mean nothing to the next driver. */
static void test_reset(void **state)
{
	struct fixture *f = *state;
	struct fw_entry_out e;
	struct fw_getattr_in ga = { 0 };

	fix_write(f, "x", "x");
	fuse_init(f);
	assert_int_equal(call(f, FW_LOOKUP, FW_ROOT_ID, "x", 2, sizeof(e), &e), 0);
	fs_start(f, 64);
	fuse_init(f);
	assert_int_equal(call(f, FW_GETATTR, e.nodeid, &ga, sizeof(ga), 104, NULL), -ENOENT);
	assert_int_equal(call(f, FW_GETATTR, FW_ROOT_ID, &ga, sizeof(ga), 104, NULL), 0);
}

static void test_create_errors(void **state)
{
	struct vdrv d;
	struct errbuf e;
	struct virtio_fs_params p = { .tag = "t", .path = "/nonexistent/ignition-test" };

	assert_int_equal(vdrv_init(&d, SZ_1M), 0);
	assert_null(virtio_fs_create(&p, &d.gm, &d.irq, &e));
	assert_non_null(strstr(e.msg, "/nonexistent/ignition-test"));
	p.path = "/";
	p.tag = TAG36 "z";
	assert_null(virtio_fs_create(&p, &d.gm, &d.irq, &e));
	vdrv_fini(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test(test_create_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

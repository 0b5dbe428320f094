// SPDX-License-Identifier: MIT
/*
 * The server's tables under four threads at once, as virtio-fs workers run requests: lookups,
 * forgets, creates, renames, unlinks, opens, reads, READDIRPLUS and releases of each other's
 * files in a random mix. Afterwards every reference the threads were given is returned, and
 * the server must hold the root alone: no inode or open file leaked, none freed early (ASan).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <cmocka.h>

#include "tests/unit/fs/client.h"

#define THREADS 4
#define ITERS	3000
#define NAMES	12
#define MAXNODE 4096
#define SHARED	32

struct worker {
	struct cli *c;
	struct fs_scratch *sc;
	unsigned seed;
	uint8_t reply[16384];
	uint32_t reply_len;
	uint64_t unique;
	/* the references this thread was given, by nodeid */
	uint64_t node[MAXNODE];
	uint64_t count[MAXNODE];
	unsigned nr;
	/* every file it opened; others may release them first (then EBADF at the end) */
	uint64_t fhs[ITERS];
	unsigned nr_fhs;
	int fails;
};

static _Atomic uint64_t shared_fh[SHARED];
static _Atomic uint64_t dir_node;

static int wcall(struct worker *w, uint32_t op, uint64_t node, const void *a, size_t alen,
		 const void *b, size_t blen, size_t room)
{
	struct fw_in_header h = {
		.len = (uint32_t)(sizeof(h) + alen + blen),
		.opcode = op,
		.unique = ++w->unique,
		.nodeid = node,
	};
	struct fw_out_header oh = { 0 };
	struct iovec in[3] = { { &h, sizeof(h) }, { (void *)a, alen }, { (void *)b, blen } };
	struct iovec out[2] = { { &oh, sizeof(oh) }, { w->reply, room } };
	uint32_t used = fs_server_handle(w->c->s, w->sc, in, 3, out, 2);

	if (!used)
		return -1000;
	if (used != oh.len || oh.unique != h.unique)
		w->fails++;
	w->reply_len = used - 16;
	return oh.error;
}

static void got(struct worker *w, uint64_t node)
{
	for (unsigned i = 0; i < w->nr; i++) {
		if (w->node[i] == node) {
			w->count[i]++;
			return;
		}
	}
	if (w->nr == MAXNODE) {
		w->fails++;
		return;
	}
	w->node[w->nr] = node;
	w->count[w->nr++] = 1;
}

static uint64_t any_node(struct worker *w)
{
	return w->nr ? w->node[rand_r(&w->seed) % w->nr] : FW_ROOT_ID;
}

static void forget_some(struct worker *w)
{
	unsigned i;

	if (!w->nr)
		return;
	i = rand_r(&w->seed) % w->nr;
	{
		struct fw_forget_in f = { .nlookup = w->count[i] };

		wcall(w, FW_FORGET, w->node[i], &f, sizeof(f), NULL, 0, 0);
	}
	w->node[i] = w->node[--w->nr];
	w->count[i] = w->count[w->nr];
}

static void entry_op(struct worker *w, uint32_t op, uint64_t dir, const void *a, size_t alen,
		     const char *name)
{
	if (wcall(w, op, dir, a, alen, name, strlen(name) + 1, sizeof(struct fw_entry_out) + 16) ==
	    0) {
		struct fw_entry_out e;

		memcpy(&e, w->reply, sizeof(e));
		got(w, e.nodeid);
		if (op == FW_CREATE) {
			struct fw_open_out o;

			memcpy(&o, w->reply + sizeof(e), sizeof(o));
			atomic_store(&shared_fh[rand_r(&w->seed) % SHARED], o.fh);
			w->fhs[w->nr_fhs++] = o.fh;
		}
	}
}

static void readdirplus(struct worker *w, uint64_t dir)
{
	struct fw_open_in oi = { 0 };
	struct fw_read_in rd = { .size = 4096 };
	size_t pos = 0;

	if (wcall(w, FW_OPENDIR, dir, &oi, sizeof(oi), NULL, 0, 16))
		return;
	memcpy(&rd.fh, w->reply, 8);
	if (wcall(w, FW_READDIRPLUS, dir, &rd, sizeof(rd), NULL, 0, 4096) == 0) {
		while (pos + sizeof(struct fw_direntplus) <= w->reply_len) {
			struct fw_direntplus d;

			memcpy(&d, w->reply + pos, sizeof(d));
			if (d.entry_out.nodeid)
				got(w, d.entry_out.nodeid);
			pos += FW_DIRENT_ALIGN(sizeof(d) + d.dirent.namelen);
		}
	}
	wcall(w, FW_RELEASEDIR, dir, &(struct fw_release_in){ .fh = rd.fh }, 24, NULL, 0, 0);
}

static void *work(void *opaque)
{
	struct worker *w = opaque;
	char name[16], name2[16];

	for (int i = 0; i < ITERS; i++) {
		uint64_t dir = rand_r(&w->seed) & 1 ? FW_ROOT_ID : atomic_load(&dir_node);
		uint64_t fh = atomic_load(&shared_fh[rand_r(&w->seed) % SHARED]);

		snprintf(name, sizeof(name), "n%u", rand_r(&w->seed) % NAMES);
		snprintf(name2, sizeof(name2), "n%u", rand_r(&w->seed) % NAMES);
		switch (rand_r(&w->seed) % 10) {
		case 0:
		case 1:
			entry_op(w, FW_LOOKUP, dir, name, strlen(name) + 1, "");
			break;
		case 2:
			forget_some(w);
			break;
		case 3: {
			struct fw_create_in cr = { .flags = FW_O_RDWR, .mode = 0644 };

			entry_op(w, FW_CREATE, dir, &cr, sizeof(cr), name);
			break;
		}
		case 4:
			wcall(w, FW_UNLINK, dir, name, strlen(name) + 1, NULL, 0, 0);
			break;
		case 5: {
			char two[40];
			size_t n = strlen(name) + 1;
			struct fw_rename_in rn = { .newdir = rand_r(&w->seed) & 1 ?
								     FW_ROOT_ID :
								     atomic_load(&dir_node) };

			memcpy(two, name, n);
			memcpy(two + n, name2, strlen(name2) + 1);
			wcall(w, FW_RENAME, dir, &rn, sizeof(rn), two, n + strlen(name2) + 1, 0);
			break;
		}
		case 6: {
			struct fw_read_in rd = { .fh = fh, .size = 64 };
			struct fw_write_in wr = { .fh = fh, .size = 5 };

			wcall(w, FW_WRITE, FW_ROOT_ID, &wr, sizeof(wr), "hello", 5, 8);
			wcall(w, FW_READ, FW_ROOT_ID, &rd, sizeof(rd), NULL, 0, 64);
			break;
		}
		case 7: {
			struct fw_release_in rl = { .fh = fh };

			wcall(w, FW_RELEASE, FW_ROOT_ID, &rl, sizeof(rl), NULL, 0, 0);
			break;
		}
		case 8:
			readdirplus(w, dir);
			break;
		case 9: {
			struct fw_getattr_in ga = { 0 };
			struct fw_open_in oi = { .flags = FW_O_RDONLY };
			uint64_t n = any_node(w);

			wcall(w, FW_GETATTR, n, &ga, sizeof(ga), NULL, 0, 104);
			if (wcall(w, FW_OPEN, n, &oi, sizeof(oi), NULL, 0, 16) == 0) {
				atomic_store(&shared_fh[rand_r(&w->seed) % SHARED],
					     get_le64(w->reply));
				w->fhs[w->nr_fhs++] = get_le64(w->reply);
			}
			break;
		}
		}
	}
	return NULL;
}

static void test_four_threads(void **state)
{
	struct cli *c = malloc(sizeof(*c));
	struct worker *w = calloc(THREADS, sizeof(*w));
	pthread_t th[THREADS];
	struct fs_server_stats st;
	struct fw_entry_out e;

	assert_non_null(c);
	assert_non_null(w);
	cli_setup(c, false, 0, 0, false);
	{
		int r = cli_mkdir(c, FW_ROOT_ID, "d", 0755, &e);

		if (r)
			fail_msg("mkdir: %d", r);
	}
	atomic_store(&dir_node, e.nodeid);
	for (int i = 0; i < THREADS; i++) {
		w[i].c = c;
		w[i].sc = fs_scratch_create();
		w[i].seed = 1234u + (unsigned)i;
		assert_non_null(w[i].sc);
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	/* give everything back: each thread's references, every open file, the test's "d" */
	for (int i = 0; i < THREADS; i++) {
		assert_true(w[i].nr_fhs > ITERS / 50); /* the mix really opened files */
		for (unsigned k = 0; k < w[i].nr_fhs; k++) {
			struct fw_release_in rl = { .fh = w[i].fhs[k] };
			int r = cli_call(c, FW_RELEASE, FW_ROOT_ID, &rl, sizeof(rl), NULL, 0);

			assert_true(r == 0 || r == -EBADF);
		}
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(w[i].fails, 0);
		for (unsigned k = 0; k < w[i].nr; k++)
			cli_forget(c, w[i].node[k], w[i].count[k]);
		fs_scratch_destroy(w[i].sc);
	}
	fs_server_stats(c->s, &st);
	assert_int_equal(st.handles, 0);
	cli_forget(c, atomic_load(&dir_node), 1);
	fs_server_stats(c->s, &st);
	assert_int_equal(st.inodes, 1);
	cli_teardown(c);
	free(c);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_four_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

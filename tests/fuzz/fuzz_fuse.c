// SPDX-License-Identifier: MIT
/*
 * FUSE requests to the passthrough server (src/fs/), on a real temporary directory that is
 * emptied after each input, with a sentinel file beside it.
 *
 * Input: u8 flags (bit 0 read-only share, bit 1 caps of 16 inodes and 4 open files, bit 2 no
 * INIT first); then requests until the input ends:
 *   u8  opcode: an index into the opcodes below, or (past their number) a raw u32 follows
 *   u8  node: 0 the root, 255 a raw u64 follows, else a nodeid an earlier reply gave
 *   u8  patch: 1 an earlier fh over the first 8 argument bytes, 2 an earlier nodeid there
 *   u16 argument length, then that many bytes (fewer when the input ends)
 *   i8  header length error (added to the true length)
 *   u8  where the readable part splits into two buffers
 *   u16 reply room (payload bytes after the 16-byte out header; 0xffff: none at all)
 * Checked besides ASan/UBSan: the used length never exceeds the writable bytes and equals the
 * out header's len; replies echo unique; errors are -1..-4095 with no payload; FORGET and
 * BATCH_FORGET never answer; the sentinel keeps its inode, size, mode and times, and nothing
 * appears beside the share.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/fuse_wire.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_share.h"

static const uint32_t opcodes[] = {
	FW_INIT,    FW_LOOKUP,	FW_FORGET,	FW_BATCH_FORGET, FW_GETATTR,  FW_SETATTR,
	FW_STATFS,  FW_ACCESS,	FW_READLINK,	FW_SYMLINK,	 FW_MKNOD,    FW_MKDIR,
	FW_UNLINK,  FW_RMDIR,	FW_RENAME,	FW_RENAME2,	 FW_LINK,     FW_OPEN,
	FW_CREATE,  FW_READ,	FW_WRITE,	FW_FLUSH,	 FW_RELEASE,  FW_FSYNC,
	FW_OPENDIR, FW_READDIR, FW_READDIRPLUS, FW_RELEASEDIR,	 FW_FSYNCDIR, FW_FALLOCATE,
	FW_LSEEK,   FW_DESTROY, FW_GETXATTR,	FW_INTERRUPT,
};
#define NR_OPCODES (sizeof(opcodes) / sizeof(opcodes[0]))
#define KEEP	   16

static struct fz_share share;
static struct fs_scratch *sc;
static uint8_t *argbuf, *reply;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	fz_share_init(&share, "fuse");
	sc = fs_scratch_create();
	argbuf = malloc(65536);
	reply = malloc(65536);
	FUZZ_CHECK(sc && argbuf && reply);
	return 0;
}

struct state {
	uint64_t nodes[KEEP], fhs[KEEP];
	unsigned nr_nodes, nr_fhs;
	uint64_t unique;
};

static void remember(uint64_t *list, unsigned *n, uint64_t v)
{
	list[*n % KEEP] = v;
	(*n)++;
}

static void one_request(struct fs_server *s, struct state *st, struct fuzz_in *in)
{
	uint8_t sel = fz_u8(in), nsel, patch, split;
	uint32_t op = sel < NR_OPCODES ? opcodes[sel] : fz_u32(in);
	struct fw_in_header h = { .unique = ++st->unique };
	struct fw_out_header oh;
	uint16_t alen, room;
	int8_t delta;
	size_t got;
	const uint8_t *a;
	struct iovec iv[3], ov[2];
	unsigned nin = 0, nout = 0;
	uint32_t used;

	nsel = fz_u8(in);
	if (nsel == 0)
		h.nodeid = FW_ROOT_ID;
	else if (nsel == 255)
		h.nodeid = fz_u64(in);
	else
		h.nodeid = st->nr_nodes ? st->nodes[nsel % min_u64(st->nr_nodes, KEEP)] : nsel;
	patch = fz_u8(in);
	alen = fz_u16(in);
	a = fz_take(in, alen, &got);
	memcpy(argbuf, a, got);
	if (patch == 1 && st->nr_fhs && got >= 8)
		memcpy(argbuf, &st->fhs[(patch + got) % min_u64(st->nr_fhs, KEEP)], 8);
	if (patch == 2 && st->nr_nodes && got >= 8)
		memcpy(argbuf, &st->nodes[got % min_u64(st->nr_nodes, KEEP)], 8);
	delta = (int8_t)fz_u8(in);
	split = fz_u8(in);
	room = fz_u16(in);
	h.opcode = op;
	h.len = (uint32_t)(sizeof(h) + got + (size_t)(int)delta);
	iv[nin++] = (struct iovec){ &h, sizeof(h) };
	if (got) {
		size_t cut = split % (got + 1);

		iv[nin++] = (struct iovec){ argbuf, cut };
		iv[nin++] = (struct iovec){ argbuf + cut, got - cut };
	}
	memset(&oh, 0xa5, sizeof(oh));
	if (room != 0xffff) {
		ov[nout++] = (struct iovec){ &oh, sizeof(oh) };
		ov[nout++] = (struct iovec){ reply, room };
	}
	used = fs_server_handle(s, sc, iv, nin, ov, nout);
	FUZZ_CHECK(used <= (room == 0xffff ? 0u : 16u + room));
	if (op == FW_FORGET || op == FW_BATCH_FORGET)
		FUZZ_CHECK(used == 0);
	if (!used)
		return;
	FUZZ_CHECK(used == oh.len && oh.unique == h.unique);
	FUZZ_CHECK(oh.error <= 0 && oh.error > -4096);
	if (oh.error) {
		FUZZ_CHECK(used == 16);
		return;
	}
	if ((op == FW_LOOKUP || op == FW_MKDIR || op == FW_MKNOD || op == FW_SYMLINK ||
	     op == FW_LINK || op == FW_CREATE) &&
	    used >= 16 + sizeof(struct fw_entry_out)) {
		struct fw_entry_out e;

		memcpy(&e, reply, sizeof(e));
		FUZZ_CHECK(e.nodeid != 0);
		remember(st->nodes, &st->nr_nodes, e.nodeid);
	}
	if (op == FW_CREATE && used == 16 + sizeof(struct fw_entry_out) + 16)
		remember(st->fhs, &st->nr_fhs, get_le64(reply + sizeof(struct fw_entry_out)));
	if ((op == FW_OPEN || op == FW_OPENDIR) && used == 16 + 16)
		remember(st->fhs, &st->nr_fhs, get_le64(reply));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in_init(data, size);
	uint8_t flags = fz_u8(&in);
	struct fs_server_params p = {
		.path = share.path,
		.readonly = flags & 1,
		.max_inodes = flags & 2 ? 16 : 256,
		.max_handles = flags & 2 ? 4 : 64,
	};
	struct state st = { .nr_nodes = 0 };
	struct fs_server *s;
	struct errbuf e;
	unsigned n = 0;

	fz_share_ignore_xfsz();
	fz_share_seed(&share);
	FUZZ_CHECK(fs_server_create(&p, &s, &e) == 0);
	if (!(flags & 4)) {
		struct fw_init_in ii = { .major = 7, .minor = 38, .flags = 0xffffffffu };
		struct fw_in_header h = { .len = sizeof(h) + sizeof(ii), .opcode = FW_INIT };
		struct fw_out_header oh;
		struct iovec iv[2] = { { &h, sizeof(h) }, { &ii, sizeof(ii) } };
		struct iovec ov[2] = { { &oh, sizeof(oh) }, { reply, 64 } };

		FUZZ_CHECK(fs_server_handle(s, sc, iv, 2, ov, 2) == 16 + 64 && oh.error == 0);
	}
	while (!fz_empty(&in) && n++ < 256)
		one_request(s, &st, &in);
	fs_server_destroy(s);
	fz_share_check_outside(&share);
	fz_share_wipe(&share);
	return 0;
}

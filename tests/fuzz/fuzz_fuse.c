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

static char top[256], share[300], outside[300], sentinel[320];
static struct stat sentinel_st;
static struct fs_scratch *sc;
static uint8_t *argbuf, *reply;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (ftw->level > 0)
		remove(path);
	return 0;
}

static void share_wipe(void)
{
	/* the guest may have taken every permission away, the root's included */
	chmod(share, 0755);
	nftw(share, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void share_seed(void)
{
	char p[400];
	int fd;

	snprintf(p, sizeof(p), "%s/file", share);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd >= 0) {
		FUZZ_CHECK(write(fd, "0123456789abcdef", 16) == 16);
		close(fd);
	}
	snprintf(p, sizeof(p), "%s/dir", share);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dir/inner", share);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s/out", share);
	FUZZ_CHECK(symlink(outside, p) == 0);
	snprintf(p, sizeof(p), "%s/secret", share);
	FUZZ_CHECK(symlink(sentinel, p) == 0);
}

static int rm_all(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void cleanup(void)
{
	chmod(share, 0755);
	nftw(top, rm_all, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* a guest's fallocate or truncate of a huge size stops at 1 MiB here, as EFBIG */
	struct rlimit fsize = { 1 << 20, 1 << 20 };
	int fd;

	fuzz_quiet();
	setrlimit(RLIMIT_FSIZE, &fsize);
	/* tmpfs when there is one: 7x the executions of a disk-backed /tmp */
	snprintf(top, sizeof(top), "%s/ignition-fuzz-fuse-XXXXXX",
		 getenv("TMPDIR")	  ? getenv("TMPDIR") :
		 access("/dev/shm", W_OK) ? "/tmp" :
					    "/dev/shm");
	FUZZ_CHECK(mkdtemp(top));
	atexit(cleanup);
	snprintf(share, sizeof(share), "%s/share", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	snprintf(sentinel, sizeof(sentinel), "%s/sentinel", outside);
	FUZZ_CHECK(mkdir(share, 0755) == 0 && mkdir(outside, 0755) == 0);
	fd = open(sentinel, O_CREAT | O_WRONLY, 0644);
	FUZZ_CHECK(fd >= 0 && write(fd, "secret", 6) == 6);
	close(fd);
	FUZZ_CHECK(stat(sentinel, &sentinel_st) == 0);
	sc = fs_scratch_create();
	argbuf = malloc(65536);
	reply = malloc(65536);
	FUZZ_CHECK(sc && argbuf && reply);
	return 0;
}

static void check_outside(void)
{
	struct stat st;
	DIR *d;
	unsigned n = 0;

	FUZZ_CHECK(stat(sentinel, &st) == 0);
	FUZZ_CHECK(st.st_ino == sentinel_st.st_ino && st.st_size == sentinel_st.st_size &&
		   st.st_mode == sentinel_st.st_mode &&
		   st.st_mtim.tv_sec == sentinel_st.st_mtim.tv_sec &&
		   st.st_mtim.tv_nsec == sentinel_st.st_mtim.tv_nsec &&
		   st.st_ctim.tv_nsec == sentinel_st.st_ctim.tv_nsec);
	d = opendir(outside);
	FUZZ_CHECK(d);
	while (readdir(d))
		n++;
	closedir(d);
	FUZZ_CHECK(n == 3);
	d = opendir(top);
	FUZZ_CHECK(d);
	n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	FUZZ_CHECK(n == 4);
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
		.path = share,
		.readonly = flags & 1,
		.max_inodes = flags & 2 ? 16 : 256,
		.max_handles = flags & 2 ? 4 : 64,
	};
	struct state st = { .nr_nodes = 0 };
	struct fs_server *s;
	struct errbuf e;
	unsigned n = 0;
	static bool xfsz_ignored;

	/* libFuzzer catches SIGXFSZ after LLVMFuzzerInitialize: the write must just fail */
	if (!xfsz_ignored) {
		signal(SIGXFSZ, SIG_IGN);
		xfsz_ignored = true;
	}
	share_seed();
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
	check_outside();
	share_wipe();
	return 0;
}

// SPDX-License-Identifier: MIT
/* --fs tag=TAG,path=DIR[,ro]: a shared host directory (virtio-fs), repeatable. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "util/kvlist.h"
#include "vmm/options.h"

/* virtio-fs config space holds the tag in 36 bytes, not NUL-terminated when full. */
#define FS_TAG_MAX 36

static const char *const fs_keys[] = { "tag", "path", "ro", NULL };

static int fs_check(const char *arg, const struct vm_config *cfg, const char *tag, const char *path,
		    struct errbuf *e)
{
	struct stat st;

	if (!tag || !*tag)
		return err_set(e, -EINVAL, "--fs %s: tag=TAG is required", arg);
	if (strlen(tag) > FS_TAG_MAX)
		return err_set(e, -EINVAL, "--fs tag=%s: longer than %d bytes", tag, FS_TAG_MAX);
	for (unsigned i = 0; i < cfg->nr_fs; i++)
		if (!strcmp(cfg->fs[i].tag, tag))
			return err_set(e, -EINVAL, "--fs tag=%s: given twice", tag);
	if (!path || !*path)
		return err_set(e, -EINVAL, "--fs %s: path=DIR is required", arg);
	if (stat(path, &st) < 0)
		return err_set(e, -errno, "--fs path=%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(e, -ENOTDIR, "--fs path=%s: not a directory", path);
	return 0;
}

int options_parse_fs(const char *arg, struct vm_config *cfg, struct errbuf *e)
{
	struct kvlist l;
	const char *tag, *path;
	int r;

	if (cfg->nr_fs == MAX_FS)
		return err_set(e, -EINVAL, "--fs %s: at most %d shared directories", arg, MAX_FS);
	r = kvlist_parse(&l, "--fs", arg, e);
	if (r < 0)
		return r;
	r = kvlist_check(&l, "--fs", fs_keys, NULL, e);
	tag = kvlist_get(&l, "tag");
	path = kvlist_get(&l, "path");
	if (r == 0 && kvlist_has(&l, "ro") && kvlist_get(&l, "ro"))
		r = err_set(e, -EINVAL, "--fs %s: ro takes no value", arg);
	if (r == 0)
		r = fs_check(arg, cfg, tag, path, e);
	if (r == 0) {
		struct fs_config *fs = &cfg->fs[cfg->nr_fs];

		fs->tag = options_keep(tag, e);
		fs->path = fs->tag ? options_keep(path, e) : NULL;
		fs->readonly = kvlist_has(&l, "ro");
		if (fs->path)
			cfg->nr_fs++;
		else
			r = -ENOMEM;
	}
	kvlist_free(&l);
	return r;
}

// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "arch/aarch64/cmdline.h"

static const char *cmdline_root(const struct cmdline_opts *o)
{
	if (o->replace || !o->has_disk)
		return "";
	return o->root_ro ? " root=/dev/vda ro" : " root=/dev/vda rw";
}

int cmdline_build(char out[CMDLINE_MAX], const struct cmdline_opts *o, struct errbuf *e)
{
	const char *base = o->replace ? o->replace : CMDLINE_DEFAULT;
	const char *root = cmdline_root(o);
	const char *sep = o->append && *base ? " " : "";
	const char *append = o->append ? o->append : "";
	size_t len = strlen(base) + strlen(root) + strlen(sep) + strlen(append);

	out[0] = '\0';
	if (len >= CMDLINE_MAX)
		return err_set(e, -E2BIG,
			       "kernel command line is %zu bytes; arm64 allows at most %d", len,
			       CMDLINE_MAX - 1);
	strcpy(out, base);
	strcat(out, root);
	strcat(out, sep);
	strcat(out, append);
	return 0;
}

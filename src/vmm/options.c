// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/options.h"

/*
 * Strings the config keeps (a socket path, a tag) are copied out of the option's list, which is
 * cut at ',' and '='; they live as long as the process, like argv, and stay reachable from here.
 */
#define OPTIONS_MAX_KEPT 256

static char *kept[OPTIONS_MAX_KEPT];
static unsigned nr_kept;

const char *options_keep(const char *s, struct errbuf *e)
{
	char *copy;

	if (nr_kept == OPTIONS_MAX_KEPT) {
		err_set(e, -E2BIG, "too many options");
		return NULL;
	}
	copy = strdup(s);
	if (!copy) {
		err_set(e, -ENOMEM, "out of memory");
		return NULL;
	}
	kept[nr_kept++] = copy;
	return copy;
}

int options_finish(struct vm_config *cfg, struct errbuf *e)
{
	/* Like QEMU and kvmtool: a guest gets user-mode networking unless told otherwise. */
	if (!cfg->net_given) {
		int r = options_parse_net("user", cfg, e);

		/* The default NIC was not asked for: a build without libslirp leaves it out. */
		cfg->net_given = false;
		return r;
	}
	return 0;
}

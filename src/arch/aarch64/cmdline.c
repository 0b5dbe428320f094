// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "arch/aarch64/cmdline.h"

static const char *cmdline_root(const struct cmdline_opts *o)
{
	if (o->replace || !o->has_disk)
		return "";
	return o->root_ro ? " root=/dev/vda ro" : " root=/dev/vda rw";
}

/*
 * Where the kernel stops reading parameters: the first "--" word outside double quotes (what
 * follows is init's). Returns the length of s when there is none.
 */
static size_t cmdline_params_end(const char *s)
{
	bool quoted = false;

	for (size_t i = 0; s[i]; i++) {
		bool word_start = !i || isspace((unsigned char)s[i - 1]);

		if (s[i] == '"')
			quoted = !quoted;
		if (!quoted && word_start && !strncmp(s + i, "--", 2) &&
		    (!s[i + 2] || isspace((unsigned char)s[i + 2])))
			return i;
	}
	return strlen(s);
}

static size_t trim_end(const char *s, size_t len)
{
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	return len;
}

/*
 * The default line is CMDLINE_DEFAULT and root=. When --append brings parameters, it is
 * CMDLINE_BASE, root=, --append, then CMDLINE_EARLYCON (before a "--" in --append). The kernel handles early parameters in order and the early console prints the log
 * it has so far the moment it starts, at the loglevel set by then: earlycon last lets "quiet"
 * or "loglevel=" from --append apply to those first lines too. Before, six lines went out with
 * "quiet", two VM exits a byte, a sixth of a quiet boot in the emulated rig (docs/benchmarks.md).
 */
int cmdline_build(char out[CMDLINE_MAX], const struct cmdline_opts *o, struct errbuf *e)
{
	const char *root = cmdline_root(o);
	const char *append = o->append ? o->append : "";
	size_t split = o->replace ? strlen(append) : cmdline_params_end(append);
	size_t head = o->replace ? split : trim_end(append, split);
	/* No parameters of the user's to order before the early console: the documented default. */
	bool late_earlycon = !o->replace && head;
	const char *base = o->replace ? o->replace : late_earlycon ? CMDLINE_BASE : CMDLINE_DEFAULT;
	const char *early = late_earlycon ? " " CMDLINE_EARLYCON : "";
	const char *sep = o->append && *base && (head || o->replace) ? " " : "";
	const char *tail = append + split;
	const char *tail_sep = *tail ? " " : "";
	size_t len = strlen(base) + strlen(root) + strlen(sep) + head + strlen(early) +
		     strlen(tail_sep) + strlen(tail);

	out[0] = '\0';
	if (len >= CMDLINE_MAX)
		return err_set(e, -E2BIG,
			       "kernel command line is %zu bytes; arm64 allows at most %d", len,
			       CMDLINE_MAX - 1);
	strcpy(out, base);
	strcat(out, root);
	strcat(out, sep);
	strncat(out, append, head);
	strcat(out, early);
	strcat(out, tail_sep);
	strcat(out, tail);
	return 0;
}

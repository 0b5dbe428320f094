/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_UTIL_KVLIST_H
#define IGNITION_UTIL_KVLIST_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/*
 * Device and CPU options are comma-separated lists, as QEMU and Firecracker spell them:
 * "user,hostfwd=tcp::2222-:22,mac=52:54:00:12:34:57" or "cid=3,socket=/tmp/v.sock". An item
 * without '=' is a bare word (key set, value NULL). Keys may repeat (hostfwd); the order is kept.
 * Values cannot contain commas.
 */
#define KVLIST_MAX 32

struct kv {
	const char *key;
	const char *value; /* NULL for a bare word */
};

struct kvlist {
	char *buf; /* a private copy of the option, cut at ',' and '=' */
	struct kv items[KVLIST_MAX];
	unsigned n;
};

/*
 * Splits `arg` (of option `opt`, for messages such as "--net: empty item"). Empty items, empty
 * keys and more than KVLIST_MAX items are refused. The list owns a copy: kvlist_free() it, or keep
 * it for the life of the process when the config points into it.
 */
int kvlist_parse(struct kvlist *l, const char *opt, const char *arg, struct errbuf *e);
void kvlist_free(struct kvlist *l);

/* The value of the last item named key, or NULL (also for a bare word: see kvlist_has()). */
const char *kvlist_get(const struct kvlist *l, const char *key);
bool kvlist_has(const struct kvlist *l, const char *key);

/*
 * Refuses any key not in the NULL-ended `known` list with "OPT: unknown option 'KEY'", and any
 * key that appears twice unless it is in `repeatable` (NULL-ended, may be NULL).
 */
int kvlist_check(const struct kvlist *l, const char *opt, const char *const *known,
		 const char *const *repeatable, struct errbuf *e);

/* on/off, yes/no, true/false, 1/0 -> 1/0; anything else -> -EINVAL. */
int kv_parse_bool(const char *value);
/* Decimal digits only, no sign or suffix; -EINVAL or -ERANGE. */
int kv_parse_u64(const char *value, uint64_t *out);

#endif

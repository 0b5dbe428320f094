// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/kvlist.h"

int kvlist_parse(struct kvlist *l, const char *opt, const char *arg, struct errbuf *e)
{
	char *p;

	*l = (struct kvlist){ 0 };
	if (!*arg)
		return err_set(e, -EINVAL, "%s: empty value", opt);
	l->buf = strdup(arg);
	if (!l->buf)
		return err_set(e, -ENOMEM, "out of memory");
	p = l->buf;
	for (;;) {
		char *comma = strchr(p, ',');
		char *eq;

		if (comma)
			*comma = '\0';
		if (!*p) {
			kvlist_free(l);
			return err_set(e, -EINVAL, "%s %s: empty item", opt, arg);
		}
		if (l->n == KVLIST_MAX) {
			kvlist_free(l);
			return err_set(e, -EINVAL, "%s %s: more than %d items", opt, arg,
				       KVLIST_MAX);
		}
		eq = strchr(p, '=');
		if (eq == p) {
			kvlist_free(l);
			return err_set(e, -EINVAL, "%s %s: an item has no name", opt, arg);
		}
		if (eq)
			*eq = '\0';
		l->items[l->n++] = (struct kv){ .key = p, .value = eq ? eq + 1 : NULL };
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

void kvlist_free(struct kvlist *l)
{
	free(l->buf);
	*l = (struct kvlist){ 0 };
}

static const struct kv *kvlist_find(const struct kvlist *l, const char *key)
{
	const struct kv *found = NULL;

	for (unsigned i = 0; i < l->n; i++)
		if (!strcmp(l->items[i].key, key))
			found = &l->items[i];
	return found;
}

const char *kvlist_get(const struct kvlist *l, const char *key)
{
	const struct kv *kv = kvlist_find(l, key);

	return kv ? kv->value : NULL;
}

bool kvlist_has(const struct kvlist *l, const char *key)
{
	return kvlist_find(l, key) != NULL;
}

static bool in_list(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

int kvlist_check(const struct kvlist *l, const char *opt, const char *const *known,
		 const char *const *repeatable, struct errbuf *e)
{
	for (unsigned i = 0; i < l->n; i++) {
		const char *key = l->items[i].key;

		if (!in_list(known, key))
			return err_set(e, -EINVAL, "%s: unknown option '%s'", opt, key);
		if (in_list(repeatable, key))
			continue;
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(l->items[j].key, key))
				return err_set(e, -EINVAL, "%s: '%s' given twice", opt, key);
	}
	return 0;
}

int kv_parse_bool(const char *v)
{
	static const char *const yes[] = { "on", "yes", "true", "1", NULL };
	static const char *const no[] = { "off", "no", "false", "0", NULL };

	if (!v)
		return -EINVAL;
	if (in_list(yes, v))
		return 1;
	if (in_list(no, v))
		return 0;
	return -EINVAL;
}

int kv_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

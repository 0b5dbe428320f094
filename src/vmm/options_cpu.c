// SPDX-License-Identifier: MIT
/* --cpu pmu=on|off,sve=on|off,pauth=on|off */
#include <errno.h>

#include "util/kvlist.h"
#include "vmm/options.h"

static const char *const cpu_keys[] = { "pmu", "sve", "pauth", NULL };

static int cpu_feature(const struct kvlist *l, const char *key, enum cpu_feature_mode *mode,
		       struct errbuf *e)
{
	const char *v = kvlist_get(l, key);
	int on;

	if (!kvlist_has(l, key))
		return 0;
	on = kv_parse_bool(v);
	if (on < 0)
		return err_set(e, -EINVAL, "--cpu %s=%s: expected on or off", key, v ? v : "");
	*mode = on ? CPU_FEAT_ON : CPU_FEAT_OFF;
	return 0;
}

int options_parse_cpu(const char *arg, struct vm_config *cfg, struct errbuf *e)
{
	struct kvlist l;
	int r;

	r = kvlist_parse(&l, "--cpu", arg, e);
	if (r < 0)
		return r;
	r = kvlist_check(&l, "--cpu", cpu_keys, NULL, e);
	if (r == 0)
		r = cpu_feature(&l, "pmu", &cfg->cpu.pmu, e);
	if (r == 0)
		r = cpu_feature(&l, "sve", &cfg->cpu.sve, e);
	if (r == 0)
		r = cpu_feature(&l, "pauth", &cfg->cpu.pauth, e);
	kvlist_free(&l);
	return r;
}

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

/* AUTO takes what the backend offers; ON insists on it; OFF hides it, where that is possible. */
static int cpu_choose(enum cpu_feature_mode mode, unsigned bit, const char *key, const char *what,
		      const struct hv_caps *caps, const char *backend, unsigned *features,
		      struct errbuf *e)
{
	bool offered = caps->cpu_features & bit;

	switch (mode) {
	case CPU_FEAT_AUTO:
		break;
	case CPU_FEAT_ON:
		if (!offered)
			return err_set(e, -ENOTSUP,
				       "--cpu %s=on: the %s backend offers no %s on this host", key,
				       backend, what);
		break;
	case CPU_FEAT_OFF:
		if (caps->cpu_fixed & bit)
			return err_set(e, -ENOTSUP,
				       "--cpu %s=off: the %s backend cannot hide the host's %s from "
				       "the guest",
				       key, backend, what);
		offered = false;
		break;
	}
	if (offered)
		*features |= bit;
	return 0;
}

int cpu_features_choose(const struct cpu_config *cpu, const struct hv_caps *caps,
			const char *backend, unsigned *features, struct errbuf *e)
{
	int r;

	*features = 0;
	r = cpu_choose(cpu->pmu, HV_CPU_PMU, "pmu", "PMU", caps, backend, features, e);
	if (r == 0)
		r = cpu_choose(cpu->sve, HV_CPU_SVE, "sve", "SVE", caps, backend, features, e);
	if (r == 0)
		r = cpu_choose(cpu->pauth, HV_CPU_PAUTH, "pauth", "pointer authentication", caps,
			       backend, features, e);
	return r;
}

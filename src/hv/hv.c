// SPDX-License-Identifier: MIT
#include <string.h>

#include "build_config.h"
#include "hv/hv.h"

static const struct hv_ops *const backends[] = {
#if HAVE_KVM
	&hv_kvm_ops,
#endif
#if HAVE_HVF
	&hv_hvf_ops,
#endif
	&hv_null_ops,
};

const struct hv_ops *hv_default(void)
{
#if HAVE_KVM || HAVE_HVF
	return backends[0];
#else
	return NULL;
#endif
}

const struct hv_ops *hv_find(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}

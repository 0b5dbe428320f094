/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VMM_OPTIONS_H
#define IGNITION_VMM_OPTIONS_H

#include "hv/hv.h"
#include "util/err.h"
#include "vmm/config.h"

/*
 * The key=value options of devices and the vCPU (--net, --vsock, --fs, --cpu), one parser per
 * file (options_net.c, ...), each checking everything it can before any VM exists. Strings the
 * config keeps point into argv or come from options_keep().
 */
int options_parse_net(const char *arg, struct vm_config *cfg, struct errbuf *e);
int options_parse_vsock(const char *arg, struct vm_config *cfg, struct errbuf *e);
int options_parse_fs(const char *arg, struct vm_config *cfg, struct errbuf *e);
int options_parse_cpu(const char *arg, struct vm_config *cfg, struct errbuf *e);

/*
 * The vCPU features (enum hv_cpu_feature) a VM gets from --cpu on a backend whose probe answered
 * caps: what the backend offers unless hidden with "off"; "on" for something it does not offer,
 * or "off" for something it cannot hide, is an error naming the option.
 */
int cpu_features_choose(const struct cpu_config *cpu, const struct hv_caps *caps,
			const char *backend, unsigned *features, struct errbuf *e);

/* A copy of s that lives as long as the process; NULL (and e set) when out of room. */
const char *options_keep(const char *s, struct errbuf *e);

/* After every option: defaults that depend on others (no --net at all means --net user). */
int options_finish(struct vm_config *cfg, struct errbuf *e);

#endif

// SPDX-License-Identifier: MIT
/*
 * --net user[,hostfwd=tcp:[ADDR]:HOSTPORT-:GUESTPORT]...[,mac=MAC] | tap=IF | stream=PATH |
 * dgram=PATH (each with [,mac=MAC]) | none. Repeatable: eth0, eth1, ... in order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/kvlist.h"
#include "vmm/options.h"

static const char *const net_keys[] = { "user", "tap", "stream",  "dgram",
					"none", "mac", "hostfwd", NULL };
static const char *const net_repeatable[] = { "hostfwd", NULL };

/* 52:54:00:12:34:56 + index, as QEMU numbers its NICs. */
static void net_default_mac(uint8_t mac[6], unsigned index)
{
	static const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

	memcpy(mac, base, 6);
	mac[5] = (uint8_t)(base[5] + index);
}

static int net_parse_mac(const char *s, uint8_t mac[6], struct errbuf *e)
{
	unsigned b[6];
	char end;

	if (!s || strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6)
		return err_set(e, -EINVAL, "--net mac=%s: not a MAC address (xx:xx:xx:xx:xx:xx)",
			       s ? s : "");
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	if (mac[0] & 1)
		return err_set(e, -EINVAL, "--net mac=%s: a multicast address", s);
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return err_set(e, -EINVAL, "--net mac=%s: all zeros", s);
	return 0;
}

static int net_parse_port(const char *s, size_t len, uint16_t *port)
{
	char buf[8];
	uint64_t v;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (kv_parse_u64(buf, &v) < 0 || v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* tcp:[ADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, as QEMU spells it (the guest address is ours). */
static int net_parse_hostfwd(const char *s, struct net_hostfwd *f, struct errbuf *e)
{
	const char *p = s, *colon, *dash, *gcolon;
	static char bad[] = "--net hostfwd=%s: expected tcp|udp:[ADDR]:HOSTPORT-:GUESTPORT";

	if (!s)
		return err_set(e, -EINVAL, bad, "");
	if (!strncmp(p, "tcp:", 4)) {
		f->udp = false;
	} else if (!strncmp(p, "udp:", 4)) {
		f->udp = true;
	} else {
		return err_set(e, -EINVAL, bad, s);
	}
	p += 4;
	colon = strchr(p, ':');
	dash = colon ? strchr(colon, '-') : NULL;
	gcolon = dash ? strrchr(dash, ':') : NULL;
	if (!colon || !dash || !gcolon)
		return err_set(e, -EINVAL, bad, s);
	if ((size_t)(colon - p) >= sizeof(f->host_addr))
		return err_set(e, -EINVAL, "--net hostfwd=%s: address too long", s);
	memcpy(f->host_addr, p, (size_t)(colon - p));
	f->host_addr[colon - p] = '\0';
	if (net_parse_port(colon + 1, (size_t)(dash - colon - 1), &f->host_port) < 0 ||
	    gcolon != dash + 1 ||
	    net_parse_port(gcolon + 1, strlen(gcolon + 1), &f->guest_port) < 0)
		return err_set(e, -EINVAL, bad, s);
	return 0;
}

static int net_parse_list(const struct kvlist *l, const char *arg, struct net_config *n,
			  struct errbuf *e)
{
	const struct kv *mode = &l->items[0];
	int r;

	if (!strcmp(mode->key, "user") && !mode->value) {
		n->mode = NET_USER;
	} else if (!strcmp(mode->key, "tap") && mode->value && *mode->value) {
		n->mode = NET_TAP;
	} else if (!strcmp(mode->key, "stream") && mode->value && *mode->value) {
		n->mode = NET_STREAM;
	} else if (!strcmp(mode->key, "dgram") && mode->value && *mode->value) {
		n->mode = NET_DGRAM;
	} else {
		return err_set(e, -EINVAL,
			       "--net %s: expected user, tap=IFNAME, stream=PATH, "
			       "dgram=PATH or none first",
			       arg);
	}
	if (mode->value) {
		n->target = options_keep(mode->value, e);
		if (!n->target)
			return -ENOMEM;
	}
	for (unsigned i = 1; i < l->n; i++) {
		const struct kv *kv = &l->items[i];

		if (!strcmp(kv->key, "mac")) {
			r = net_parse_mac(kv->value, n->mac, e);
		} else if (!strcmp(kv->key, "hostfwd")) {
			if (n->mode != NET_USER)
				return err_set(e, -EINVAL,
					       "--net %s: hostfwd needs user networking", arg);
			if (n->nr_hostfwd == NET_MAX_HOSTFWD)
				return err_set(e, -EINVAL, "--net %s: at most %d hostfwd", arg,
					       NET_MAX_HOSTFWD);
			r = net_parse_hostfwd(kv->value, &n->hostfwd[n->nr_hostfwd++], e);
		} else {
			r = err_set(e, -EINVAL, "--net %s: '%s' can only come first", arg, kv->key);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int options_parse_net(const char *arg, struct vm_config *cfg, struct errbuf *e)
{
	struct net_config n = { .mode = NET_USER };
	struct kvlist l;
	int r;

	cfg->net_given = true;
	if (!strcmp(arg, "none"))
		return 0;
	if (cfg->nr_nets == MAX_NETS)
		return err_set(e, -EINVAL, "--net %s: at most %d NICs", arg, MAX_NETS);
	r = kvlist_parse(&l, "--net", arg, e);
	if (r < 0)
		return r;
	r = kvlist_check(&l, "--net", net_keys, net_repeatable, e);
	net_default_mac(n.mac, cfg->nr_nets);
	if (r == 0)
		r = net_parse_list(&l, arg, &n, e);
	kvlist_free(&l);
	if (r < 0)
		return r;
	cfg->nets[cfg->nr_nets++] = n;
	return 0;
}

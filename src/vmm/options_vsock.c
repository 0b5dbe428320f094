// SPDX-License-Identifier: MIT
/* --vsock cid=N,socket=PATH: one virtio-vsock device, Firecracker's unix-socket protocol. */
#include <errno.h>
#include <string.h>

#include "host/vsock/unix.h"
#include "util/kvlist.h"
#include "vmm/options.h"

static const char *const vsock_keys[] = { "cid", "socket", NULL };

int options_parse_vsock(const char *arg, struct vm_config *cfg, struct errbuf *e)
{
	struct kvlist l;
	const char *cid, *path;
	uint64_t v;
	int r;

	if (cfg->vsock.enabled)
		return err_set(e, -EINVAL, "--vsock: only one vsock device");
	r = kvlist_parse(&l, "--vsock", arg, e);
	if (r < 0)
		return r;
	r = kvlist_check(&l, "--vsock", vsock_keys, NULL, e);
	cid = kvlist_get(&l, "cid");
	path = kvlist_get(&l, "socket");
	if (r == 0 && !cid)
		r = err_set(e, -EINVAL, "--vsock %s: cid=N is required (N >= 3)", arg);
	if (r == 0 && (kv_parse_u64(cid, &v) < 0 || v < 3 || v > 0xfffffffeULL))
		r = err_set(e, -EINVAL, "--vsock cid=%s: a context id from 3 to 4294967294", cid);
	if (r == 0 && (!path || !*path))
		r = err_set(e, -EINVAL, "--vsock %s: socket=PATH is required", arg);
	if (r == 0)
		r = vsock_path_check("--vsock", path, e);
	if (r == 0) {
		cfg->vsock = (struct vsock_config){
			.enabled = true,
			.guest_cid = (uint32_t)v,
			.socket = options_keep(path, e),
		};
		if (!cfg->vsock.socket)
			r = -ENOMEM;
	}
	kvlist_free(&l);
	return r;
}

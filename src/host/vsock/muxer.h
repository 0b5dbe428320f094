/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_HOST_VSOCK_MUXER_H
#define IGNITION_HOST_VSOCK_MUXER_H

#include <stdint.h>

#include "devices/virtio/vsock.h"
#include "host/vsock/conn.h"
#include "util/err.h"

/*
 * The host side of virtio-vsock on Firecracker's unix-socket protocol, on the VM's event loop:
 * - host-initiated: a host process connects to PATH and writes "CONNECT <port>\n"; the guest's
 *   listener on that port accepts and the host process reads "OK <host_port>\n", or the guest
 *   refuses and the host socket is closed without a reply;
 * - guest-initiated: a guest connect() to CID 2 port P connects to the unix socket PATH_P, and
 *   gets RST (ECONNRESET) when nothing listens there.
 * It implements vsock_backend_ops for the device.
 */
struct vsock_mux;
struct evloop;

#define VSOCK_MUX_MAX_CONNS 2048

struct vsock_mux_params {
	uint32_t guest_cid;
	const char *path; /* NULL: no listener, and no socket file (--dump-dtb) */
	struct evloop *loop;
	unsigned max_conns; /* 0: VSOCK_MUX_MAX_CONNS, lowered to what RLIMIT_NOFILE allows */
	unsigned timeout_ms; /* 0: VSOCK_CONN_TIMEOUT_MS */
};

struct vsock_mux_stats {
	uint64_t conns; /* open now, CONNECT lines being read included */
	uint64_t accepted; /* host-initiated connections accepted on PATH */
	uint64_t connected; /* guest-initiated connections made to PATH_P */
	uint64_t refused; /* PATH_P absent or not listening: RST */
	uint64_t over_limit; /* refused because max_conns were open */
	uint64_t bad_line; /* a host peer sent something other than "CONNECT <port>\n" */
	uint64_t no_conn; /* guest packets for no connection: RST */
	uint64_t expired; /* handshakes or closes that never finished */
	uint64_t rst_dropped; /* the RST queue was full */
	struct vsock_conn_stats conn;
};

int vsock_mux_create(const struct vsock_mux_params *p, struct vsock_mux **out, struct errbuf *e);
unsigned vsock_mux_max_conns(const struct vsock_mux *m);
void vsock_mux_stats(const struct vsock_mux *m, struct vsock_mux_stats *out);

extern const struct vsock_backend_ops vsock_mux_ops;

/* The system calls the muxer makes on the loop thread beyond the sandbox's base list. */
extern const char *const vsock_mux_syscalls[];

#endif

/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_TESTS_VSOCK_HARNESS_H
#define IGNITION_TESTS_VSOCK_HARNESS_H

/*
 * A guest vsock driver for tests: the tests' virtio driver programs the device (rx 0, tx 1,
 * event 2), packets are built and parsed here independently of the device's own header code,
 * and the test thread runs the event loop itself (vt_pump), so every step is deterministic.
 * The host side is the real muxer, listening on a unix socket in a fresh temporary directory.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/vsock.h"
#include "host/vsock/muxer.h"
#include "tests/unit/virtio/driver.h"
#include "util/evloop.h"

#define VT_CID	     3u
#define VT_RX_DATA   4096u
#define VT_QSIZE     256u
#define VT_GUEST_BUF (256u * 1024)

struct vt {
	struct vdrv d;
	struct evloop *loop;
	struct virtio_vsock *v;
	struct vsock_mux *mux;
	char dir[64];
	char path[128];
	uint64_t rx_area;
	uint64_t tx_area;
	bool rx_refill; /* give each rx buffer back as soon as it is read (default) */
	bool tx_one_desc; /* header and data in one descriptor instead of two */
};

struct vt_opts {
	unsigned max_conns;
	unsigned timeout_ms;
	uint16_t rx_buffers; /* posted at start; 0: none */
};

void vt_setup(struct vt *t, const struct vt_opts *o);
void vt_teardown(struct vt *t);

/* Runs the loop without sleeping until nothing is left to do (rounds iterations at least). */
void vt_pump(struct vt *t, unsigned rounds);
/* Runs the loop, sleeping in it, for about ms milliseconds. */
void vt_run_for(struct vt *t, unsigned ms);

/* Posts n rx buffers (header + VT_RX_DATA bytes each) and kicks. */
void vt_rx_post(struct vt *t, unsigned n);
/* Takes one used rx buffer: 1 with its header and up to cap data bytes, 0 when none. */
int vt_rx(struct vt *t, struct vsock_hdr *h, void *data, size_t cap);

/* A packet from the guest, as Linux builds one: header and data, then a kick. */
void vt_tx(struct vt *t, const struct vsock_hdr *h, const void *data, uint32_t n);
/* Raw bytes as one chain of `len` readable bytes (for short or odd chains). */
void vt_tx_raw(struct vt *t, const void *bytes, uint32_t len);
/* A guest header: our CID to the host, STREAM, op, VT_GUEST_BUF window and fwd_cnt. */
struct vsock_hdr vt_hdr(uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t fwd_cnt);

/* The test's own encoding of struct virtio_vsock_hdr (not the device's). */
void vt_hdr_put(uint8_t raw[44], const struct vsock_hdr *h);
void vt_hdr_get(struct vsock_hdr *h, const uint8_t raw[44]);

/* A unix socket client connected to path (blocking). */
int vt_unix_connect(const char *path);
/* A listening unix socket at path. */
int vt_unix_listen(const char *path);
/* PATH_port. */
void vt_port_path(const struct vt *t, uint32_t port, char *out, size_t len);

struct vsock_mux_stats vt_mux_stats(struct vt *t);
struct vsock_dev_stats vt_dev_stats(struct vt *t);

#endif

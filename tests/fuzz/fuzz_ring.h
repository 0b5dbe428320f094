/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_TESTS_FUZZ_RING_H
#define IGNITION_TESTS_FUZZ_RING_H

/*
 * Ring scribbles the virtio fuzz targets driving the tests' driver share. Built with the driver
 * (fuzz_vdrv, without coverage): they are the harness, not code under test.
 */
#include <stdbool.h>
#include <stdint.h>

#include "tests/fuzz/fuzz.h"
#include "tests/unit/virtio/driver.h"

/*
 * The driver on ram bytes of guest RAM, its interrupt line (SPI 1) recorded as a level only: the
 * driver's own rising-edge eventfd would cost a write per interrupt.
 */
void fz_vdrv_init(struct vdrv *d, uint64_t ram);

/* The line equals InterruptStatus != 0, as a guest's handler relies on. */
void fz_irq_check(struct vdrv *d);

/*
 * One descriptor of queue q (of num entries) where the input puts it: in the data area at data,
 * in or near the queue's indirect table, across the end of RAM (ram bytes), or at any 64-bit
 * address; then made available or not. Reads index, kind, offset, length, flags, next, publish.
 */
void fz_raw_desc(struct vdrv *d, struct fuzz_in *in, unsigned q, uint16_t num, uint64_t data,
		 uint64_t ram);

/* Input bytes over RAM (ram bytes) at an offset the input picks, cut at its end. */
void fz_ram_patch(struct vdrv *d, struct fuzz_in *in, uint64_t ram);

/*
 * The transport-level operations every virtio target's input has, at the same selectors, so the
 * targets differ only in their device's own operations (the others: selector 0 and from 7 on).
 */
enum {
	FZ_OP_RAW = 1, /* u8 queue (only with more than one), then fz_raw_desc's fields */
	FZ_OP_NOTIFY = 2, /* u8 queue index: a QueueNotify write */
	FZ_OP_PATCH = 3, /* fz_ram_patch's fields */
	FZ_OP_RESTART = 4, /* u8 features, u8 queue size(s): the target's set-up again */
	FZ_OP_ACK = 5, /* acknowledge InterruptStatus: the line must drop */
	FZ_OP_REGISTER = 6, /* u8 register (offset / 4), u32 value */
};

/* What the common operations need of a target. */
struct fz_target {
	struct vdrv *d;
	uint64_t ram; /* bytes of guest RAM */
	unsigned nr_queues;
	const uint64_t *data; /* where raw descriptors point: past the rings, set by setup */
	bool *loose; /* the driver's state was scribbled on: used elements prove nothing */
	void (*setup)(uint8_t features, uint8_t sizes);
	void (*write)(uint64_t off, uint32_t val); /* a register write, the device's work checked */
};

/* Runs operation op if it is one of FZ_OP_*; false if it is the target's own. */
bool fz_transport_op(const struct fz_target *t, struct fuzz_in *in, unsigned op);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_TESTS_FUZZ_RING_H
#define IGNITION_TESTS_FUZZ_RING_H

/*
 * Ring scribbles the virtio fuzz targets driving the tests' driver share. Built with the driver
 * (fuzz_vdrv, without coverage): they are the harness, not code under test.
 */
#include <stdint.h>

#include "tests/fuzz/fuzz.h"
#include "tests/unit/virtio/driver.h"

/*
 * One descriptor of queue q (of num entries) where the input puts it: in the data area at data,
 * in or near the queue's indirect table, across the end of RAM (ram bytes), or at any 64-bit
 * address; then made available or not. Reads index, kind, offset, length, flags, next, publish.
 */
void fz_raw_desc(struct vdrv *d, struct fuzz_in *in, unsigned q, uint16_t num, uint64_t data,
		 uint64_t ram);

/* Input bytes over RAM (ram bytes) at an offset the input picks, cut at its end. */
void fz_ram_patch(struct vdrv *d, struct fuzz_in *in, uint64_t ram);

#endif

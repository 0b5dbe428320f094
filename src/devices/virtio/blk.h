/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VIRTIO_BLK_H
#define IGNITION_VIRTIO_BLK_H

#include <stdbool.h>

#include "devices/virtio/mmio.h"

/* virtio 1.2 §5.2 */
#define VIRTIO_BLK_F_SIZE_MAX	  1
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_SECTOR	 512u
#define VIRTIO_BLK_ID_BYTES	 20u
#define VIRTIO_BLK_HDR_BYTES	 16u /* le32 type, le32 reserved, le64 sector */
#define VIRTIO_BLK_DWZ_BYTES	 16u /* discard / write zeroes range: le64, le32, le32 flags */
#define VIRTIO_BLK_WZ_FLAG_UNMAP 1u

/* Config space offsets. */
#define VIRTIO_BLK_CFG_CAPACITY		   0
#define VIRTIO_BLK_CFG_SIZE_MAX		   8
#define VIRTIO_BLK_CFG_SEG_MAX		   12
#define VIRTIO_BLK_CFG_BLK_SIZE		   20
#define VIRTIO_BLK_CFG_NUM_QUEUES	   34
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG	   40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN	   44
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS	   48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG	   52
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP	   56
#define VIRTIO_BLK_CFG_SIZE		   72

struct virtio_blk_params {
	const char *path;
	bool readonly; /* opened O_RDONLY, VIRTIO_BLK_F_RO offered, writes fail with IOERR */
	unsigned index; /* 0 for vda: names the serial "ignition0" */
};

/*
 * Opens the image (size must be a multiple of 512; writable images are flock'ed so two VMs never
 * write one image) and creates the device with its worker thread.
 */
struct virtio_mmio *virtio_blk_create(const struct virtio_blk_params *p, const struct guest_mem *gm,
				      struct irq_line *irq, struct errbuf *e);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VIRTIO_FS_H
#define IGNITION_VIRTIO_FS_H

#include <stdbool.h>

#include "devices/virtio/mmio.h"

/* virtio 1.2 §5.11: a hiprio queue (FORGET), then request queues; no notifications, no DAX. */
#define VIRTIO_ID_FS			 26
#define VIRTIO_FS_TAG_BYTES		 36
#define VIRTIO_FS_CFG_NUM_REQUEST_QUEUES 36
#define VIRTIO_FS_CFG_SIZE		 40
#define VIRTIO_FS_QUEUE_HIPRIO		 0
#define VIRTIO_FS_QUEUE_REQUEST		 1
#define VIRTIO_FS_NR_QUEUES		 2

struct virtio_fs_params {
	const char *tag; /* 1..36 bytes */
	const char *path; /* the shared directory */
	bool readonly;
	unsigned index;
	/* 0: defaults (see fs/fs.h) */
	unsigned max_inodes;
	unsigned max_handles;
	unsigned nr_shares; /* of the VM, which split the descriptors */
	/*
	 * Fuzzing: no worker threads; a QueueNotify serves the queues on the notifying thread,
	 * under the device lock, so a run does not depend on timing. The VMM never sets it.
	 */
	bool inline_requests;
};

/* Opens the directory, builds its FUSE server and the device with its worker threads. */
struct virtio_mmio *virtio_fs_create(const struct virtio_fs_params *p, const struct guest_mem *gm,
				     struct irq_line *irq, struct errbuf *e);

#endif

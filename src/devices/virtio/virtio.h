/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VIRTIO_H
#define IGNITION_VIRTIO_H

#include <stdint.h>

/* Virtio 1.2 constants shared by the transport and the devices. */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED 128u

#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33

#define VIRTIO_MMIO_INT_VRING (1u << 0)
#define VIRTIO_MMIO_INT_CONFIG (1u << 1)

#define VIRTIO_BIT(n) (1ULL << (n))

#endif

/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_DEVICES_GUEST_MEM_H
#define IGNITION_DEVICES_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The one way devices reach guest RAM. The guest chooses every address a device sees, so each is
 * checked here, overflow included, and nothing else computes host pointers.
 */
struct guest_mem {
	uint8_t *host;
	uint64_t gpa;
	uint64_t size;
};

/* True when [gpa, gpa + len) lies inside guest RAM (len 0: gpa itself is inside or at the end). */
static inline bool guest_mem_contains(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t off;

	if (gpa < gm->gpa)
		return false;
	off = gpa - gm->gpa;
	return off <= gm->size && len <= gm->size - off;
}

/* Host pointer for [gpa, gpa + len), or NULL when any byte of it is outside guest RAM. */
static inline void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	if (!guest_mem_contains(gm, gpa, len))
		return NULL;
	return gm->host + (gpa - gm->gpa);
}

#endif

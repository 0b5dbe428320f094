/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_DEVICES_IRQ_H
#define IGNITION_DEVICES_IRQ_H

#include <stdbool.h>
#include <stdint.h>

/*
 * An interrupt line from a device to the GIC. The backend supplies set_level (HVF:
 * hv_gic_set_spi; KVM: KVM_IRQ_LINE) with the absolute INTID; devices only raise and lower.
 * The owning device serialises calls (it holds its lock), so the cached level needs no lock.
 */
typedef void (*irq_set_level_fn)(void *opaque, uint32_t intid, bool level);

struct irq_line {
	irq_set_level_fn set_level;
	void *opaque;
	uint32_t intid;
	bool level;
};

void irq_line_init(struct irq_line *line, irq_set_level_fn fn, void *opaque, uint32_t intid);

/* Drives the line; the backend is called only when the level changes. */
void irq_line_set(struct irq_line *line, bool level);

static inline void irq_line_raise(struct irq_line *line)
{
	irq_line_set(line, true);
}

static inline void irq_line_lower(struct irq_line *line)
{
	irq_line_set(line, false);
}

/* An edge: raise then lower. */
void irq_line_pulse(struct irq_line *line);

#endif

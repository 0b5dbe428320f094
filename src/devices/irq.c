// SPDX-License-Identifier: MIT
#include "devices/irq.h"

void irq_line_init(struct irq_line *line, irq_set_level_fn fn, void *opaque, uint32_t intid)
{
	line->set_level = fn;
	line->opaque = opaque;
	line->intid = intid;
	line->level = false;
}

void irq_line_set(struct irq_line *line, bool level)
{
	if (line->level == level)
		return;
	line->level = level;
	if (line->set_level)
		line->set_level(line->opaque, line->intid, level);
}

void irq_line_pulse(struct irq_line *line)
{
	irq_line_set(line, true);
	irq_line_set(line, false);
}

/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_ARCH_SYSREG_H
#define IGNITION_ARCH_SYSREG_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/aarch64/esr.h"

/*
 * System registers that reach the VMM as MSR/MRS traps (HVF). The hypervisor and the in-kernel
 * GIC handle everything else; what is left are ID and debug registers, which read as zero.
 */

/* Name of a trapped register for diagnostics, e.g. "OSLAR_EL1", or "S3_0_C0_C1_0". */
const char *sysreg_name(const struct esr_sysreg *s, char *buf, unsigned bufsize);

/* True for the ID register space (op0 = 3, op1 = 0, CRn = 0), which reads as zero. */
bool sysreg_is_id(const struct esr_sysreg *s);

/* How many distinct unknown registers are reported before the rest go unreported. */
#define SYSREG_WARN_MAX 64

/*
 * Emulates a trapped access: reads of known and unknown registers return 0 in *value (unknown
 * ones are logged once each), writes are ignored. Returns true when the register was known.
 */
bool sysreg_emulate(const struct esr_sysreg *s, uint64_t write_value, uint64_t *read_value);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * <mach/mach_time.h> as the macOS SDK declares it, for src/hv/hvf.c on Linux. The fake's clock
 * ticks like Apple Silicon's: 24 MHz, timebase 125/3 ns per tick.
 */
#ifndef IGNITION_FAKE_MACH_TIME_H
#define IGNITION_FAKE_MACH_TIME_H

#include <stdint.h>

typedef int kern_return_t;

struct mach_timebase_info {
	uint32_t numer;
	uint32_t denom;
};

typedef struct mach_timebase_info *mach_timebase_info_t;
typedef struct mach_timebase_info mach_timebase_info_data_t;

kern_return_t mach_timebase_info(mach_timebase_info_t info);
uint64_t mach_absolute_time(void);

#endif

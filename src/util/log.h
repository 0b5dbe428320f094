/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_UTIL_LOG_H
#define IGNITION_UTIL_LOG_H

#include <stdatomic.h>
#include <stdbool.h>

#include "util/compiler.h"

/* Diagnostics go to stderr; the guest console owns stdout. */
enum log_level {
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_msg(enum log_level level, const char *fmt, ...) __printf(2, 3);

/* Tests observe what was logged through a hook; NULL restores stderr. */
typedef void (*log_hook_fn)(enum log_level level, const char *line, void *opaque);
void log_set_hook(log_hook_fn fn, void *opaque);

#define pr_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* A guest can trigger a warning millions of times a second: say it once per call site. */
#define pr_warn_once(...)                                        \
	do {                                                     \
		static atomic_bool warned_;                      \
		if (!atomic_exchange(&warned_, true))            \
			log_msg(LOG_WARN, __VA_ARGS__);          \
	} while (0)

#endif

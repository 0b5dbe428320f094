// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

/* The one piece of process-wide state that is obviously process-wide: how loud we are. */
static _Atomic enum log_level log_level = LOG_INFO;
static log_hook_fn log_hook;
static void *log_hook_opaque;

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

void log_set_hook(log_hook_fn fn, void *opaque)
{
	log_hook = fn;
	log_hook_opaque = opaque;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {
		[LOG_ERROR] = "ignition: error: ",
		[LOG_WARN] = "ignition: warning: ",
		[LOG_INFO] = "",
		[LOG_DEBUG] = "ignition: debug: ",
	};
	char line[1024];
	size_t n;
	va_list ap;

	if (level > log_level)
		return;
	n = (size_t)snprintf(line, sizeof(line), "%s", prefix[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	if (log_hook) {
		log_hook(level, line, log_hook_opaque);
		return;
	}
	/* One fputs per line keeps lines from different threads whole. */
	if (n + 1 < sizeof(line)) {
		strcat(line, "\n");
		fputs(line, stderr);
	}
}

int err_set(struct errbuf *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

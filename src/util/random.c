// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#ifdef __linux__
#include <sys/random.h>
#endif

#include "util/random.h"

int random_fill(void *buf, size_t len)
{
#ifdef __linux__
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
#else
	arc4random_buf(buf, len);
	return 0;
#endif
}

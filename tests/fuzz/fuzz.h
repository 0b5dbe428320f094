/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_TESTS_FUZZ_H
#define IGNITION_TESTS_FUZZ_H

/*
 * Shared by the libFuzzer targets: a reader that turns the input into fields (zero once it runs
 * out, so every input is valid), an invariant check that crashes loudly, and log silencing.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline struct fuzz_in fuzz_in_init(const uint8_t *data, size_t size)
{
	return (struct fuzz_in){ .p = data, .left = size };
}

static inline bool fz_empty(const struct fuzz_in *in)
{
	return !in->left;
}

static inline uint8_t fz_u8(struct fuzz_in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static inline uint16_t fz_u16(struct fuzz_in *in)
{
	uint16_t v = fz_u8(in);

	return (uint16_t)(v | fz_u8(in) << 8);
}

static inline uint32_t fz_u32(struct fuzz_in *in)
{
	uint32_t v = fz_u16(in);

	return v | (uint32_t)fz_u16(in) << 16;
}

static inline uint64_t fz_u64(struct fuzz_in *in)
{
	uint64_t v = fz_u32(in);

	return v | (uint64_t)fz_u32(in) << 32;
}

/* Up to n bytes of the input in place; *got says how many there were. */
static inline const uint8_t *fz_take(struct fuzz_in *in, size_t n, size_t *got)
{
	const uint8_t *p = in->p;

	if (n > in->left)
		n = in->left;
	in->p += n;
	in->left -= n;
	*got = n;
	return p;
}

/* A NUL-terminated string from the input (up to the NUL or the end), copied into buf. */
static inline const char *fz_str(struct fuzz_in *in, char *buf, size_t bufsize)
{
	size_t n = 0;

	while (in->left && n + 1 < bufsize) {
		uint8_t c = fz_u8(in);

		if (!c)
			break;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return buf;
}

/* An invariant of the code under test does not hold: a crash the fuzzer records. */
#define FUZZ_CHECK(cond)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz: invariant failed at %s:%d: %s\n", __FILE__, \
				__LINE__, #cond);                                          \
			abort();                                                           \
		}                                                                          \
	} while (0)

static inline void fuzz_log_drop(enum log_level level, const char *line, void *opaque)
{
	(void)level;
	(void)line;
	(void)opaque;
}

/*
 * Guest-triggered warnings would flood the fuzzer's output and slow it down; FUZZ_VERBOSE=1
 * keeps them when a crash is being replayed.
 */
static inline void fuzz_quiet(void)
{
	const char *v = getenv("FUZZ_VERBOSE");

	if (v && *v && strcmp(v, "0"))
		return;
	log_set_level(LOG_ERROR);
	log_set_hook(fuzz_log_drop, NULL);
}

#endif

/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_UTIL_THREAD_H
#define IGNITION_UTIL_THREAD_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

/*
 * The VMM's threads (vCPUs, device workers, the console writer) run short call chains and keep
 * their buffers on the heap, so they get THREAD_STACK_SIZE of stack instead of the 8 MiB default.
 * Staying below 2 MiB matters more than the size: with transparent huge pages on, the first touch
 * of a default stack's top can fault in a whole 2 MiB page (measured in the rig: one worker's
 * stack was 2 MiB of the VMM's 3 MiB of RSS).
 */
#define THREAD_STACK_SIZE (256 * 1024)

/*
 * pthread_create() with that stack size, returning once the thread runs: a thread's start-up
 * (glibc's set_robust_list and rseq) must not happen after the seccomp filter is installed,
 * which it could when the new thread got no CPU before the filter (the VMM was then killed
 * with SIGSYS, one x86 null-backend run in seven). Returns 0 or a positive errno.
 */
int thread_create(pthread_t *thread, void *(*fn)(void *), void *arg);

/*
 * Asynchronous signals (SIGTERM, SIGINT, SIGHUP, vCPU kicks) are for the VMM's own threads, not
 * for device workers or the event loop: threads created between these two calls start with them
 * blocked (faults such as SIGSEGV or the sandbox's SIGSYS stay deliverable).
 */
void thread_block_async_signals(sigset_t *old);
void thread_restore_signals(const sigset_t *old);

#endif

// SPDX-License-Identifier: MIT
#include "util/thread.h"

/* What the new thread needs, on its creator's stack until the thread has taken it. */
struct thread_start {
	void *(*fn)(void *);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started;
};

static void *thread_trampoline(void *opaque)
{
	struct thread_start *s = opaque;
	void *(*fn)(void *) = s->fn;
	void *arg = s->arg;

	pthread_mutex_lock(&s->lock);
	s->started = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return fn(arg);
}

int thread_create(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	struct thread_start s = {
		.fn = fn,
		.arg = arg,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	pthread_attr_t attr;
	int r = pthread_attr_init(&attr);

	if (r)
		return r;
	r = pthread_attr_setstacksize(&attr, THREAD_STACK_SIZE);
	if (!r)
		r = pthread_create(thread, &attr, thread_trampoline, &s);
	pthread_attr_destroy(&attr);
	if (r)
		return r;
	pthread_mutex_lock(&s.lock);
	while (!s.started)
		pthread_cond_wait(&s.cond, &s.lock);
	pthread_mutex_unlock(&s.lock);
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	return 0;
}

void thread_block_async_signals(sigset_t *old)
{
	static const int faults[] = { SIGSYS, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	sigset_t block;

	sigfillset(&block);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&block, faults[i]);
	pthread_sigmask(SIG_BLOCK, &block, old);
}

void thread_restore_signals(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

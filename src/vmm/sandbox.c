// SPDX-License-Identifier: MIT
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "build_config.h"
#include "vmm/sandbox.h"

int sandbox_allow_syscalls(struct sandbox_rules *r, const char *const *names)
{
	for (; names && *names; names++) {
		if (r->nr_syscalls == SANDBOX_MAX_EXTRA)
			return -ENOSPC;
		r->syscalls[r->nr_syscalls++] = *names;
	}
	return 0;
}

int sandbox_allow_ioctls(struct sandbox_rules *r, const unsigned long *requests)
{
	for (; requests && *requests; requests++) {
		if (r->nr_ioctls == SANDBOX_MAX_EXTRA)
			return -ENOSPC;
		r->ioctls[r->nr_ioctls++] = *requests;
	}
	return 0;
}

#if HAVE_SECCOMP
#include <malloc.h>
#include <seccomp.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "vmm/console.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define SANITIZED_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/lsan_interface.h>
#define SANITIZED_BUILD 1
#endif
#endif

/*
 * What a running VMM does: move bytes between fds it already has (console, disks, events),
 * wait (poll, futex, sleeps), manage memory for malloc, signal its own threads (vCPU kicks),
 * fill entropy, flush disks, and exit. Names unknown to an architecture are skipped.
 * io_uring_enter runs the disk rings set up before the filter; what a ring does is not seen by
 * seccomp, and ours only ever get readv/writev on the disk's own fd (blk_ring.c).
 */
static const char *const allowed_syscalls[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"preadv2", "pwritev2", "lseek", "fdatasync", "fsync", "fallocate", "close",
	"io_uring_enter",
	"poll", "ppoll", "pselect6", "epoll_wait", "epoll_pwait", "epoll_ctl",
	"futex", "nanosleep", "clock_nanosleep", "clock_gettime", "gettimeofday", "sched_yield",
	"mmap", "munmap", "mremap", "madvise", "brk",
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "restart_syscall",
	"tgkill", "tkill", "getpid", "gettid",
	"getrandom", "fstat", "newfstatat", "fcntl",
	"exit", "exit_group",
};

static size_t append_uint(char *buf, size_t len, size_t cap, uint64_t v, unsigned base)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < (int)sizeof(digits));
	while (n && len < cap)
		buf[len++] = digits[--n];
	return len;
}

static size_t append_str(char *buf, size_t len, size_t cap, const char *s)
{
	while (*s && len < cap)
		buf[len++] = *s++;
	return len;
}

/*
 * SIGSYS: say which call was refused and where (async-signal-safe), restore the terminal, then
 * die. The addresses name the caller in the static binary (addr2line -f -e ignition ADDR): a
 * refused call can come from inside libc (malloc reading /proc, sandbox_prepare_process()).
 */
static void sandbox_violation(int sig, siginfo_t *info, void *ctx)
{
	char msg[160];
	size_t cap = sizeof(msg) - 1, len = 0;
	const ucontext_t *uc = ctx;

	len = append_str(msg, len, cap, "ignition: sandbox: forbidden system call ");
	len = append_uint(msg, len, cap, (uint64_t)(unsigned)info->si_syscall, 10);
#if defined(__aarch64__) && defined(__linux__)
	len = append_str(msg, len, cap, " at pc 0x");
	len = append_uint(msg, len, cap, uc->uc_mcontext.pc, 16);
	len = append_str(msg, len, cap, " lr 0x");
	len = append_uint(msg, len, cap, uc->uc_mcontext.regs[30], 16);
#elif defined(__x86_64__) && defined(__linux__)
	len = append_str(msg, len, cap, " at pc 0x");
	len = append_uint(msg, len, cap, (uint64_t)uc->uc_mcontext.gregs[REG_RIP], 16);
#else
	(void)uc;
#endif
	msg[len++] = '\n';
	if (write(STDERR_FILENO, msg, len) < 0) {
		/* nothing more we can do */
	}
	console_restore_terminal();
	signal(SIGSYS, SIG_DFL);
	raise(SIGSYS);
}

static int sandbox_allow_ioctl(scmp_filter_ctx ctx, unsigned long request)
{
	/* datum_b is unused by EQ; naming it keeps clang's -Wmissing-field-initializers quiet. */
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)request, 0));
}

bool sandbox_available(void)
{
	return true;
}

static int sandbox_allow_name(scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

/*
 * Every thread allocates from the main arena (brk). glibc reads files behind the filter's back
 * for the other arenas: the CPU count when it creates one, and /proc/sys/vm/overcommit_memory
 * the first time one's heap shrinks, which killed the VMM with SIGSYS when the net device freed
 * the frames it had queued. The main arena shrinks with brk. Must run before any thread exists:
 * a thread that has allocated keeps its arena.
 */
void sandbox_prepare_process(void)
{
#ifdef M_ARENA_MAX
	mallopt(M_ARENA_MAX, 1);
#endif
}

int sandbox_install(const struct sandbox_rules *rules, struct errbuf *e)
{
	struct sigaction sa = { .sa_sigaction = sandbox_violation, .sa_flags = SA_SIGINFO };
	scmp_filter_ctx ctx;
	int r = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
#ifdef SANITIZED_BUILD
	/*
	 * LeakSanitizer's exit-time check ptraces us from a new thread after reading /proc, all of
	 * which the sandbox forbids: in sanitizer builds (tests) check for leaks now, once.
	 */
	__lsan_do_leak_check();
#endif

	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return err_set(e, -ENOMEM, "sandbox: seccomp_init failed");
	/* Every thread, vCPUs and device workers included, gets the same filter. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (size_t i = 0; r == 0 && i < sizeof(allowed_syscalls) / sizeof(*allowed_syscalls);
	     i++)
		r = sandbox_allow_name(ctx, allowed_syscalls[i]);
	for (unsigned i = 0; r == 0 && rules && i < rules->nr_syscalls; i++)
		r = sandbox_allow_name(ctx, rules->syscalls[i]);
	/*
	 * glibc grows a thread's malloc arena with mprotect(PROT_READ | PROT_WRITE); making memory
	 * executable is never needed once the VMM runs.
	 */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (r == 0)
		r = sandbox_allow_ioctl(ctx, TCGETS);
	if (r == 0)
		r = sandbox_allow_ioctl(ctx, TCSETS);
	for (unsigned i = 0; r == 0 && rules && i < rules->nr_ioctls; i++)
		r = sandbox_allow_ioctl(ctx, rules->ioctls[i]);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		return err_set(e, r, "sandbox: cannot install the seccomp filter: %s (--no-seccomp "
			       "runs without it)", strerror(-r));
	return 0;
}

#else /* !HAVE_SECCOMP */

void sandbox_prepare_process(void)
{
}

bool sandbox_available(void)
{
	return false;
}

int sandbox_install(const struct sandbox_rules *rules, struct errbuf *e)
{
	return err_set(e, -ENOSYS, "this build has no sandbox (run with --no-seccomp)");
}

#endif

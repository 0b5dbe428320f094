// SPDX-License-Identifier: MIT
/* The seccomp sandbox allows what a running VMM does and kills the process on anything else. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/sandbox.h"

static const unsigned long allowed_ioctls[] = { 0x1234abcdUL, 0 };

enum probe {
	PROBE_ALLOWED_ONLY,
	PROBE_OPEN,
	PROBE_FORBIDDEN_IOCTL,
	PROBE_EXECVE,
};

/* Runs the sandbox in a child, does allowed work, then the probe; returns the wait status. */
static int run_child(enum probe probe)
{
	int fds[2];
	pid_t pid;
	int status;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct errbuf e;
		struct termios t;
		char c = 'x';

		if (sandbox_install(allowed_ioctls, &e) < 0)
			_exit(100);
		/* allowed: I/O on fds we hold, the terminal ioctls, the backend's ioctls */
		if (write(fds[1], &c, 1) != 1 || read(fds[0], &c, 1) != 1)
			_exit(101);
		tcgetattr(fds[0], &t); /* ENOTTY, but permitted */
		ioctl(fds[0], 0x1234abcdUL, 0);
		switch (probe) {
		case PROBE_ALLOWED_ONLY:
			break;
		case PROBE_OPEN:
			open("/dev/null", O_RDONLY);
			break;
		case PROBE_FORBIDDEN_IOCTL:
			ioctl(fds[0], FIONREAD, &status);
			break;
		case PROBE_EXECVE: {
			char *argv[] = { "/bin/true", NULL };

			execve(argv[0], argv, NULL);
			break;
		}
		}
		_exit(0);
	}
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_allowed_calls_pass(void **state)
{
	int status = run_child(PROBE_ALLOWED_ONLY);

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void expect_killed(enum probe probe)
{
	int status = run_child(probe);

	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

static void test_open_is_refused(void **state)
{
	expect_killed(PROBE_OPEN);
}

static void test_unlisted_ioctl_is_refused(void **state)
{
	expect_killed(PROBE_FORBIDDEN_IOCTL);
}

static void test_execve_is_refused(void **state)
{
	expect_killed(PROBE_EXECVE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_calls_pass),
		cmocka_unit_test(test_open_is_refused),
		cmocka_unit_test(test_unlisted_ioctl_is_refused),
		cmocka_unit_test(test_execve_is_refused),
	};

	if (!sandbox_available()) {
		print_message("this build has no sandbox\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * The vsock host side's edges: which socket paths are accepted before a VM exists (a stale
 * socket is replaced, a live one refused, nothing created), and that the muxer's work fits the
 * sandbox with exactly the system calls it declares.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "build_config.h"
#include "host/vsock/muxer.h"
#include "host/vsock/unix.h"
#include "tests/unit/virtio/vsock_harness.h"
#include "util/evloop.h"
#include "vmm/sandbox.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/vsock-host-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* A socket file nobody listens on, as a killed VMM leaves behind. */
static void make_stale(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

static int count_entries(void)
{
	char cmd[128];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	f = popen(cmd, "r");
	if (f && fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f)
		pclose(f);
	return n;
}

static void test_path_check(void **state)
{
	char p[160], long_path[160];
	struct errbuf e;
	int fd, lfd;

	path_in(p, sizeof(p), "v.sock");
	assert_int_equal(vsock_path_check("--vsock", p, &e), 0);

	path_in(p, sizeof(p), "file");
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	close(fd);
	assert_true(vsock_path_check("--vsock", p, &e) < 0);
	assert_non_null(strstr(e.msg, "exists and is not a socket"));

	path_in(p, sizeof(p), "nodir/v.sock");
	assert_true(vsock_path_check("--vsock", p, &e) < 0);
	assert_non_null(strstr(e.msg, "nodir"));

	path_in(p, sizeof(p), "stale.sock");
	make_stale(p);
	assert_int_equal(vsock_path_check("--vsock", p, &e), 0);

	path_in(p, sizeof(p), "live.sock");
	lfd = vt_unix_listen(p);
	assert_true(lfd >= 0);
	assert_int_equal(vsock_path_check("--vsock", p, &e), -EADDRINUSE);
	assert_non_null(strstr(e.msg, "another process"));
	close(lfd);

	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = 0;
	snprintf(long_path, 100, "%s/", dir);
	long_path[strlen(long_path)] = 'a';
	assert_true(vsock_path_check("--vsock", long_path, &e) < 0);
	assert_non_null(strstr(e.msg, "too long"));
	/* Nothing was created by any of the checks. */
	assert_int_equal(count_entries(), 3); /* file, stale.sock, live.sock */
}

static void test_stale_replaced_live_refused(void **state)
{
	struct vsock_mux_params mp = { .guest_cid = 3 };
	struct vsock_mux *m, *m2;
	struct evloop *loop;
	struct errbuf e;
	char p[160];
	int fd;

	assert_int_equal(evloop_create(&loop, &e), 0);
	path_in(p, sizeof(p), "v.sock");
	make_stale(p);
	mp.path = p;
	mp.loop = loop;
	assert_int_equal(vsock_mux_create(&mp, &m, &e), 0);
	fd = vt_unix_connect(p);
	assert_true(fd >= 0); /* the replacement listens */
	close(fd);
	/* A second VMM on the same path is refused while the first lives. */
	assert_int_equal(vsock_mux_create(&mp, &m2, &e), -EADDRINUSE);
	assert_non_null(strstr(e.msg, "another process"));
	vsock_mux_ops.destroy(m);
	evloop_destroy(loop);
}

#if HAVE_SECCOMP
/* Everything the muxer does, after the sandbox is on: 0 when it all worked. */
static int sandboxed_flow(struct vt *t, const struct sandbox_rules *rules)
{
	char path[160], buf[8];
	struct vsock_hdr h;
	struct errbuf e;
	int lfd, fd, host;

	/*
	 * The test's own host peers use nothing beyond the muxer's list: the client connects
	 * before the filter (the muxer's accept4 and line reading happen after it), and the
	 * listener accepts with accept4.
	 */
	vt_port_path(t, 5000, path, sizeof(path));
	lfd = vt_unix_listen(path);
	host = vt_unix_connect(t->path);
	if (lfd < 0 || host < 0 || sandbox_install(rules, &e) < 0)
		return 10;
	/* guest-initiated: socket + connect; data both ways (sendmsg, readv) */
	h = vt_hdr(40000, 5000, VSOCK_OP_REQUEST, 0);
	vt_tx(t, &h, NULL, 0);
	vt_pump(t, 3);
	if (!vt_rx(t, &h, NULL, 0) || h.op != VSOCK_OP_RESPONSE)
		return 11;
	fd = accept4(lfd, NULL, NULL, 0);
	h = vt_hdr(40000, 5000, VSOCK_OP_RW, 0);
	h.len = 2;
	vt_tx(t, &h, "hi", 2);
	vt_pump(t, 2);
	if (fd < 0 || read(fd, buf, 2) != 2 || write(fd, "yo", 2) != 2)
		return 12;
	vt_pump(t, 3);
	if (!vt_rx(t, &h, buf, sizeof(buf)) || h.op != VSOCK_OP_RW)
		return 13;
	/* the guest half-closes (shutdown), then closes */
	h = vt_hdr(40000, 5000, VSOCK_OP_SHUTDOWN, 0);
	h.flags = VSOCK_SHUTDOWN_BOTH;
	vt_tx(t, &h, NULL, 0);
	vt_pump(t, 3);
	/* host-initiated: accept4, the CONNECT line (recvfrom), the OK line (sendmsg) */
	if (write(host, "CONNECT 9\n", 10) != 10)
		return 14;
	vt_pump(t, 3);
	while (vt_rx(t, &h, NULL, 0) && h.op != VSOCK_OP_REQUEST)
		;
	if (h.op != VSOCK_OP_REQUEST)
		return 15;
	h = vt_hdr(9, h.src_port, VSOCK_OP_RESPONSE, 0);
	vt_tx(t, &h, NULL, 0);
	vt_pump(t, 3);
	if (read(host, buf, 3) != 3 || memcmp(buf, "OK ", 3))
		return 16;
	close(host);
	vt_pump(t, 3);
	/* the guest resets the device: every connection closes */
	vdrv_write(&t->d, 0x70, 0);
	vt_pump(t, 3);
	close(fd);
	close(lfd);
	vdrv_fini(&t->d);
	evloop_destroy(t->loop);
	return 0;
}

/* Runs the flow in a child under rules; returns its wait status. */
static int run_sandboxed(bool with_vsock)
{
	int pipefd[2], status;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sandbox_rules rules = { .nr_syscalls = 0 };
		struct vt_opts o = { .rx_buffers = 64 };
		static struct vt t;

		vt_setup(&t, &o);
		if (write(pipefd[1], t.dir, strlen(t.dir) + 1) < 0)
			_exit(2);
		if (with_vsock && sandbox_allow_syscalls(&rules, vsock_mux_syscalls) < 0)
			_exit(3);
		_exit(sandboxed_flow(&t, &rules));
	}
	close(pipefd[1]);
	{
		char d[64] = { 0 }, cmd[128];

		if (read(pipefd[0], d, sizeof(d) - 1) > 0 && !strncmp(d, "/tmp/vsock-test-", 16)) {
			assert_int_equal(waitpid(pid, &status, 0), pid);
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
			assert_int_equal(system(cmd), 0);
		} else {
			assert_int_equal(waitpid(pid, &status, 0), pid);
		}
	}
	close(pipefd[0]);
	return status;
}

static void test_sandbox(void **state)
{
	int status = run_sandboxed(true);

	if (WIFSIGNALED(status))
		fail_msg("sandboxed muxer killed by signal %d", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Without its calls the same work is refused: the list is what makes it pass. */
	status = run_sandboxed(false);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_path_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_replaced_live_refused, setup, teardown),
#if HAVE_SECCOMP
		cmocka_unit_test(test_sandbox),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

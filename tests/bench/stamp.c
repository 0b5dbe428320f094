// SPDX-License-Identifier: MIT
/*
 * stamp: the rig's stopwatch, a static arm64 binary run inside the emulated host (and inside the
 * bench guest). busybox sh forks too slowly under TCG to time a boot; this reads the VMM's
 * console itself and takes CLOCK_MONOTONIC at the three moments that matter.
 *
 *   stamp [options] -- PROGRAM ARGS...
 *	Starts PROGRAM with stdin a pipe held open (never EOF), stdout a pipe read here and copied
 *	to -o FILE, stderr to -e FILE. Prints one line:
 *	  marker_us=N exit_us=N status=S [rss_kib=N ram_rss_kib=N ram_thp_kib=N ram_vmas=N
 *	  other_rss_kib=N other_anon_kib=N other_file_kib=N]
 *	times from just before fork() to the marker's last byte read (-1: never seen) and to
 *	waitpid(); status is the exit code, 128+signal, or "timeout". Each line in the -e file
 *	starts with the time it arrived, "[seconds]", on the same clock.
 *	-m MARKER   the console string to wait for
 *	-r BYTES    at the marker, read /proc/PID/smaps: the guest RAM is the run of adjacent
 *	            mappings that adds up to exactly BYTES; everything else is the VMM's own
 *	-s MS       wait MS milliseconds after the marker before sampling (default 300)
 *	-d FILE     keep a copy of the smaps read
 *	-p          after the marker (and the sample), write "\n" to PROGRAM's stdin
 *	-c DIR      chroot(DIR) before exec (Debian's qemu lives in its own tree)
 *	-t SECONDS  kill PROGRAM after this long (default 600)
 *   stamp -x PROGRAM ARGS...
 *	Runs PROGRAM with this process's stdio and prints "elapsed_us=N status=S" (in the guest).
 *   stamp -k
 *	In an arm64 guest: "cntvct_us=N mono_us=N", the virtual counter (which KVM starts at 0
 *	when it creates the vCPUs) and CLOCK_MONOTONIC (which starts once the kernel's timekeeping
 *	does), read together: their difference is how long the kernel ran before its clock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct opts {
	const char *marker;
	const char *out_path;
	const char *err_path;
	const char *chroot_dir;
	const char *smaps_copy;
	uint64_t ram_bytes;
	long settle_ms;
	bool poke;
	long timeout_s;
	char **argv;
};

struct vma {
	uint64_t start, end;
	uint64_t rss_kib, anon_kib, thp_kib;
};

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
	fprintf(stderr, "stamp: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static char *slurp(const char *path, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (!buf || fd < 0)
		die(path);
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			if (!buf)
				die("memory");
		}
	}
	close(fd);
	buf[n] = 0;
	*len = n;
	return buf;
}

static size_t smaps_parse(char *text, struct vma **out)
{
	size_t n = 0, cap = 256;
	struct vma *v = malloc(cap * sizeof(*v));
	char *save = NULL;

	if (!v)
		die("memory");
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long a, b, kib;

		if (sscanf(line, "%llx-%llx ", &a, &b) == 2 && strchr(line, ' ') &&
		    strchr(line, '-') < strchr(line, ' ')) {
			if (n == cap) {
				cap *= 2;
				v = realloc(v, cap * sizeof(*v));
				if (!v)
					die("memory");
			}
			v[n++] = (struct vma){ .start = a, .end = b };
		} else if (n && sscanf(line, "Rss: %llu kB", &kib) == 1) {
			v[n - 1].rss_kib = kib;
		} else if (n && sscanf(line, "Anonymous: %llu kB", &kib) == 1) {
			v[n - 1].anon_kib = kib;
		} else if (n && sscanf(line, "AnonHugePages: %llu kB", &kib) == 1) {
			v[n - 1].thp_kib = kib;
		}
	}
	*out = v;
	return n;
}

/* The first run of address-adjacent mappings whose sizes add up to exactly ram bytes. */
static bool ram_find(const struct vma *v, size_t n, uint64_t ram, size_t *first, size_t *last)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t sum = 0;

		for (size_t j = i; j < n; j++) {
			if (j > i && v[j].start != v[j - 1].end)
				break;
			sum += v[j].end - v[j].start;
			if (sum == ram) {
				*first = i;
				*last = j;
				return true;
			}
			if (sum > ram)
				break;
		}
	}
	return false;
}

static void smaps_save(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(text, 1, len, f) != len || fclose(f))
		die(path);
}

static void smaps_report(pid_t pid, const struct opts *o, char *line, size_t len)
{
	uint64_t ram = o->ram_bytes;
	char path[64];
	struct vma *v;
	size_t n, tlen, first = 1, last = 0;
	uint64_t total = 0, anon = 0, ram_rss = 0, ram_anon = 0, ram_thp = 0;
	char *text;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	text = slurp(path, &tlen);
	if (o->smaps_copy)
		smaps_save(o->smaps_copy, text, tlen);
	n = smaps_parse(text, &v);
	if (!ram_find(v, n, ram, &first, &last))
		fprintf(stderr, "stamp: no run of mappings adds up to %llu bytes\n",
			(unsigned long long)ram);
	for (size_t i = 0; i < n; i++) {
		total += v[i].rss_kib;
		anon += v[i].anon_kib;
		if (i >= first && i <= last) {
			ram_rss += v[i].rss_kib;
			ram_anon += v[i].anon_kib;
			ram_thp += v[i].thp_kib;
		}
	}
	snprintf(line, len,
		 " rss_kib=%llu ram_rss_kib=%llu ram_thp_kib=%llu ram_vmas=%zu other_rss_kib=%llu"
		 " other_anon_kib=%llu other_file_kib=%llu",
		 (unsigned long long)total, (unsigned long long)ram_rss,
		 (unsigned long long)ram_thp, first <= last ? last - first + 1 : 0,
		 (unsigned long long)(total - ram_rss), (unsigned long long)(anon - ram_anon),
		 (unsigned long long)((total - ram_rss) - (anon - ram_anon)));
	free(v);
	free(text);
}

static int open_out(const char *path)
{
	int fd = open(path ? path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		die(path ? path : "/dev/null");
	return fd;
}

static pid_t spawn(const struct opts *o, int *in_w, int *out_r, int *err_r)
{
	int in[2], out[2], err[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		if (o->chroot_dir && (chroot(o->chroot_dir) < 0 || chdir("/") < 0))
			_exit(126);
		execv(o->argv[0], o->argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	*in_w = in[1];
	*out_r = out[0];
	*err_r = err[0];
	return pid;
}

/* Copies what the VMM wrote on stderr, each line stamped with its arrival (seconds since t0). */
static bool err_copy(int err_r, FILE *f, bool *bol, int64_t t0)
{
	char buf[4096];
	ssize_t n = read(err_r, buf, sizeof(buf));
	double t = (double)(now_us() - t0) / 1e6;

	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0)
		return false;
	for (ssize_t i = 0; i < n; i++) {
		if (*bol)
			fprintf(f, "[%9.6f] ", t);
		fputc(buf[i], f);
		*bol = buf[i] == '\n';
	}
	fflush(f);
	return true;
}

/* Scans the console for the marker across read boundaries; true the first time it completes. */
static bool marker_scan(const char *marker, size_t *matched, const char *buf, size_t n)
{
	size_t mlen = strlen(marker);

	for (size_t i = 0; i < n; i++) {
		/* Markers are chosen without repeated prefixes, so a restart at 0 or 1 suffices. */
		if (buf[i] == marker[*matched])
			(*matched)++;
		else
			*matched = buf[i] == marker[0];
		if (*matched == mlen)
			return true;
	}
	return false;
}

static const char *status_str(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "%d", WEXITSTATUS(st));
	else
		snprintf(buf, len, "%d", 128 + WTERMSIG(st));
	return buf;
}

static int run_vmm(const struct opts *o)
{
	int64_t t0, t_marker = -1, t_exit, deadline;
	int in_w, out_r, err_r, out_fd = open_out(o->out_path), st = 0;
	FILE *err_f = fdopen(open_out(o->err_path), "w");
	char buf[4096], mem[256] = "", sbuf[16];
	size_t matched = 0;
	bool timed_out = false, err_bol = true;
	pid_t pid;

	if (!err_f)
		die("stderr copy");
	signal(SIGPIPE, SIG_IGN);
	t0 = now_us();
	pid = spawn(o, &in_w, &out_r, &err_r);
	deadline = t0 + (int64_t)o->timeout_s * 1000000;
	for (;;) {
		struct pollfd p[2] = { { .fd = out_r, .events = POLLIN },
				       { .fd = err_r, .events = POLLIN } };
		int64_t left = deadline - now_us();
		ssize_t n;

		if (left <= 0) {
			/* SIGTERM first: a VMM says where its vCPUs were (a hung guest's last words) */
			timed_out = true;
			kill(pid, SIGTERM);
			for (int i = 0; i < 50 && waitpid(pid, NULL, WNOHANG) == 0; i++)
				usleep(100000);
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p, 2, (int)(left / 1000) + 1) <= 0)
			continue;
		if (p[1].revents && !err_copy(err_r, err_f, &err_bol, t0))
			err_r = p[1].fd = -1; /* poll ignores a negative fd */
		if (!p[0].revents)
			continue;
		n = read(out_r, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (write(out_fd, buf, (size_t)n) < 0)
			die("console copy");
		if (t_marker >= 0 || !o->marker ||
		    !marker_scan(o->marker, &matched, buf, (size_t)n))
			continue;
		t_marker = now_us();
		if (o->ram_bytes) {
			sleep_ms(o->settle_ms);
			smaps_report(pid, o, mem, sizeof(mem));
		}
		if (o->poke && write(in_w, "\n", 1) != 1)
			die("poke");
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	t_exit = now_us();
	while (err_r >= 0 && err_copy(err_r, err_f, &err_bol, t0))
		;
	fclose(err_f);
	if (err_r >= 0)
		close(err_r);
	close(in_w);
	close(out_r);
	close(out_fd);
	printf("marker_us=%lld exit_us=%lld status=%s%s\n",
	       (long long)(t_marker < 0 ? -1 : t_marker - t0), (long long)(t_exit - t0),
	       timed_out ? "timeout" : status_str(st, sbuf, sizeof(sbuf)), mem);
	return 0;
}

static int run_timed(char **argv)
{
	int64_t t0 = now_us();
	char sbuf[16];
	int st = 0;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	printf("elapsed_us=%lld status=%s\n", (long long)(now_us() - t0),
	       status_str(st, sbuf, sizeof(sbuf)));
	return 0;
}

static int print_counters(void)
{
#ifdef __aarch64__
	uint64_t cnt, frq;
	int64_t mono = now_us();

	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(cnt));
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(frq));
	printf("cntvct_us=%llu mono_us=%lld\n",
	       (unsigned long long)(frq ? cnt / frq * 1000000 + cnt % frq * 1000000 / frq : 0),
	       (long long)mono);
	return 0;
#else
	fprintf(stderr, "stamp: -k needs arm64\n");
	return 2;
#endif
}

static int usage(void)
{
	fprintf(stderr,
		"usage: stamp [-m MARKER] [-o FILE] [-e FILE] [-r BYTES [-s MS] [-d FILE]] [-p] "
		"[-c DIR] [-t S] -- PROGRAM ARGS...\n"
		"       stamp -x PROGRAM ARGS...\n"
		"       stamp -k\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o = { .settle_ms = 300, .timeout_s = 600 };
	int c;

	if (argc > 2 && !strcmp(argv[1], "-x"))
		return run_timed(argv + 2);
	if (argc == 2 && !strcmp(argv[1], "-k"))
		return print_counters();
	while ((c = getopt(argc, argv, "m:o:e:r:s:d:pc:t:")) != -1) {
		switch (c) {
		case 'm':
			o.marker = optarg;
			break;
		case 'o':
			o.out_path = optarg;
			break;
		case 'e':
			o.err_path = optarg;
			break;
		case 'r':
			o.ram_bytes = strtoull(optarg, NULL, 0);
			break;
		case 's':
			o.settle_ms = strtol(optarg, NULL, 0);
			break;
		case 'd':
			o.smaps_copy = optarg;
			break;
		case 'p':
			o.poke = true;
			break;
		case 'c':
			o.chroot_dir = optarg;
			break;
		case 't':
			o.timeout_s = strtol(optarg, NULL, 0);
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc || (o.marker && !*o.marker))
		return usage();
	o.argv = argv + optind;
	return run_vmm(&o);
}

// SPDX-License-Identifier: MIT
/*
 * dgrambr TAP PATH: the far end of `ignition --net dgram=PATH` in the e2e rig, standing in for
 * gvproxy -listen-vfkit and vmnet-helper, which Debian does not ship. It binds the unix datagram
 * socket PATH, takes the sender of the first datagram as its VM (as gvproxy does with vfkit's
 * "VFKT" hello, which it swallows), and then moves frames between that VM and the tap TAP, one
 * frame per datagram both ways. A hello from a new address (the VMM restarted) becomes the VM.
 *
 * It prints "dgrambr: ready" once PATH exists, "dgrambr: hello from SENDER" per hello, and at
 * SIGTERM the frame counts: "dgrambr: to-vm N from-vm N dropped N".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FRAME_MAX 65550

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int tap_open(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0 || strlen(name) >= IFNAMSIZ)
		return -1;
	memcpy(ifr.ifr_name, name, strlen(name) + 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static unsigned char buf[FRAME_MAX + 1];
	unsigned long to_vm = 0, from_vm = 0, dropped = 0;
	struct sockaddr_un me = { .sun_family = AF_UNIX }, vm = { 0 };
	socklen_t vm_len = 0;
	struct sigaction sa = { .sa_handler = on_term };
	int tap, sock, rcv = 4 << 20;

	if (argc != 3 || strlen(argv[2]) >= sizeof(me.sun_path)) {
		fprintf(stderr, "usage: dgrambr TAP PATH\n");
		return 2;
	}
	tap = tap_open(argv[1]);
	if (tap < 0) {
		fprintf(stderr, "dgrambr: tap %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(me.sun_path, argv[2]);
	unlink(argv[2]);
	if (sock < 0 || bind(sock, (struct sockaddr *)&me, sizeof(me)) < 0) {
		fprintf(stderr, "dgrambr: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("dgrambr: ready\n");
	fflush(stdout);
	while (!stop) {
		struct pollfd p[2] = { { .fd = tap, .events = POLLIN },
				       { .fd = sock, .events = POLLIN } };

		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents & POLLIN) {
			struct sockaddr_un from;
			socklen_t flen = sizeof(from);
			ssize_t n = recvfrom(sock, buf, sizeof(buf), MSG_DONTWAIT,
					     (struct sockaddr *)&from, &flen);

			if (n == 4 && !memcmp(buf, "VFKT", 4)) {
				vm = from;
				vm_len = flen;
				printf("dgrambr: hello from %s\n", from.sun_path);
				fflush(stdout);
			} else if (n > 0 && vm_len && write(tap, buf, (size_t)n) == n) {
				from_vm++;
			} else if (n > 0) {
				dropped++;
			}
		}
		if (p[0].revents & POLLIN) {
			ssize_t n = read(tap, buf, sizeof(buf));

			if (n > 0 && vm_len &&
			    sendto(sock, buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&vm,
				   vm_len) == n)
				to_vm++;
			else if (n > 0)
				dropped++;
		}
	}
	printf("dgrambr: to-vm %lu from-vm %lu dropped %lu\n", to_vm, from_vm, dropped);
	return 0;
}

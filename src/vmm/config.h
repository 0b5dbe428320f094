/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_VMM_CONFIG_H
#define IGNITION_VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define MAX_DISKS 16
#define MAX_NETS 8
#define MAX_FS 8
#define NET_MAX_HOSTFWD 16
#define DEFAULT_MEM_MIB 512u
#define DEFAULT_VCPUS 1u

struct disk_config {
	const char *path;
	bool readonly;
};

enum net_mode {
	NET_USER,   /* in-process NAT (libslirp) */
	NET_TAP,    /* a Linux tap interface */
	NET_STREAM, /* unix stream socket, QEMU's 4-byte length framing (passt, socket_vmnet) */
	NET_DGRAM,  /* unix datagram socket, a frame per datagram (gvproxy, vmnet-helper) */
};

struct net_hostfwd {
	bool udp;
	char host_addr[64]; /* "": any */
	uint16_t host_port;
	uint16_t guest_port;
};

/* One NIC (eth0, eth1, ... in order). */
struct net_config {
	enum net_mode mode;
	const char *target; /* tap interface name or socket path */
	uint8_t mac[6];
	struct net_hostfwd hostfwd[NET_MAX_HOSTFWD];
	unsigned nr_hostfwd;
};

struct vsock_config {
	bool enabled;
	uint32_t guest_cid;
	const char *socket; /* host-initiated: listen here; guest-initiated: connect to PATH_port */
};

struct fs_config {
	const char *tag;
	const char *path;
	bool readonly;
};

/* vCPU features: CPU_FEAT_AUTO offers what the host has; on requires it; off hides it. */
enum cpu_feature_mode {
	CPU_FEAT_AUTO,
	CPU_FEAT_ON,
	CPU_FEAT_OFF,
};

struct cpu_config {
	enum cpu_feature_mode pmu;
	enum cpu_feature_mode sve;
	enum cpu_feature_mode pauth;
};

/* A validated machine description: main.c builds it from argv, vmm/ builds the machine from it. */
struct vm_config {
	const char *kernel;
	const char *initrd;
	struct disk_config disks[MAX_DISKS];
	unsigned nr_disks;
	struct net_config nets[MAX_NETS];
	unsigned nr_nets;
	bool net_given; /* any --net, "none" included; without one a user-mode NIC is added */
	struct vsock_config vsock;
	struct fs_config fs[MAX_FS];
	unsigned nr_fs;
	struct cpu_config cpu;
	unsigned nr_vcpus;
	uint64_t mem_mib;
	const char *cmdline; /* replaces the default when set */
	const char *append;
	const char *dump_dtb; /* write the DTB here and exit instead of running */
	const char *backend;  /* NULL: the host's default */
	bool quiet;
	bool rng;
	bool seccomp;
};

/* Exit statuses of ignition (documented in README and --help). */
enum vm_exit_status {
	VM_EXIT_POWEROFF = 0, /* guest powered off, or Ctrl-A x */
	VM_EXIT_ERROR = 1,    /* bad input, host or hypervisor failure, fatal guest fault */
	VM_EXIT_RESET = 2,    /* the guest rebooted (e.g. panic=1): like Firecracker, we stop */
};

#endif

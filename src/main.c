// SPDX-License-Identifier: MIT
/* ignition: argv -> a validated vm_config -> the VMM. Every bad value stops here, in one line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/aarch64/cmdline.h"
#include "arch/aarch64/layout.h"
#include "build_config.h"
#include "hv/hv.h"
#include "util/kvlist.h"
#include "util/log.h"
#include "vmm/config.h"
#include "vmm/options.h"
#include "vmm/sandbox.h"
#include "vmm/vm.h"

static const char usage[] =
	"Usage: ignition --kernel PATH [options]\n"
	"\n"
	"Boots an aarch64 Linux guest. Its console is this terminal (stdin/stdout);\n"
	"diagnostics go to stderr.\n"
	"\n"
	"  --kernel PATH      arm64 Image, Image.gz or a raw image (required)\n"
	"  --initrd PATH      initramfs, placed below the device tree\n"
	"  --disk PATH[,ro]   virtio-blk disk (an image file or block device, size a\n"
	"                     multiple of 512); repeat for /dev/vdb, /dev/vdc, ...;\n"
	"                     \",ro\" opens it read-only\n"
	"  --smp N            vCPUs (default 1)\n"
	"  --mem MiB          guest RAM in MiB (default 512)\n"
	"  --net MODE[,mac=MAC][,hostfwd=...]\n"
	"                     a NIC (eth0, eth1, ... in order): user (default, NAT;\n"
	"                     hostfwd=tcp:[ADDR]:HOSTPORT-:GUESTPORT), tap=IFNAME,\n"
	"                     stream=PATH, dgram=PATH, or none\n"
	"  --vsock cid=N,socket=PATH\n"
	"                     host<->guest sockets (Firecracker's unix-socket protocol)\n"
	"  --fs tag=TAG,path=DIR[,ro]\n"
	"                     share a host directory (mount -t virtiofs TAG /mnt)\n"
	"  --cpu pmu=on|off,sve=on|off,pauth=on|off\n"
	"                     vCPU features (default: what the host has)\n"
	"  --cmdline STR      kernel command line, replacing the default\n"
	"  --append STR       text added to the kernel command line\n"
	"  --dump-dtb PATH    write the device tree these options boot with, and exit\n"
	"  --no-rng           no virtio-rng device\n"
	"  --no-seccomp       do not sandbox the VMM (debugging)\n"
	"  --backend NAME     kvm, hvf or null (default: this host's hypervisor)\n"
	"  --quiet            no diagnostics on stderr (errors still)\n"
	"  --help, --version\n"
	"\n"
	"Console: Ctrl-A x quits (disks are flushed first); Ctrl-A Ctrl-A sends Ctrl-A.\n"
	"\n"
	"Default command line: " CMDLINE_DEFAULT "\n"
	"(plus root=/dev/vda rw, or ro, when a disk is given).\n"
	"\n"
	"Exit status: 0 guest powered off or Ctrl-A x; 1 error; 2 guest rebooted\n"
	"(ignition does not restart guests); 128+N stopped by signal N.\n";

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_DISK,
	OPT_SMP,
	OPT_MEM,
	OPT_CMDLINE,
	OPT_APPEND,
	OPT_DUMP_DTB,
	OPT_NO_RNG,
	OPT_NET,
	OPT_VSOCK,
	OPT_FS,
	OPT_CPU,
	OPT_NO_SECCOMP,
	OPT_BACKEND,
	OPT_QUIET,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "smp", required_argument, NULL, OPT_SMP },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "dump-dtb", required_argument, NULL, OPT_DUMP_DTB },
	{ "no-rng", no_argument, NULL, OPT_NO_RNG },
	{ "net", required_argument, NULL, OPT_NET },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "fs", required_argument, NULL, OPT_FS },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static uint64_t host_ram_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : UINT64_MAX;
}

static int parse_mem(const char *arg, struct vm_config *cfg, struct errbuf *e)
{
	uint64_t mib, host = host_ram_bytes() >> 20;

	if (kv_parse_u64(arg, &mib) < 0)
		return err_set(e, -EINVAL, "--mem %s: not a size in MiB", arg);
	if (mib < (RAM_MIN_SIZE >> 20))
		return err_set(e, -EINVAL, "--mem %s: at least %llu MiB", arg,
			       (unsigned long long)(RAM_MIN_SIZE >> 20));
	if (mib > (RAM_MAX_SIZE >> 20))
		return err_set(e, -EINVAL, "--mem %s: at most %llu MiB", arg,
			       (unsigned long long)(RAM_MAX_SIZE >> 20));
	if (mib > host)
		return err_set(e, -EINVAL, "--mem %s: more than this host's %llu MiB of RAM", arg,
			       (unsigned long long)host);
	cfg->mem_mib = mib;
	return 0;
}

static int parse_smp(const char *arg, struct vm_config *cfg, struct errbuf *e)
{
	uint64_t n;

	if (kv_parse_u64(arg, &n) < 0 || n == 0)
		return err_set(e, -EINVAL, "--smp %s: not a vCPU count (1 to %u)", arg, MAX_VCPUS);
	if (n > MAX_VCPUS)
		return err_set(e, -EINVAL, "--smp %s: at most %u vCPUs", arg, MAX_VCPUS);
	cfg->nr_vcpus = (unsigned)n;
	return 0;
}

/* PATH[,ro|,rw]: only a trailing option counts, so paths may contain commas. */
static int parse_disk(char *arg, struct vm_config *cfg, struct errbuf *e)
{
	struct disk_config *d;
	char *comma = strrchr(arg, ',');

	if (cfg->nr_disks == MAX_DISKS)
		return err_set(e, -EINVAL, "--disk %s: at most %d disks", arg, MAX_DISKS);
	d = &cfg->disks[cfg->nr_disks];
	d->readonly = false;
	if (comma && (!strcmp(comma, ",ro") || !strcmp(comma, ",rw"))) {
		d->readonly = comma[1] == 'r' && comma[2] == 'o';
		*comma = '\0';
	}
	if (!*arg)
		return err_set(e, -EINVAL, "--disk: empty path");
	d->path = arg;
	cfg->nr_disks++;
	return 0;
}

/* 0 when the config is complete, 1 when --help/--version was answered, <0 on error. */
static int parse_args(int argc, char **argv, struct vm_config *cfg, struct errbuf *e)
{
	int opt, r = 0;

	*cfg = (struct vm_config){
		.nr_vcpus = DEFAULT_VCPUS,
		.mem_mib = DEFAULT_MEM_MIB,
		.rng = true,
		.seccomp = sandbox_available(),
	};
	opterr = 0;
	while (r == 0 && (opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_KERNEL:
			cfg->kernel = optarg;
			break;
		case OPT_INITRD:
			cfg->initrd = optarg;
			break;
		case OPT_DISK:
			r = parse_disk(optarg, cfg, e);
			break;
		case OPT_SMP:
			r = parse_smp(optarg, cfg, e);
			break;
		case OPT_MEM:
			r = parse_mem(optarg, cfg, e);
			break;
		case OPT_CMDLINE:
			cfg->cmdline = optarg;
			break;
		case OPT_APPEND:
			cfg->append = optarg;
			break;
		case OPT_DUMP_DTB:
			cfg->dump_dtb = optarg;
			break;
		case OPT_NO_RNG:
			cfg->rng = false;
			break;
		case OPT_NET:
			r = options_parse_net(optarg, cfg, e);
			break;
		case OPT_VSOCK:
			r = options_parse_vsock(optarg, cfg, e);
			break;
		case OPT_FS:
			r = options_parse_fs(optarg, cfg, e);
			break;
		case OPT_CPU:
			r = options_parse_cpu(optarg, cfg, e);
			break;
		case OPT_NO_SECCOMP:
			cfg->seccomp = false;
			break;
		case OPT_BACKEND:
			cfg->backend = optarg;
			break;
		case OPT_QUIET:
			cfg->quiet = true;
			break;
		case OPT_HELP:
			fputs(usage, stdout);
			return 1;
		case OPT_VERSION:
			printf("ignition %s\n", IGNITION_VERSION);
			return 1;
		default:
			if (optopt)
				return err_set(e, -EINVAL, "option --%s needs a value (see --help)",
					       options[optopt - OPT_KERNEL].name);
			return err_set(e, -EINVAL, "unknown option '%s' (see --help)",
				       argv[optind - 1]);
		}
	}
	if (r < 0)
		return r;
	if (optind < argc)
		return err_set(e, -EINVAL, "unexpected argument '%s' (see --help)", argv[optind]);
	if (!cfg->kernel)
		return err_set(e, -EINVAL, "--kernel PATH is required (see --help)");
	return options_finish(cfg, e);
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	struct errbuf e = { "" };
	const struct hv_ops *hv;
	int r;

	sandbox_prepare_process(); /* before any thread */
	r = parse_args(argc, argv, &cfg, &e);
	if (r > 0)
		return 0;
	if (r < 0) {
		fprintf(stderr, "ignition: %s\n", e.msg);
		return VM_EXIT_ERROR;
	}
	if (cfg.quiet)
		log_set_level(LOG_WARN);

	hv = cfg.backend ? hv_find(cfg.backend) : hv_default();
	if (cfg.backend && !hv) {
		fprintf(stderr, "ignition: --backend %s: not available in this build\n",
			cfg.backend);
		return VM_EXIT_ERROR;
	}
	if (cfg.dump_dtb) {
		r = vm_dump_dtb(&cfg, hv, &e);
	} else if (!hv) {
		r = err_set(&e, VM_EXIT_ERROR,
			    "no hypervisor here: ignition runs guests with KVM on arm64 Linux or "
			    "Hypervisor.framework on Apple Silicon (--dump-dtb works anywhere)");
	} else {
		r = vm_run(&cfg, hv, &e);
		if (r != VM_EXIT_ERROR)
			return r;
	}
	if (r != 0) {
		fprintf(stderr, "ignition: %s\n", e.msg);
		return VM_EXIT_ERROR;
	}
	return 0;
}

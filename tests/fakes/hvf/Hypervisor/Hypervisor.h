/* SPDX-License-Identifier: MIT */
/*
 * Follows the macOS 15.0 SDK (MacOSX15.0.sdk, Hypervisor.framework and arm64/hv/hv_kern_types.h):
 * the oldest SDK with hv_gic_*, so whatever hvf.c uses from here exists in every SDK it can be
 * built with. Newer names (HV_EXISTS, first in the 26.0 SDK) stay out: code that used them would
 * build here and fail with the 15.x SDKs.
 *
 * The part of Apple's Hypervisor.framework (arm64) that src/hv/hvf.c uses, declared the way the
 * SDK declares it, so hvf.c compiles unchanged on Linux against tests/fakes/hvf/fake.c. Names,
 * types and values follow the SDK headers hv_kern_types.h, hv_vm_types.h, hv_vm.h,
 * hv_vm_config.h, hv_vcpu_types.h, hv_vcpu.h, hv_gic_config.h, hv_gic_parameters.h, hv_gic_types.h
 * and hv_gic.h. Add a declaration here only when hvf.c starts to use it, and copy its SDK form.
 */
#ifndef IGNITION_FAKE_HYPERVISOR_H
#define IGNITION_FAKE_HYPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * <os/availability.h>: the SDK tags every function with the macOS release that introduced it.
 * With a deployment target below that release clang weak-links the symbol and insists that calls
 * are guarded by __builtin_available. Linux compilers know neither; the fake decides at run time
 * which macOS it plays (fake_set_host), so tests can see how hvf.c behaves on macOS 14.
 */
#define API_AVAILABLE(...)
#ifndef __APPLE__
bool hv_fake_os_available(const char *versions); /* e.g. "macOS 15, *" */
#define __builtin_available(...) hv_fake_os_available(#__VA_ARGS__)
#endif

/* <os/object.h> in C: configuration objects are reference counted OS objects. */
void os_release(void *object);

/*
 * <os/base.h>: OS_ENUM(name, type, ...) is an enum with a fixed underlying type where the compiler
 * has them (clang, in C too), else a plain enum plus a typedef of that type.
 */
#if defined(__has_extension)
#if __has_extension(cxx_fixed_enum)
#define HV_FAKE_FIXED_ENUM 1
#endif
#endif
#ifdef HV_FAKE_FIXED_ENUM
#define OS_ENUM(name, type, ...) typedef enum : type { __VA_ARGS__ } name##_t
#else
#define OS_ENUM(name, type, ...) \
	enum { __VA_ARGS__ };    \
	typedef type name##_t
#endif

/*
 * <mach/error.h>: err_local | err_sub(0xba5) is computed in signed int, so every failure code is
 * a negative int (0xfae94001 as a bit pattern). hv_return_t is a mach_error_t, an int.
 */
#define HV_FAKE_ERR(code) ((int)(0xfae94000u | (code)))
typedef int hv_return_t;
enum {
	HV_SUCCESS = 0,
	HV_ERROR = HV_FAKE_ERR(0x01),
	HV_BUSY = HV_FAKE_ERR(0x02),
	HV_BAD_ARGUMENT = HV_FAKE_ERR(0x03),
	HV_ILLEGAL_GUEST_STATE = HV_FAKE_ERR(0x04),
	HV_NO_RESOURCES = HV_FAKE_ERR(0x05),
	HV_NO_DEVICE = HV_FAKE_ERR(0x06),
	HV_DENIED = HV_FAKE_ERR(0x07),
	HV_UNSUPPORTED = HV_FAKE_ERR(0x0f),
};

/* hv_kern_types.h: hv_vm_map() / hv_vm_protect() permissions. */
typedef uint64_t hv_memory_flags_t;
enum {
	HV_MEMORY_READ = 1ull << 0,
	HV_MEMORY_WRITE = 1ull << 1,
	HV_MEMORY_EXEC = 1ull << 2,
};

/* hv_vm_types.h, hv_vcpu_types.h, hv_gic_types.h: with OS_OBJECT_USE_OBJC off. */
typedef struct hv_vm_config_s *hv_vm_config_t;
typedef struct hv_vcpu_config_s *hv_vcpu_config_t;
typedef struct hv_gic_config_s *hv_gic_config_t;
typedef uint64_t hv_ipa_t;
typedef uint64_t hv_vcpu_t;

/* hv_vcpu_types.h */
/* One enumerator a line, as in the SDK. */
/* clang-format off */
OS_ENUM(hv_exit_reason, uint32_t,
	HV_EXIT_REASON_CANCELED,
	HV_EXIT_REASON_EXCEPTION,
	HV_EXIT_REASON_VTIMER_ACTIVATED,
	HV_EXIT_REASON_UNKNOWN);
/* clang-format on */

typedef uint64_t hv_exception_syndrome_t;
typedef uint64_t hv_exception_address_t;

typedef struct {
	hv_exception_syndrome_t syndrome;
	hv_exception_address_t virtual_address;
	hv_ipa_t physical_address;
} hv_vcpu_exit_exception_t;

typedef struct {
	hv_exit_reason_t reason;
	hv_vcpu_exit_exception_t exception;
} hv_vcpu_exit_t;

/* The layout the seed checked against the macOS 26.5 SDK with a C probe. */
_Static_assert(sizeof(hv_vcpu_exit_t) == 32, "hv_vcpu_exit_t is 32 bytes");
_Static_assert(offsetof(hv_vcpu_exit_t, reason) == 0, "reason at 0");
_Static_assert(offsetof(hv_vcpu_exit_t, exception) == 8, "exception at 8");
_Static_assert(offsetof(hv_vcpu_exit_t, exception.syndrome) == 8, "syndrome at 8");
_Static_assert(offsetof(hv_vcpu_exit_t, exception.virtual_address) == 16, "FAR at 16");
_Static_assert(offsetof(hv_vcpu_exit_t, exception.physical_address) == 24, "IPA at 24");

/* X0..X30, then PC: HV_REG_X0 + 31 is PC, not XZR. */
/* clang-format off */
OS_ENUM(hv_reg, uint32_t,
	HV_REG_X0,
	HV_REG_X1,
	HV_REG_X2,
	HV_REG_X3,
	HV_REG_X4,
	HV_REG_X5,
	HV_REG_X6,
	HV_REG_X7,
	HV_REG_X8,
	HV_REG_X9,
	HV_REG_X10,
	HV_REG_X11,
	HV_REG_X12,
	HV_REG_X13,
	HV_REG_X14,
	HV_REG_X15,
	HV_REG_X16,
	HV_REG_X17,
	HV_REG_X18,
	HV_REG_X19,
	HV_REG_X20,
	HV_REG_X21,
	HV_REG_X22,
	HV_REG_X23,
	HV_REG_X24,
	HV_REG_X25,
	HV_REG_X26,
	HV_REG_X27,
	HV_REG_X28,
	HV_REG_X29,
	HV_REG_FP = HV_REG_X29,
	HV_REG_X30,
	HV_REG_LR = HV_REG_X30,
	HV_REG_PC,
	HV_REG_FPCR,
	HV_REG_FPSR,
	HV_REG_CPSR);
/* clang-format on */

/* op0 << 14 | op1 << 11 | CRn << 7 | CRm << 3 | op2 (not the ESR ISS layout). */
/* clang-format off */
OS_ENUM(hv_sys_reg, uint16_t,
	HV_SYS_REG_MDSCR_EL1 = 0x8012, /* 2, 0, c0, c2, 2 */
	HV_SYS_REG_MPIDR_EL1 = 0xc005, /* 3, 0, c0, c0, 5 */
	HV_SYS_REG_SCTLR_EL1 = 0xc080, /* 3, 0, c1, c0, 0 */
	HV_SYS_REG_CPACR_EL1 = 0xc082, /* 3, 0, c1, c0, 2 */
	HV_SYS_REG_TTBR0_EL1 = 0xc100, /* 3, 0, c2, c0, 0 */
	HV_SYS_REG_TTBR1_EL1 = 0xc101, /* 3, 0, c2, c0, 1 */
	HV_SYS_REG_TCR_EL1 = 0xc102, /* 3, 0, c2, c0, 2 */
	HV_SYS_REG_SPSR_EL1 = 0xc200, /* 3, 0, c4, c0, 0 */
	HV_SYS_REG_ELR_EL1 = 0xc201, /* 3, 0, c4, c0, 1 */
	HV_SYS_REG_SP_EL0 = 0xc208, /* 3, 0, c4, c1, 0 */
	HV_SYS_REG_AFSR0_EL1 = 0xc288, /* 3, 0, c5, c1, 0 */
	HV_SYS_REG_AFSR1_EL1 = 0xc289, /* 3, 0, c5, c1, 1 */
	HV_SYS_REG_ESR_EL1 = 0xc290, /* 3, 0, c5, c2, 0 */
	HV_SYS_REG_FAR_EL1 = 0xc300, /* 3, 0, c6, c0, 0 */
	HV_SYS_REG_PAR_EL1 = 0xc3a0, /* 3, 0, c7, c4, 0 */
	HV_SYS_REG_MAIR_EL1 = 0xc510, /* 3, 0, c10, c2, 0 */
	HV_SYS_REG_AMAIR_EL1 = 0xc518, /* 3, 0, c10, c3, 0 */
	HV_SYS_REG_VBAR_EL1 = 0xc600, /* 3, 0, c12, c0, 0 */
	HV_SYS_REG_CONTEXTIDR_EL1 = 0xc681, /* 3, 0, c13, c0, 1 */
	HV_SYS_REG_TPIDR_EL1 = 0xc684, /* 3, 0, c13, c0, 4 */
	HV_SYS_REG_CNTKCTL_EL1 = 0xc708, /* 3, 0, c14, c1, 0 */
	HV_SYS_REG_TPIDR_EL0 = 0xde82, /* 3, 3, c13, c0, 2 */
	HV_SYS_REG_TPIDRRO_EL0 = 0xde83, /* 3, 3, c13, c0, 3 */
	HV_SYS_REG_CNTV_CTL_EL0 = 0xdf19, /* 3, 3, c14, c3, 1 */
	HV_SYS_REG_CNTV_CVAL_EL0 = 0xdf1a, /* 3, 3, c14, c3, 2 */
	HV_SYS_REG_SP_EL1 = 0xe208); /* 3, 4, c4, c1, 0 */
/* clang-format on */

/*
 * hv_gic_types.h: "enum values are equal to the device register offsets defined in the ARM GIC v3
 * specification" (hv_gic.h), counted from the redistributor's base, so the SGI frame's registers
 * sit at 0x10000 + their offset in that frame (values as in the 26.0 SDK's hv_gic_types.h; the
 * 15.0 copy read for this fake lacks that file).
 */
/* clang-format off */
OS_ENUM(hv_gic_redistributor_reg, uint32_t,
	HV_GIC_REDISTRIBUTOR_REG_GICR_ISENABLER0 = 0x10100,
	HV_GIC_REDISTRIBUTOR_REG_GICR_ISPENDR0 = 0x10200);
/* clang-format on */

/* hv_vm_config.h (macOS 13) */
API_AVAILABLE(macos(13.0))
hv_vm_config_t hv_vm_config_create(void);
API_AVAILABLE(macos(13.0))
hv_return_t hv_vm_config_get_max_ipa_size(uint32_t *ipa_bit_length);
API_AVAILABLE(macos(13.0))
hv_return_t hv_vm_config_get_default_ipa_size(uint32_t *ipa_bit_length);
API_AVAILABLE(macos(13.0))
hv_return_t hv_vm_config_set_ipa_size(hv_vm_config_t config, uint32_t ipa_bit_length);

/* hv_vm.h */
hv_return_t hv_vm_get_max_vcpu_count(uint32_t *max_vcpu_count);
hv_return_t hv_vm_create(hv_vm_config_t config);
hv_return_t hv_vm_destroy(void);
hv_return_t hv_vm_map(void *addr, hv_ipa_t ipa, size_t size, hv_memory_flags_t flags);
hv_return_t hv_vm_unmap(hv_ipa_t ipa, size_t size);

/* hv_vcpu.h: all but hv_vcpus_exit() must be called by the vCPU's own thread. */
hv_return_t hv_vcpu_create(hv_vcpu_t *vcpu, hv_vcpu_exit_t **exit, hv_vcpu_config_t config);
hv_return_t hv_vcpu_destroy(hv_vcpu_t vcpu);
hv_return_t hv_vcpu_get_reg(hv_vcpu_t vcpu, hv_reg_t reg, uint64_t *value);
hv_return_t hv_vcpu_set_reg(hv_vcpu_t vcpu, hv_reg_t reg, uint64_t value);
hv_return_t hv_vcpu_get_sys_reg(hv_vcpu_t vcpu, hv_sys_reg_t reg, uint64_t *value);
hv_return_t hv_vcpu_set_sys_reg(hv_vcpu_t vcpu, hv_sys_reg_t reg, uint64_t value);
hv_return_t hv_vcpu_run(hv_vcpu_t vcpu);
hv_return_t hv_vcpus_exit(hv_vcpu_t *vcpus, uint32_t vcpu_count);
hv_return_t hv_vcpu_set_vtimer_mask(hv_vcpu_t vcpu, bool vtimer_is_masked);
hv_return_t hv_vcpu_set_vtimer_offset(hv_vcpu_t vcpu, uint64_t vtimer_offset);

/* hv_gic_config.h, hv_gic_parameters.h, hv_gic.h (macOS 15) */
API_AVAILABLE(macos(15.0))
hv_gic_config_t hv_gic_config_create(void);
API_AVAILABLE(macos(15.0))
hv_return_t hv_gic_config_set_distributor_base(hv_gic_config_t config,
					       hv_ipa_t distributor_base_address);
API_AVAILABLE(macos(15.0))
hv_return_t hv_gic_config_set_redistributor_base(hv_gic_config_t config,
						 hv_ipa_t redistributor_base_address);
API_AVAILABLE(macos(15.0))
hv_return_t hv_gic_get_distributor_size(size_t *distributor_size);
API_AVAILABLE(macos(15.0))
hv_return_t hv_gic_get_distributor_base_alignment(size_t *distributor_base_alignment);
API_AVAILABLE(macos(15.0))
hv_return_t hv_gic_get_redistributor_region_size(size_t *redistributor_region_size);
API_AVAILABLE(macos(15.0))
hv_return_t hv_gic_get_redistributor_size(size_t *redistributor_size);
API_AVAILABLE(macos(15.0))
hv_return_t hv_gic_get_redistributor_base_alignment(size_t *redistributor_base_alignment);
API_AVAILABLE(macos(15.0))
hv_return_t hv_gic_get_spi_interrupt_range(uint32_t *spi_intid_base, uint32_t *spi_intid_count);
API_AVAILABLE(macos(15.0))
hv_return_t hv_gic_create(hv_gic_config_t gic_config);
API_AVAILABLE(macos(15.0))
hv_return_t hv_gic_get_redistributor_base(hv_vcpu_t vcpu, hv_ipa_t *redistributor_base_address);
API_AVAILABLE(macos(15.0))
hv_return_t hv_gic_get_redistributor_reg(hv_vcpu_t vcpu, hv_gic_redistributor_reg_t reg,
					 uint64_t *value);
API_AVAILABLE(macos(15.0))
hv_return_t hv_gic_set_spi(uint32_t intid, bool level);

#endif

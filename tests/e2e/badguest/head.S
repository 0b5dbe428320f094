/* SPDX-License-Identifier: MIT */
/*
 * The arm64 Image header (Documentation/arch/arm64/booting.rst), the entry points of both CPUs,
 * the exception vectors and the firmware-call stubs of the misbehaving guest.
 */
#define FRAME_SIZE 272 /* x0..x30, ELR, SPSR, padding: struct frame in lib.c */

	.section .head, "ax"
	.global _head
_head:
	b	primary_entry		/* code0 */
	.long	0			/* code1 */
	.quad	0			/* text_offset: load at the start of RAM */
	.quad	_image_size		/* image_size, BSS and stacks included */
	.quad	0xa			/* flags: little-endian, 4 KiB pages, anywhere in RAM */
	.quad	0			/* res2 */
	.quad	0			/* res3 */
	.quad	0			/* res4 */
	.ascii	"ARM\x64"		/* magic */
	.long	0			/* res5 */

	.text
/* x0 = the DTB. Interrupts arrive masked (DAIF); the MMU and caches are off. */
primary_entry:
	mov	x19, x0
	adrp	x1, stack_top
	add	x1, x1, :lo12:stack_top
	mov	sp, x1
	bl	vectors_install
	adrp	x1, __bss_start
	add	x1, x1, :lo12:__bss_start
	adrp	x2, __bss_end
	add	x2, x2, :lo12:__bss_end
1:	cmp	x1, x2
	b.hs	2f
	str	xzr, [x1]
	add	x1, x1, #8
	b	1b
2:	/* Unmask SError: an abort KVM injects asynchronously is then counted, not left pending. */
	msr	daifclr, #4
	mov	x0, x19
	bl	bg_main
3:	wfi
	b	3b

/* A CPU started by PSCI CPU_ON: x0 = context id. */
	.global secondary_entry
secondary_entry:
	mov	x19, x0
	adrp	x1, stack2_top
	add	x1, x1, :lo12:stack2_top
	mov	sp, x1
	bl	vectors_install
	mov	x0, x19
	bl	bg_secondary
1:	wfi
	b	1b

vectors_install:
	adrp	x1, vectors
	add	x1, x1, :lo12:vectors
	msr	vbar_el1, x1
	isb
	ret

/* Each entry saves x0/x1, loads its index and joins the common path. */
	.macro	ventry index
	.balign	0x80
	sub	sp, sp, #FRAME_SIZE
	stp	x0, x1, [sp]
	mov	x1, #\index
	b	exc_common
	.endm

	.balign	0x800
vectors:
	ventry	0	/* current EL, SP0: sync, IRQ, FIQ, SError */
	ventry	1
	ventry	2
	ventry	3
	ventry	4	/* current EL, SPx: sync, IRQ, FIQ, SError */
	ventry	5
	ventry	6
	ventry	7
	ventry	8	/* lower EL, AArch64 */
	ventry	9
	ventry	10
	ventry	11
	ventry	12	/* lower EL, AArch32 */
	ventry	13
	ventry	14
	ventry	15

exc_common:
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x19, [sp, #144]
	stp	x20, x21, [sp, #160]
	stp	x22, x23, [sp, #176]
	stp	x24, x25, [sp, #192]
	stp	x26, x27, [sp, #208]
	stp	x28, x29, [sp, #224]
	mrs	x2, elr_el1
	stp	x30, x2, [sp, #240]
	mrs	x2, spsr_el1
	str	x2, [sp, #256]
	mov	x0, sp
	bl	exc_handle		/* (struct frame *, index); may change the saved ELR */
	ldr	x2, [sp, #256]
	msr	spsr_el1, x2
	ldp	x30, x2, [sp, #240]
	msr	elr_el1, x2
	ldp	x28, x29, [sp, #224]
	ldp	x26, x27, [sp, #208]
	ldp	x24, x25, [sp, #192]
	ldp	x22, x23, [sp, #176]
	ldp	x20, x21, [sp, #160]
	ldp	x18, x19, [sp, #144]
	ldp	x16, x17, [sp, #128]
	ldp	x14, x15, [sp, #112]
	ldp	x12, x13, [sp, #96]
	ldp	x10, x11, [sp, #80]
	ldp	x8, x9, [sp, #64]
	ldp	x6, x7, [sp, #48]
	ldp	x4, x5, [sp, #32]
	ldp	x2, x3, [sp, #16]
	ldp	x0, x1, [sp]
	add	sp, sp, #FRAME_SIZE
	eret

/* SMCCC calls: function id in w0, arguments in x1..x3, result in x0; x4..x17 may be clobbered. */
	.macro	fwcall name, insn
	.global	\name
\name:
	stp	x29, x30, [sp, #-16]!
	\insn
	ldp	x29, x30, [sp], #16
	ret
	.endm

	fwcall	hvc_call, "hvc #0"
	fwcall	hvc1_call, "hvc #1"
	fwcall	smc_call, "smc #0"

	.bss
	.balign	16
stack:
	.space	16384
stack_top:
	.space	4096
stack2_top:

/* SPDX-License-Identifier: MIT */
/*
 * A raw (headerless) bare-metal program, built beside the misbehaving guest: no arm64 Image
 * header, so ignition must load it at RAM + 0x80000 and enter its first byte, as QEMU does, with
 * X0 = the DTB. It says where it was entered and whether X0 points at a DTB, then powers off
 * with PSCI SYSTEM_OFF. Position-independent; linked at 0x40080000 only for the disassembly.
 */
#define UART		0x09000000
#define UART_LSR	5
#define LSR_THRE	5
#define PSCI_SYSTEM_OFF	0x84000008
#define FDT_MAGIC_LE	0xedfe0dd0	/* d0 0d fe ed read as a little-endian word */

	.text
	.global _start
_start:
	adr	x20, _start
	mov	x21, x0
	adr	x1, msg_hello
	bl	puts
	movz	x2, #0x4008, lsl #16	/* RAM + 0x80000 */
	adr	x1, msg_entry_ok
	cmp	x20, x2
	b.eq	1f
	adr	x1, msg_entry_bad
1:	bl	puts
	adr	x1, msg_dtb_bad
	cbz	x21, 2f
	ldr	w2, [x21]
	movz	w3, #(FDT_MAGIC_LE & 0xffff)
	movk	w3, #(FDT_MAGIC_LE >> 16), lsl #16
	cmp	w2, w3
	b.ne	2f
	adr	x1, msg_dtb_ok
2:	bl	puts
	adr	x1, msg_done
	bl	puts
	movz	w0, #(PSCI_SYSTEM_OFF & 0xffff)
	movk	w0, #(PSCI_SYSTEM_OFF >> 16), lsl #16
	hvc	#0
3:	wfi				/* SYSTEM_OFF does not return */
	b	3b

/* x1 = a NUL-terminated string, polled out on the 16550 (each access is a VM exit). */
puts:
	movz	x3, #(UART >> 16), lsl #16
4:	ldrb	w2, [x1], #1
	cbz	w2, 6f
5:	ldrb	w4, [x3, #UART_LSR]
	tbz	w4, #LSR_THRE, 5b
	strb	w2, [x3]
	b	4b
6:	ret

msg_hello:	.asciz	"RAW hello from a headerless image\r\n"
msg_entry_ok:	.asciz	"RAW entry=0x40080000\r\n"
msg_entry_bad:	.asciz	"RAW entry=elsewhere\r\n"
msg_dtb_ok:	.asciz	"RAW x0=dtb\r\n"
msg_dtb_bad:	.asciz	"RAW x0=not-a-dtb\r\n"
msg_done:	.asciz	"RAW done\r\n"

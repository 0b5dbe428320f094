#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ (committed; run again after changing
an input format). Each seed is a well-formed case in the target's input format (see the comment at
the top of each fuzz_<target>.c): what a Linux guest, a real kernel file or the VMM's own options
produce, plus a few broken ones for the error paths."""
import gzip
import os
import shutil
import struct
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
RAM = 0x40000000


def u8(v): return struct.pack('<B', v & 0xff)
def u16(v): return struct.pack('<H', v & 0xffff)
def u32(v): return struct.pack('<I', v & 0xffffffff)
def u64(v): return struct.pack('<Q', v & 0xffffffffffffffff)


def desc(addr, length, flags=0, nxt=0):
    return u64(addr) + u32(length) + u16(flags) + u16(nxt)


F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


def write(target, name, data):
    d = os.path.join(TOP, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


# ---- virtq: config, then ops (0 patch, 1 pop, 2 publish, 3 push, 4 restart, 5 drain) ----

def vq_config(num_log2, flags, desc_off, avail_off, used_off):
    return u8(num_log2) + u8(flags) + u32(desc_off) + u32(avail_off) + u32(used_off)


def patch(off, data):
    out = b''
    while data:
        chunk, data = data[:255], data[255:]
        out += u8(0) + u16(off) + u8(len(chunk)) + chunk
        off += len(chunk)
    return out


def avail(idx, heads, avail_off=0x1000):
    return patch(avail_off, u16(0) + u16(idx) + b''.join(u16(h) for h in heads))


def gen_virtq():
    chain = desc(RAM + 0x8000, 16, F_NEXT, 1) + desc(RAM + 0x9000, 512, F_NEXT | F_WRITE, 2) + \
        desc(RAM + 0x9200, 1, F_WRITE)
    base = vq_config(3, 0, 0, 0x1000, 0x2000)
    write('virtq', 'chain3-drain', base + patch(0, chain) + avail(1, [0]) + u8(5))
    write('virtq', 'chain3-pop-push-publish',
          base + patch(0, chain) + avail(1, [0]) + u8(1) + u8(3) + u32(513) + u8(2))
    table = desc(RAM + 0x8000, 16, F_NEXT, 1) + desc(RAM + 0x9000, 4096, F_NEXT | F_WRITE, 2) + \
        desc(RAM + 0xa000, 1, F_WRITE)
    ind = vq_config(4, 3, 0, 0x1000, 0x2000)
    write('virtq', 'indirect-event-idx',
          ind + patch(0, desc(RAM + 0xb000, 48, F_INDIRECT)) + patch(0xb000, table) +
          avail(1, [0]) + u8(1) + u8(3) + u32(4097) + u8(2) + u8(5))
    many = b''.join(desc(RAM + 0x8000 + 0x100 * i, 0x100, F_WRITE) for i in range(8))
    write('virtq', 'eight-heads', base + patch(0, many) +
          avail(8, range(8)) + u8(5) + avail(12, [0, 1, 2, 3, 4, 5, 6, 7]) + u8(5))
    write('virtq', 'loop', base + patch(0, desc(RAM + 0x8000, 8, F_NEXT, 0)) + avail(1, [0]) + u8(5))
    write('virtq', 'outside-ram',
          base + patch(0, desc(RAM + 0xfff0, 0x20, F_WRITE)) + avail(1, [0]) + u8(5))
    write('virtq', 'restart', base + patch(0, chain) + avail(1, [0]) + u8(1) + u8(4) +
          vq_config(2, 1, 0x4000, 0x4100, 0x4200) + u8(5))


# ---- virtio-blk: header, then ops (0 patch, 1 request, 2 notify, 3 ack, 4 restart, 5 reg) ----

T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WZ = range(6)  # selectors of fz_blk_request


def blk_header(flags=0x06, num_log2=3, d=0, a=0x1000, u=0x2000):
    return u8(flags) + u8(num_log2) + u16(d) + u16(a) + u16(u)


def request(type_sel, sector, nseg=0, shape=0, len_sel=0, payloads=(), rflags=0, raw_type=0):
    out = u8(1) + u8(rflags) + u8(type_sel) + u8(shape | nseg) + u8(len_sel)
    if type_sel >= 6:
        out += u32(raw_type)
    out += u32(sector)
    for k in range(nseg):
        p = payloads[k] if k < len(payloads) else b''
        seg_len = 512 << (len_sel & 3) if not len_sel & 4 else 16
        out += p[:min(seg_len, 16)].ljust(min(seg_len, 16), b'\0')
    return out


def dwz(sector, nr, flags=0):
    return u64(sector) + u32(nr) + u32(flags)


def gen_blk():
    h = blk_header()
    write('virtio_blk', 'write-read-flush-id',
          h + request(T_OUT, 0, 1, payloads=[b'ignition fuzz!!!']) + request(T_IN, 0, 1) +
          request(T_FLUSH, 0) + request(T_GET_ID, 0, 1) + u8(3))
    write('virtio_blk', 'multi-segment-indirect',
          h + request(T_OUT, 8, 4, len_sel=1, rflags=1) + request(T_IN, 8, 4, len_sel=1, rflags=1) +
          u8(3))
    write('virtio_blk', 'split-header-two-byte-status',
          h + request(T_IN, 3, 2, shape=0x90) + request(T_OUT, 120, 3, shape=0x10))
    write('virtio_blk', 'discard-write-zeroes',
          h + request(T_DISCARD, 0, 1, len_sel=4, payloads=[dwz(0, 8)]) +
          request(T_WZ, 0, 1, len_sel=4, payloads=[dwz(8, 8, 1)]) +
          request(T_WZ, 0, 2, len_sel=4, payloads=[dwz(16, 8), dwz(120, 8)]))
    write('virtio_blk', 'readonly-write',
          blk_header(flags=0x07) + request(T_OUT, 0, 1) + request(T_IN, 0, 1) +
          request(T_DISCARD, 0, 1, len_sel=4, payloads=[dwz(0, 1)]))
    write('virtio_blk', 'out-of-range',
          h + request(T_IN, 127, 2) + request(T_OUT, 0xffffffff, 1) + request(7, 0, raw_type=0x99))
    write('virtio_blk', 'batch-no-notify-then-kick',
          blk_header(num_log2=6, a=0x400, u=0x800) +
          b''.join(request(T_IN, i, 1, rflags=2) for i in range(6)) + u8(2) + u8(0) + u8(3))
    bad = patch(0, desc(RAM + 0x8000, 16, F_NEXT, 1) + desc(0x1000, 512, F_WRITE | F_NEXT, 2) +
                desc(RAM + 0x9000, 1, F_WRITE)) + avail(1, [0])
    write('virtio_blk', 'descriptor-outside-ram', h + bad + u8(2) + u8(0) + u8(3) + u8(4) +
          request(T_IN, 0, 1))
    write('virtio_blk', 'big-queue-event-idx',
          blk_header(flags=0x02, num_log2=8, d=0, a=0x1000, u=0x1400) +
          b''.join(request(T_OUT, 2 * i, 2, len_sel=0) for i in range(20)) + u8(3))


# ---- virtio-mmio: device, then ops (0 write32, 1 read32, 2 access, 3 patch, 4 ack) ----

def w(off, val): return u8(0) + u8(off // 4) + u32(val)
def r(off): return u8(1) + u8(off // 4)
def acc(off, width, is_write, val=0): return u8(2) + u16(off) + u8(width) + u8(is_write) + u64(val)


def mmio_patch(off, data): return u8(3) + u16(off) + u8(len(data)) + data


def linux_probe(features_lo, features_hi, num=8):
    s = r(0x000) + r(0x004) + r(0x008) + r(0x00c)
    s += w(0x070, 0) + w(0x070, 1) + w(0x070, 3)
    s += w(0x014, 1) + r(0x010) + w(0x014, 0) + r(0x010)
    s += w(0x024, 1) + w(0x020, features_hi) + w(0x024, 0) + w(0x020, features_lo)
    s += w(0x070, 0xb) + r(0x070)
    s += w(0x030, 0) + r(0x044) + r(0x034) + w(0x038, num)
    s += w(0x080, RAM) + w(0x084, 0) + w(0x090, RAM + 0x1000) + w(0x094, 0)
    s += w(0x0a0, RAM + 0x2000) + w(0x0a4, 0) + w(0x044, 1) + r(0x044)
    s += w(0x070, 0xf) + r(0x070)
    return s


def gen_mmio():
    rng_req = mmio_patch(0, desc(RAM + 0x8000, 64, F_WRITE)) + \
        mmio_patch(0x1000, u16(0) + u16(1) + u16(0))
    write('virtio_mmio', 'rng-linux-init-request',
          u8(0) + linux_probe(0, 1) + rng_req + w(0x050, 0) + r(0x060) + u8(4) + r(0x0fc))
    write('virtio_mmio', 'rng-event-idx-indirect',
          u8(0) + linux_probe((1 << 28) | (1 << 29), 1) + rng_req + w(0x050, 0) + u8(4))
    blk_req = mmio_patch(0, desc(RAM + 0x8000, 16, F_NEXT, 1) + desc(RAM + 0x9000, 512,
                                                                     F_NEXT | F_WRITE, 2) +
                         desc(RAM + 0x9200, 1, F_WRITE)) + \
        mmio_patch(0x8000, u32(0) + u32(0) + u64(1)) + mmio_patch(0x1000, u16(0) + u16(1) + u16(0))
    cfg = acc(0x100, 4, 0) + acc(0x104, 4, 0) + acc(0x100, 8, 0) + acc(0x114, 4, 0) + \
        acc(0x122, 2, 0) + acc(0x100, 1, 1, 5)
    write('virtio_mmio', 'blk-config-and-read',
          u8(1) + r(0x000) + cfg + linux_probe(1 << 9, 1) + blk_req + w(0x050, 0) + u8(4))
    write('virtio_mmio', 'odd-widths-and-offsets',
          u8(0) + acc(0x000, 1, 0) + acc(0x002, 2, 0) + acc(0x070, 8, 1, 1) + acc(0x071, 4, 1, 1) +
          acc(0x1fe, 4, 0) + acc(0x200, 4, 0) + acc(0x070, 3, 1, 7) + acc(0x0fc, 4, 0))
    write('virtio_mmio', 'out-of-order',
          u8(0) + w(0x070, 0xf) + w(0x044, 1) + w(0x038, 3) + w(0x030, 5) + r(0x034) +
          w(0x070, 1) + w(0x070, 0xb) + w(0x044, 1) + w(0x070, 0) + w(0x064, 0xffffffff))


# ---- serial: ops (0 write, 1 read, 2 receive, 3 tx ready, 4 budget, 5 access) ----

def sw(reg, val): return u8(0) + u8(reg) + u8(val)
def sr(reg): return u8(1) + u8(reg)
def srx(data): return u8(2) + u8(len(data)) + data


def gen_serial():
    init = sw(3, 0x80) + sw(0, 1) + sw(1, 0) + sw(3, 0x03) + sw(2, 0x07) + sw(2, 0xc1) + \
        sw(4, 0x0b) + sw(1, 0x0f) + sr(2) + sr(5) + sr(6)
    write('serial', 'linux-init-hello',
          init + b''.join(sw(0, c) for c in b'Hello\n') + sr(5) + sr(2) + srx(b'ls\n') + sr(2) +
          sr(5) + sr(0) + sr(0) + sr(0) + sr(5))
    loop = sw(4, 0x1f) + sw(0, 0x55) + sr(5) + sr(0) + sr(6) + sw(4, 0x0b) + sr(6)
    write('serial', 'loopback', init + loop)
    busy = u8(4) + u8(3) + b''.join(sw(0, 0x41 + i) for i in range(20)) + sr(5) + sr(2) + u8(4) + \
        u8(255) + u8(3) + sr(2) + sr(5)
    write('serial', 'busy-host', init + busy)
    write('serial', 'rx-overrun', sw(2, 0x01) + sw(1, 0x05) + srx(bytes(range(20))) + sr(5) +
          sr(2) + sw(2, 0x00) + srx(b'ab') + sr(0) + sr(5))
    write('serial', 'odd-accesses', u8(5) + u16(8) + u8(1) + u8(1) + u8(0) + u8(5) + u16(0) +
          u8(4) + u8(0) + u8(0) + u8(5) + u16(0xfff) + u8(1) + u8(0) + u8(0) + sw(7, 0x5a) + sr(7))


# ---- bus: regions, then accesses ----

def gen_bus():
    regions = u8(0) + u64(0x09000000) + u64(0x1000)                 # UART
    regions += u8(2) + u32(0x0a000000 >> 12) + u16(0x200)            # virtio slot 0 (<< 0)
    for _ in range(7):
        regions += u8(1) + u16(0) + u16(0x1ff)                        # slots 1..7, back to back
    regions += u8(0x82) + u32(0x3ffd0000 >> 12) + u16(0x1000)         # GIC dist (<< 8)
    regions += u8(3) + u16(0x0100) + u16(0x100)                       # overlaps: refused
    nr = 11

    def access(write_, mode, fields, width, val=0):
        return u8(write_ | mode << 1) + fields + u8(width) + u64(val)
    acc_ = access(1, 0, u64(0x09000000), 1, 0x41) + access(0, 0, u64(0x09000005), 1)
    acc_ += access(1, 1, u8(1) + u16(0x70), 4, 0xf) + access(0, 1, u8(1) + u16(0xfffc), 4)
    acc_ += access(0, 2, u8(2) + u8(3), 4) + access(0, 2, u8(2) + u8(7), 8)
    acc_ += access(0, 0, u64(0x0b000000), 4) + access(1, 0, u64(0xffffffffffffffff), 8, 1)
    acc_ += access(0, 1, u8(0) + u16(0), 3) + access(1, 1, u8(4) + u16(0), 0)
    write('bus', 'machine-layout', u8(nr) + regions + acc_)
    write('bus', 'wrap-and-empty', u8(3) + u8(0) + u64(0xfffffffffffff000) + u64(0x2000) +
          u8(0) + u64(0x1000) + u64(0) + u8(0) + u64(0xfffffffffffff000) + u64(0x1000) +
          access(0, 0, u64(0xffffffffffffffff), 1) + access(0, 0, u64(0xfffffffffffffff9), 8))


# ---- loader: mode, limit selector, file ----

def arm64_image(text_offset=0, image_size=0x20000, flags=0xa, body=4096):
    hdr = u32(0xfa405a4d) + u32(0x14000000 | 0x10) + u64(text_offset) + u64(image_size) + \
        u64(flags) + u64(0) + u64(0) + u64(0) + b'ARM\x64' + u32(0x40)
    code = bytes((i * 7 + 3) & 0xff for i in range(body))
    return hdr + code


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def gen_loader():
    limit_3m = 0x10000 + 0x1c0000  # RAM + 1.75 MiB
    img = arm64_image()
    write('loader', 'image-buf', u8(0) + u32(limit_3m) + img)
    write('loader', 'image-file', u8(1) + u32(limit_3m) + img)
    write('loader', 'image-mapped-4k', u8(3) + u32(limit_3m) + img)
    write('loader', 'image-mapped-16k-odd-size', u8(7) + u32(limit_3m) + img + b'tail')
    write('loader', 'image-mapped-64k-text-offset',
          u8(11) + u32(limit_3m) + arm64_image(0x10000, 0x20000))
    write('loader', 'image-gz-buf', u8(0) + u32(limit_3m) + gz(img))
    write('loader', 'image-gz-file', u8(1) + u32(limit_3m) + gz(img))
    write('loader', 'legacy-text-offset', u8(0) + u32(limit_3m) + arm64_image(0x80000, 0))
    write('loader', 'text-offset-1m', u8(0) + u32(limit_3m) + arm64_image(0x100000, 0x40000))
    write('loader', 'big-endian', u8(0) + u32(limit_3m) + arm64_image(flags=0xb))
    write('loader', 'too-big-for-limit', u8(0) + u32(0x10000 + 0x8000) + img)
    write('loader', 'gz-truncated', u8(0) + u32(limit_3m) + gz(img)[:60])
    write('loader', 'gz-bomb', u8(0) + u32(limit_3m) + gz(img[:64] + bytes(0x300000)))
    initrd = b'070701' + bytes(200)
    write('loader', 'initrd-and-image', u8(2) + u32(0) + u32(len(initrd)) + initrd + img)
    write('loader', 'initrd-and-image-gz', u8(2) + u32(0) + u32(len(initrd)) + initrd + gz(img))


# ---- fdt: vCPUs, flags, MiB, virtio slots, buffer, then gic / initrd / seed / strings ----

F_INITRD, F_DISK, F_ROOT_RO, F_REPLACE, F_APPEND, F_SEED, F_GIC_RAW, F_RAW = \
    1, 2, 4, 8, 16, 32, 64, 128


def fdt_seed(vcpus, flags, mib, nr_virtio, bufsize=0xffff, gic=b'', initrd=b'', seed=b'',
             replace=None, append=None):
    s = u8(vcpus) if vcpus < 20 else u8(0xf0) + u8(vcpus)
    s += u8(flags) + u16(mib) + u8(nr_virtio) + u16(bufsize - 64 if bufsize >= 64 else 0)
    s += gic + initrd
    if flags & F_SEED:
        s += u8(len(seed)) + seed
    if flags & F_REPLACE:
        s += replace + b'\0'
    if flags & F_APPEND:
        s += append + b'\0'
    return s


def gen_fdt():
    write('fdt', 'default-disk', fdt_seed(1, F_DISK | F_SEED, 512, 2, seed=bytes(range(64))))
    write('fdt', 'smp4-initrd-append',
          fdt_seed(4, F_INITRD | F_APPEND | F_DISK | F_ROOT_RO, 1024, 3, initrd=u32(0x123456),
                   append=b'quiet loglevel=3'))
    write('fdt', 'smp128-32-slots-replace',
          fdt_seed(128, F_REPLACE, 4096, 32, replace=b'console=hvc0 init=/bin/sh'))
    write('fdt', 'cmdline-2047', fdt_seed(2, F_REPLACE, 64, 0, replace=b'x' * 2047))
    write('fdt', 'cmdline-2048', fdt_seed(2, F_REPLACE | F_APPEND, 64, 0, replace=b'y' * 2000,
                                          append=b'z' * 47))
    write('fdt', 'raw-gic', fdt_seed(8, F_GIC_RAW, 256, 1,
                                     gic=u32(0x10000) + u32(0x20000) + u8(16) + u8(17)))
    write('fdt', 'initrd-reversed', fdt_seed(1, F_INITRD | F_RAW, 128, 1,
                                             initrd=u64(RAM + 0x2000000) + u64(RAM + 0x1000000)))
    write('fdt', 'small-buffer', fdt_seed(2, F_DISK, 128, 1, bufsize=1024))
    write('fdt', 'huge-ram', u8(1) + u8(0) + u16(0xffff) + u64(1 << 40) + u8(1) + u16(0x4000))


# ---- exit: vCPUs, RAM pages, states, records ----

EC_DABT, EC_SYS, EC_HVC, EC_SMC, EC_WFX = 0x24, 0x18, 0x16, 0x17, 0x01
IL = 1 << 25


def syndrome(ec, iss, far=0, ipa=0, pc=0x40080000):
    return u8(0) + u8(ec) + u32(iss) + u64(far) + u64(ipa) + u64(pc)


def dabt(sas, srt, write_, sse=False, sf=True):
    return IL | 1 << 24 | sas << 22 | (1 << 21 if sse else 0) | srt << 16 | \
        (1 << 15 if sf else 0) | (1 << 6 if write_ else 0)


def sys_iss(op0, op1, crn, crm, op2, rt, read):
    return IL | op0 << 20 | op2 << 17 | op1 << 14 | crn << 10 | rt << 5 | crm << 1 | int(read)


def psci(fn_sel, mpidr_idx, entry_off, x3=0):
    return u8(fn_sel) + u8(0) + u8(mpidr_idx) + u8(0) + u32(entry_off) + u64(x3)


def gen_exit():
    head = u8(4) + u32(0x40000) + bytes([0b10]) + bytes(31)  # 1 GiB; vCPU 0 on, 1-3 off
    recs = syndrome(EC_DABT, dabt(2, 1, True), 0x09000000, 0x09000000) + u64(0x41)
    recs += syndrome(EC_DABT, dabt(0, 3, False, sse=True, sf=False), 0x0a000070, 0x0a000070) + \
        u64(0x80)
    recs += syndrome(EC_DABT, 0, 0x1234, 0x1234)  # no ISV
    recs += syndrome(EC_SYS, sys_iss(2, 0, 1, 0, 4, 0, False)) + u8(32) + u64(0)   # OSLAR_EL1
    recs += syndrome(EC_SYS, sys_iss(3, 0, 0, 4, 0, 2, True)) + u8(32) + u64(0)    # ID_AA64PFR0
    recs += syndrome(EC_SYS, sys_iss(3, 7, 15, 15, 7, 9, True)) + u8(5) + u64(0)   # unknown
    recs += syndrome(EC_HVC, IL) + u64(0x84000000) + u8(0) + u8(0) + u8(0) + u32(0) + u64(0)
    recs += syndrome(EC_WFX, IL) + syndrome(EC_WFX, IL | 1) + syndrome(0x3c, IL)
    write('exit', 'syndromes', head + recs)
    calls = [psci(0, 0, 0), psci(14, 0, 0), psci(4, 1, 0x80000, 7),
             psci(5, 2, 0x80000, 0xdeadbeefcafe), psci(4, 1, 0x80000), psci(6, 1, 0),
             psci(4, 200, 0), psci(4, 3, 0x80002), psci(1, 0, 0), psci(3, 0, 0), psci(12, 0, 0),
             psci(13, 0, 0), psci(15, 0, 0), psci(16, 0, 0), psci(10, 0, 0), psci(8, 0, 0)]
    write('exit', 'psci-boot-secondaries', head + b''.join(u8(1) + c for c in calls))
    write('exit', 'raw-fields', head + u8(2) + bytes([3, 0, 0, 7, 7, 1, 40]) + u64(0) +
          u8(3) + u8(3) + u8(1) + u8(0) + u64(0xffffff))


def net_header(flags=0x0e, num_log2=3):
    return u8(flags) + u8(num_log2) + b''.join(u16(o) for o in
                                                (0x0000, 0x1000, 0x2000, 0x3000, 0x4000, 0x5000))


def net_tx(lens, payloads=(), shape=0):
    out = u8(1) + u8(((len(lens) - 1) & 7) | shape)
    for i, n in enumerate(lens):
        out += u16(n) + (payloads[i] if i < len(payloads) else bytes(min(n, 16)))
    return out


def net_rx(count, length, shape=0): return u8(2) + u8(count - 1) + u16(length) + u8(shape)
def net_frame(length, fill=0xab, big=0): return u8(7) + u16(length) + u8(big) + u8(fill)


def gen_net():
    eth = bytes.fromhex('ffffffffffff525400123456') + b'\x08\x06' + bytes(2)
    basic = net_rx(4, 1526) + net_tx([12, 60], [bytes(12), eth]) + net_frame(100) + u8(4)
    write('virtio_net', 'tx-rx-mergeable', net_header() + basic)
    write('virtio_net', 'tap-offloads', net_header(0x1f) + basic + net_frame(4000))
    write('virtio_net', 'no-mrg-indirect', net_header(0x04, 4) + net_rx(2, 1526, 8) +
          net_tx([4, 8, 60], shape=8) + net_frame(2000) + net_frame(300))
    starve = b''.join(net_frame(200, i) for i in range(70))
    write('virtio_net', 'rx-starvation', net_header() + starve + net_rx(16, 1526) + net_rx(16, 1526) +
          u8(9) + u8(4))
    write('virtio_net', 'malformed-tx', net_header() + net_tx([8]) + net_tx([12, 0]) +
          net_tx([12, 65535, 65535]) + u8(0) + u16(0x3000) + u8(16) + desc(0x40008000, 16, 1, 0) +
          u8(3) + u8(1))
    write('virtio_net', 'backend-busy-link', net_header() + u8(9) + u8(1) + net_tx([12, 60]) +
          u8(9) + u8(2) + u8(8) + u8(0) + u8(4) + u8(8) + u8(1) + u8(5) + basic)
    write('virtio_net', 'big-frame-mrg', net_header(0x0e, 6) + net_rx(16, 1526) + net_rx(16, 1526) +
          net_frame(65535 - 64536, 0x11, 1) + net_rx(16, 1526))


def stream_msg(payload): return struct.pack('>I', len(payload)) + payload


def gen_net_stream():
    frames = stream_msg(bytes(range(60))) + stream_msg(b'\xff' * 1500) + stream_msg(b'x' * 14)
    write('net_stream', 'three-frames-bytewise', u8(0) + u8(0) + frames)
    write('net_stream', 'three-frames-chunked-refused', u8(9) + u8(1) + frames)
    write('net_stream', 'zero-length-and-partial', u8(3) + u8(2) + struct.pack('>I', 0) + frames +
          struct.pack('>I', 100) + b'abc')
    write('net_stream', 'over-limit', u8(40) + u8(0) + frames + struct.pack('>I', 65551) + frames)
    write('net_stream', 'max-frame', u8(255) + u8(0) + stream_msg(b'\x5a' * 65550) + frames)


# ---- virtio_vsock: ops (0 packet, 1 rx, 2 pump, 3 connect, 4 hwrite, 5 hclose, 6 patch,
# 7 reset, 8 accept); see fuzz_virtio_vsock.c ----

def vs_pkt(op, src, dst, length=0, data=0, shape=0, buf_alloc=262144, fwd=0, flags=0):
    return (u8(0) + u8(shape) + u8(src) + u8(dst) + u8(op) + u32(length) + u32(buf_alloc) +
            u32(fwd) + u8(flags) + u16(data))


def vs_rx(n, size=4140): return u8(1) + u8(n) + u16(size)
def vs_pump(n=4): return u8(2) + u8(n)
def vs_connect(port, extra=0): return u8(3) + u8(port) + u8(extra)
def vs_hwrite(i, n): return u8(4) + u8(i) + u16(n)
def vs_hclose(i, how): return u8(5) + u8(i) + u8(how)


REQ, RESP, RST, SHUT, RW, CUPD, CREQ = 1, 2, 3, 4, 5, 6, 7


def gen_vsock():
    guest = (vs_rx(16) + vs_pkt(REQ, 10, 1) + vs_pump() + u8(8) + vs_pkt(RW, 10, 1, 5, 5) +
             vs_pump() + vs_hwrite(0, 100) + vs_pump() + vs_pkt(CUPD, 10, 1, fwd=100) +
             vs_pkt(CREQ, 10, 1) + vs_pump() + vs_pkt(SHUT, 10, 1, flags=2) + vs_pump() +
             vs_hclose(0, 0) + vs_pump() + vs_pkt(RST, 10, 1) + vs_pump())
    write('virtio_vsock', 'guest-connect-data-close', guest)
    host = (vs_rx(16) + vs_connect(5, 3) + vs_pump() + vs_pkt(RESP, 5, 200) + vs_pump() +
            vs_hwrite(0, 3000) + vs_pump() + vs_pkt(RW, 5, 200, 64, 64) + vs_pump() +
            vs_hclose(0, 1) + vs_pump() + vs_pkt(SHUT, 5, 200, flags=3) + vs_pump(8))
    write('virtio_vsock', 'host-connect-half-close', host)
    refused = (vs_rx(4) + vs_connect(6) + vs_pump() + vs_pkt(RST, 6, 200) + vs_pump() +
               vs_connect(0x85, 2) + vs_pump() + vs_pkt(REQ, 11, 9) + vs_pump())
    write('virtio_vsock', 'refusals', refused)
    hostile = vs_rx(16)
    for shape in (1, 2, 4, 8, 0x10, 0x20):
        hostile += vs_pkt(REQ, 12, 1, 70000, 16, shape=shape)
    hostile += vs_pkt(0, 13, 1) + vs_pkt(9, 13, 1) + vs_pkt(RW, 13, 1, 100, 10)
    hostile += vs_pkt(REQ, 14, 1) + vs_pump() + vs_pkt(RW, 14, 1, 4096, 4096, buf_alloc=0)
    hostile += vs_pkt(REQ, 14, 1) + vs_pump(8)
    for i in range(40):
        hostile += vs_pkt(REQ, 20 + i, 9)
    hostile += vs_pump(8) + vs_rx(16, 10) + vs_pump()
    write('virtio_vsock', 'hostile-headers-flood', hostile)
    credit = (vs_rx(2) + vs_pkt(REQ, 15, 2, buf_alloc=4096) + vs_pump() + u8(8) +
              vs_hwrite(0, 20000) + vs_pump(8) + vs_rx(16, 100) + vs_pump(8) +
              vs_pkt(CUPD, 15, 2, buf_alloc=65536, fwd=4096) + vs_pump(8) + vs_hclose(0, 0) +
              vs_pump(8))
    write('virtio_vsock', 'credit-and-small-buffers', credit)
    reset = (vs_rx(8) + vs_pkt(REQ, 16, 1) + vs_connect(7) + vs_pump() + u8(7) + vs_pump() +
             vs_rx(8) + vs_pkt(REQ, 16, 1) + vs_pump() + u8(6) + u16(0) + u8(16) + bytes(16) +
             vs_pkt(RW, 16, 1, 8, 8) + vs_pump())
    write('virtio_vsock', 'reset-and-scribble', reset)


# ---- virtio_rng: features, queue size, then ops (0 chain, 1 raw, 2 notify, 3 patch, 4 restart,
# 5 ack, 6 register, 7 source, 8 read); see fuzz_virtio_rng.c ----

def rng_chain(segs, indirect=False, quiet=False):
    """segs: (flags, offset, length); flags bit 0 writable, 1 past RAM, 2 huge, 3 anywhere."""
    shape = (len(segs) - 1) | (8 if indirect else 0) | (16 if quiet else 0)
    return u8(0) + u8(shape) + b''.join(u8(f) + u16(o) + u16(n) for f, o, n in segs)


def gen_rng():
    # what Linux's virtio-rng driver does: one writable buffer at a time
    linux = rng_chain([(1, 0, 64)]) + u8(5) + rng_chain([(1, 0x100, 32)]) + u8(5)
    write('virtio_rng', 'linux-hwrng', u8(3) + u8(3) + linux)
    write('virtio_rng', 'shapes',
          u8(3) + u8(4) + rng_chain([(0, 0, 16), (1, 64, 100), (1, 256, 4096)]) +
          rng_chain([(1, 0, 16), (0, 64, 16)]) + u8(4) + u8(3) + u8(4) +
          rng_chain([(1, 0, 8)] * 4, indirect=True) +
          rng_chain([(1, 0, 0), (1, 32, 1)], quiet=True) + rng_chain([(0, 0, 32)]) +
          u8(2) + u8(0) + u8(5))
    write('virtio_rng', 'large-and-capped',
          u8(0) + u8(4) + rng_chain([(1, 0, 0xffff), (1, 0, 0x8000)]) + u8(5) +
          rng_chain([(1, 0x100, 40000), (1, 0x100, 40000)]) + u8(5))
    write('virtio_rng', 'outside-ram',
          u8(1) + u8(4) + rng_chain([(3, 0, 64)]) + u8(4) + u8(1) + u8(4) +
          rng_chain([(5, 0x10, 64)]) + u8(4) + u8(1) + u8(4) +
          rng_chain([(1, 0xfff0, 0x20)]) + u8(4) + u8(3) + u8(2) +
          rng_chain([(1, 0, 16)] * 3, indirect=True))
    write('virtio_rng', 'source-failures',
          u8(1) + u8(3) + u8(7) + u8(1 | 8 * 5) + rng_chain([(1, 0, 100)]) + u8(7) + u8(2) +
          rng_chain([(1, 0, 100)]) + u8(7) + u8(3 | 8) + rng_chain([(1, 0, 50), (1, 64, 50)]) +
          u8(7) + u8(4) + rng_chain([(1, 0, 10)]) + u8(7) + u8(5) + rng_chain([(1, 0, 10)]))
    write('virtio_rng', 'raw-loop-and-scribble',
          u8(2) + u8(2) + u8(1) + u8(0) + u8(0) + u16(0) + u32(16) + u16(3) + u16(0) + u8(1) +
          u8(2) + u8(0) + u8(4) + u8(2) + u8(2) + u8(1) + u8(1) + u8(1) + u16(0) + u32(32) +
          u16(4) + u16(0) + u8(1) + u8(2) + u8(0) + u8(3) + u16(0x2000) + u8(8) + bytes(8) +
          rng_chain([(9, 0x2000, 64)]) + u8(6) + u8(0x70 // 4) + u32(0) + u8(8) + u8(0x60 // 2) +
          u8(2))


# ---- virtio_fs: features, queue sizes, then ops (0 request, 1 raw, 2 notify, 3 patch, 4 restart,
# 5 ack, 6 register, 7 config); see fuzz_virtio_fs.c ----

VFS_OPS = ['INIT', 'LOOKUP', 'GETATTR', 'FORGET', 'BATCH_FORGET', 'OPEN', 'READ', 'WRITE',
           'RELEASE', 'OPENDIR', 'READDIRPLUS', 'RELEASEDIR', 'STATFS', 'CREATE', 'MKDIR', 'UNLINK',
           'DESTROY', 'INTERRUPT']
HIPRIO, REQUEST = 1, 0


def vfs_req(op, args=b'', q=REQUEST, node=0, shape=0, delta=0, room=4096):
    return (u8(0) + u8(q) + u8(VFS_OPS.index(op)) + u8(node) + u8(shape) + u8(delta) + u16(room) +
            u8(len(args)) + args)


def gen_fs():
    sizes = 4 | 4 << 3  # 16 entries each
    read_in = lambda size=4096: u64(0) + u64(0) + u32(size) + u32(0) + u64(0) + u32(0) + u32(0)
    write('virtio_fs', 'linux-session',
          u8(3) + u8(sizes) + vfs_req('LOOKUP', b'file\0', room=256) +
          vfs_req('GETATTR', bytes(16), node=1, room=256) +
          vfs_req('OPEN', u32(0) + u32(0), node=1, room=32) +
          vfs_req('READ', read_in(), node=1, room=4096) +
          vfs_req('RELEASE', bytes(24), node=1, room=16) +
          vfs_req('FORGET', u64(1), q=HIPRIO, node=1, shape=4) +
          vfs_req('BATCH_FORGET', u32(1) + u32(0) + u64(1) + u64(1), q=HIPRIO, shape=4))
    write('virtio_fs', 'readdir-statfs',
          u8(2) + u8(2 | 3 << 3) + vfs_req('OPENDIR', u32(0) + u32(0), room=32) +
          vfs_req('READDIRPLUS', read_in(200), node=1, room=200) +
          vfs_req('RELEASEDIR', bytes(24), node=1, room=16) + vfs_req('STATFS', room=96) +
          vfs_req('DESTROY', room=16) + vfs_req('INTERRUPT', u64(5), room=16))
    write('virtio_fs', 'create-write-mkdir-unlink',
          u8(1) + u8(sizes) +
          vfs_req('CREATE', u32(0o101) + u32(0o100644) + u32(0o22) + u32(0) + b'new\0', room=160) +
          vfs_req('WRITE', u64(0) + u64(0) + u32(5) + u32(0) + u64(0) + u32(0) + u32(0) +
                  b'hello', node=1, shape=2, room=24) +
          vfs_req('MKDIR', u32(0o755) + u32(0) + b'd\0', room=160) +
          vfs_req('UNLINK', b'new\0', room=16) + vfs_req('LOOKUP', b'out\0', room=160) +
          vfs_req('OPEN', u32(0) + u32(0), node=3, room=32))
    chains = b''
    for shape in (16, 32, 2, 8, 4, 1, 1 | 2, 64):
        chains += vfs_req('GETATTR', bytes(16), shape=shape, room=128) + u8(4) + u8(3) + u8(sizes)
    chains += vfs_req('GETATTR', bytes(16), delta=50) + vfs_req('GETATTR', bytes(16), delta=0xec)
    chains += vfs_req('LOOKUP', b'file\0', shape=128) + vfs_req('LOOKUP', b'dir\0', q=HIPRIO,
                                                                shape=128) + u8(2) + u8(1)
    chains += vfs_req('LOOKUP', b'file\0', room=0) + vfs_req('LOOKUP', b'file\0', room=0xffff)
    write('virtio_fs', 'malformed-chains', u8(3) + u8(sizes) + chains)
    write('virtio_fs', 'config-reset-scribble',
          u8(4) + u8(0) + u8(7) + u8(0) + u8(2) + u8(7) + u8(36) + u8(2) + u8(7) + u8(32) + u8(3) +
          u8(7) + u8(40) + u8(2) + vfs_req('INIT', bytes(64), room=128) + u8(5) +
          u8(6) + u8(0x70 // 4) + u32(0) + u8(4) + u8(1) + u8(sizes) +
          u8(1) + u8(0) + u8(0) + u8(0) + u16(0) + u32(40) + u16(1) + u16(0) + u8(1) + u8(2) + u8(1) +
          u8(3) + u16(0x1000) + u8(8) + bytes(8) + vfs_req('STATFS', room=96))


# ---- fuse: flags, then requests (see fuzz_fuse.c) ----

FUSE_OPS = ['INIT', 'LOOKUP', 'FORGET', 'BATCH_FORGET', 'GETATTR', 'SETATTR', 'STATFS', 'ACCESS',
            'READLINK', 'SYMLINK', 'MKNOD', 'MKDIR', 'UNLINK', 'RMDIR', 'RENAME', 'RENAME2', 'LINK',
            'OPEN', 'CREATE', 'READ', 'WRITE', 'FLUSH', 'RELEASE', 'FSYNC', 'OPENDIR', 'READDIR',
            'READDIRPLUS', 'RELEASEDIR', 'FSYNCDIR', 'FALLOCATE', 'LSEEK', 'DESTROY', 'GETXATTR',
            'INTERRUPT']


def fuse_req(op, args=b'', node=0, patch=0, delta=0, split=0, room=4096):
    return (u8(FUSE_OPS.index(op)) + u8(node) + u8(patch) + u16(len(args)) + args + u8(delta) +
            u8(split) + u16(room))


def gen_fuse():
    lookup = fuse_req('LOOKUP', b'file\0')
    read_in = lambda fh=0, off=0, size=4096: u64(fh) + u64(off) + u32(size) + u32(0) + u64(0) + \
        u32(0) + u32(0)
    write('fuse', 'lookup-open-read-release',
          u8(0) + lookup + fuse_req('OPEN', u32(0) + u32(0), node=1) +
          fuse_req('READ', read_in(), node=1, patch=1, split=3) +
          fuse_req('RELEASE', u64(0) + u32(0) + u32(0) + u64(0), patch=1) +
          fuse_req('FORGET', u64(1), node=1))
    create = u32(2) + u32(0o100644) + u32(0) + u32(0) + b'new\0'
    wr = u64(0) + u64(0) + u32(5) + u32(0) + u64(0) + u32(0) + u32(0) + b'hello'
    write('fuse', 'create-write-setattr-rename',
          u8(0) + fuse_req('CREATE', create) + fuse_req('WRITE', wr, patch=1) +
          fuse_req('SETATTR', u32(8) + u32(0) + u64(0) + u64(2) + bytes(64), node=1) +
          fuse_req('RENAME', u64(1) + b'new\0moved\0') +
          fuse_req('RENAME2', u64(1) + u32(2) + u32(0) + b'moved\0file\0'))
    write('fuse', 'mkdir-symlink-mknod-link-unlink',
          u8(0) + fuse_req('MKDIR', u32(0o755) + u32(0) + b'd\0') +
          fuse_req('SYMLINK', b's\0../outside/sentinel\0', node=1) +
          fuse_req('MKNOD', u32(0o10644) + u32(0) + u32(0) + u32(0) + b'fifo\0', node=1) +
          fuse_req('MKNOD', u32(0o20644) + u32(0x103) + u32(0) + u32(0) + b'null\0') +
          fuse_req('LOOKUP', b's\0', node=1) + fuse_req('READLINK', node=2) +
          fuse_req('LINK', u64(0) + b'h\0', patch=2) + fuse_req('UNLINK', b'h\0') +
          fuse_req('RMDIR', b'd\0'))
    write('fuse', 'readdirplus-paged',
          u8(0) + fuse_req('OPENDIR', u32(0) + u32(0)) +
          fuse_req('READDIRPLUS', read_in(size=200), patch=1, room=200) +
          fuse_req('READDIR', read_in(off=1, size=100), patch=1, room=100) +
          fuse_req('FSYNCDIR', u64(0) + u32(0) + u32(0), patch=1) +
          fuse_req('RELEASEDIR', bytes(24), patch=1))
    write('fuse', 'hostile-names-readonly',
          u8(1) + fuse_req('LOOKUP', b'..\0') + fuse_req('LOOKUP', b'../outside\0') +
          fuse_req('LOOKUP', b'out\0') + fuse_req('LOOKUP', b'sentinel\0', node=1) +
          fuse_req('LOOKUP', b'secret\0') + fuse_req('OPEN', u32(2) + u32(0), node=2) +
          fuse_req('CREATE', u32(0o1001) + u32(0o100644) + u32(0) + u32(0) + b'secret\0') +
          fuse_req('UNLINK', b'a/b\0') + fuse_req('MKDIR', u32(0o755) + u32(0) + b'x' * 300 +
                                                   b'\0'))
    write('fuse', 'caps-statfs-access-lseek-fallocate',
          u8(2) + b''.join(fuse_req('LOOKUP', b'file\0') for _ in range(3)) +
          fuse_req('STATFS') + fuse_req('ACCESS', u32(4) + u32(0)) +
          fuse_req('OPEN', u32(2) + u32(0), node=1) +
          fuse_req('LSEEK', u64(0) + u64(0) + u32(3) + u32(0), patch=1) +
          fuse_req('FALLOCATE', u64(0) + u64(0) + u64(1 << 40) + u32(0) + u32(0), patch=1) +
          fuse_req('FSYNC', u64(0) + u32(1) + u32(0), patch=1) +
          fuse_req('FLUSH', bytes(24), patch=1) + fuse_req('DESTROY'))
    write('fuse', 'malformed', u8(4) + fuse_req('GETATTR', bytes(16)) +
          fuse_req('INIT', u32(7) + u32(38) + u32(0) + u32(0)) +
          fuse_req('GETATTR', bytes(16), delta=0x80) + fuse_req('GETATTR', bytes(2)) +
          fuse_req('READ', read_in(fh=0x123456789), room=0xffff) +
          fuse_req('BATCH_FORGET', u32(1000) + u32(0) + u64(1) + u64(5)) +
          u8(200) + u32(0xffffffff) + u8(0) + u8(0) + u16(0) + u8(0) + u8(0) + u16(16))


def main():
    if os.path.isdir(TOP):
        shutil.rmtree(TOP)
    gen_virtq()
    gen_blk()
    gen_mmio()
    gen_net()
    gen_net_stream()
    gen_vsock()
    gen_fs()
    gen_rng()
    gen_serial()
    gen_bus()
    gen_loader()
    gen_fdt()
    gen_exit()
    gen_fuse()
    for t in sorted(os.listdir(TOP)):
        print(f'{t}: {len(os.listdir(os.path.join(TOP, t)))} seeds', file=sys.stderr)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Logs the emulated host's translation cache while a rig runs (rig.sh's BENCH_JIT=1).

Usage: jitlog.py MONITOR_SOCKET LOG
       jitlog.py --runs CONSOLE_LOG LOG

Asks the host qemu's monitor `info jit` every half second and writes one line each: the time
(seconds since $T0, as the console log's timestamps; else since the epoch), the translated
blocks, the code generated so far and the number of times the cache was flushed. A flush makes
every guest's code be translated again, so a boot during which one happens is slower for a
reason that is neither VMM's.

With --runs, reads the rig's console log (host-bench.sh's "bench: jit start|end TAG" lines, same
clock) and prints, for each VM run, its seconds, the code translated meanwhile and the flushes.
"""
import os
import re
import socket
import sys
import time

PROMPT = b"(qemu) "


def read_reply(sock):
    reply = b""
    while not reply.endswith(PROMPT):
        data = sock.recv(65536)
        if not data:
            raise EOFError
        reply += data
    return reply.decode(errors="replace")


def figure(pattern, text):
    match = re.search(pattern, text)
    return match.group(1) if match else "?"


def samples(log):
    rows = []
    for line in open(log):
        fields = line.split()
        values = dict(f.split("=") for f in fields[1:])
        if "?" not in values.values():
            rows.append((float(fields[0]), int(values["code_bytes"]), int(values["flushes"])))
    return rows


def at(rows, when):
    """(code bytes, flushes) at WHEN, interpolated between the samples around it."""
    before = rows[0]
    for row in rows:
        if row[0] > when:
            if row[2] == before[2] and row[0] > before[0]:
                share = (when - before[0]) / (row[0] - before[0])
                return before[1] + share * (row[1] - before[1]), before[2]
            break
        before = row
    return before[1], before[2]


def per_run(console, log):
    rows = samples(log)
    if not rows:
        sys.exit("jitlog: no samples in " + log)
    starts = {}
    print("run seconds code_MB flushes")
    for line in open(console):
        match = re.match(r"\[\s*([\d.]+)\] bench: jit (start|end) (\S+)", line)
        if not match:
            continue
        when, what, tag = float(match.group(1)), match.group(2), match.group(3)
        if what == "start":
            starts[tag] = when
        elif tag in starts:
            started = starts.pop(tag)
            (code0, flushes0), (code1, flushes1) = at(rows, started), at(rows, when)
            # code_bytes restarts from zero at a flush: count the growth since it
            grown = code1 - code0 if flushes1 == flushes0 else code1
            print("%s %.2f %.1f %d" % (tag, when - started, grown / 1e6, flushes1 - flushes0))


def main():
    if sys.argv[1] == "--runs":
        per_run(sys.argv[2], sys.argv[3])
        return
    path, log = sys.argv[1], sys.argv[2]
    t0 = float(os.environ.get("T0", "0"))
    deadline = time.time() + 600
    while not os.path.exists(path):
        if time.time() > deadline:
            sys.exit("jitlog: no monitor at " + path)
        time.sleep(0.2)
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    sock.settimeout(30)
    with open(log, "a") as out:
        try:
            read_reply(sock)
            while True:
                sock.sendall(b"info jit\n")
                text = read_reply(sock)
                out.write("%.3f tbs=%s code_bytes=%s flushes=%s\n" % (
                    time.time() - t0, figure(r"TB count\s+(\d+)", text),
                    figure(r"gen code size\s+(\d+)", text),
                    figure(r"TB flush count\s+(\d+)", text)))
                out.flush()
                time.sleep(0.5)
        except (EOFError, OSError):
            pass  # the host has shut down


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Drives `make demo` (scripts/demo.sh) as a user at a terminal would, through a pseudo-terminal:
waits for the login prompt, logs in as root, runs `uname -a`, types Ctrl-A x, and checks that
ignition and everything around it exits with status 0. The transcript goes to
$E2E_OUT/demo-test.log (default build-demo/). Exit status 0 when every step passed."""

import os
import pty
import re
import select
import socket
import sys
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.environ.get("E2E_OUT", os.path.join(TOP, "build-demo"))


class Term:
    def __init__(self, argv, log_path):
        self.t0 = time.monotonic()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvp(argv[0], argv)
        self.buf = b""
        self.pos = 0  # expect() searches from here on
        self.log = open(log_path, "wb")
        self.status = None

    def _read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.fd, 4096)
        except OSError:  # EIO: the other side closed
            data = b""
        if not data:
            return False
        self.buf += data
        self.log.write(data)
        self.log.flush()
        return True

    def expect(self, what, pattern, timeout, give_up=None):
        """Waits for pattern; None on timeout, EOF, or when give_up matches first."""
        start = time.monotonic()
        rx = re.compile(pattern.encode())
        bad = re.compile(give_up.encode()) if give_up else None
        while True:
            m = rx.search(self.buf, self.pos)
            if not m and bad and bad.search(self.buf, self.pos):
                print(f"demo-test: {what}: gave up: {bad.search(self.buf, self.pos).group(0)!r}")
                return None
            if m:
                self.pos = m.end()
                took = time.monotonic() - start
                print(f"demo-test: {what}: after {took:.1f} s", flush=True)
                return m
            left = start + timeout - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.5)):
                return None

    def send(self, data):
        os.write(self.fd, data)

    def wait(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self._read(0.2)  # keep draining so the child never blocks on output
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
        return None

    def kill(self):
        try:
            os.killpg(self.pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)


def main():
    os.makedirs(OUT, exist_ok=True)
    log = os.path.join(OUT, "demo-test.log")
    # a free port for the demo's forward to the guest's web server
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ["DEMO_HTTP_PORT"] = str(port)
    term = Term([os.path.join(TOP, "scripts", "demo.sh")], log)
    fails = []

    def step(name, ok):
        print(f"demo-test: {'PASS' if ok else 'FAIL'} {name}", flush=True)
        if not ok:
            fails.append(name)
        return ok

    # the VMM exiting or the host stopping before the prompt ends the wait at once
    stop = r"demo: VMM exit \d+|Kernel panic|reboot: Power down|e2e: error"
    ok = step("login prompt", term.expect("login prompt", r"login: ", 300, stop))
    if ok:
        print(f"demo-test: login prompt {time.monotonic() - term.t0:.1f} s after make demo started")
        term.send(b"root\r")
        ok = step("shell prompt", term.expect("shell prompt", r"ignition:/\S*# ", 60, stop))
    if ok:
        term.send(b"uname -a\r")
        ok = step("uname -a", term.expect("uname -a", r"Linux ignition \S+ .*aarch64", 60, stop))
    if ok:
        # the forwarded port reaches busybox httpd in the guest (port 80) through the VMM's
        # user-mode network
        url = f"http://127.0.0.1:{port}/"
        body = b""
        for _ in range(10):
            try:
                with urllib.request.urlopen(url, timeout=30) as r:
                    body = r.read()
                break
            except OSError as e:
                print(f"demo-test: {url}: {e}", flush=True)
                term._read(3)
        step(f"{url} answers from the guest's web server",
             b"Hello from the ignition guest" in body)
    if ok:
        term.send(b"\x01x")  # Ctrl-A x
        status = term.wait(120)
        step(f"make demo exits 0 after Ctrl-A x (status {status})", status == 0)
        step("the VMM inside exited 0", term.expect("VMM exit", r"demo: VMM exit 0", 1))
    if term.status is None:
        term.kill()
    print(f"demo-test: transcript {log}")
    print(f"demo-test: RESULT: {'FAIL' if fails else 'PASS'} ({time.monotonic() - term.t0:.1f} s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

"""Processes of a run on loopback: the modem simulator (with the eUICC simulator and an isolated
operator network), and the device application on the Unix port. Shared by the demo and the
integration tests; every process is started in its own group and stopped by stop()."""

import os
import re
import signal
import subprocess
import sys
import threading
import queue
import time

from host_tools.control_plane import netsim

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = os.environ.get("MICROPYTHON", os.path.join(ROOT, "build", "bin", "micropython"))


class Proc:
    """A child process whose output lines are collected by a thread; expect() waits for one."""

    def __init__(self, name, argv, env=None, echo=None):
        self.name = name
        self.lines = []
        self.echo = echo
        self._q = queue.Queue()
        self.proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True, bufsize=0)
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        try:
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines.append(line)
                self._q.put(line)
                if self.echo is not None:
                    self.echo(self.name, line)
        except (OSError, ValueError):
            pass
        self._q.put(None)

    def expect(self, pattern, timeout):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("%s: no line matching %r within %.0f s" % (self.name, pattern, timeout))
            try:
                line = self._q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise EOFError("%s exited (rc=%s) before %r" % (self.name, self.proc.poll(), pattern))
            m = rx.search(line)
            if m:
                return m

    def send(self, text):
        try:
            self.proc.stdin.write(text.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def alive(self):
        return self.proc.poll() is None

    def stop(self, grace=3.0):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=grace)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=grace)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self._t.join(timeout=2)

    def output(self, last=200):
        return "\n".join(self.lines[-last:])

    def grep(self, pattern):
        rx = re.compile(pattern)
        return [m for m in (rx.search(x) for x in list(self.lines)) if m]


def start_modem(run_dir, dialect="bg95", isolate=netsim.ISOLATED_PLMN, echo=None):
    """Modem simulator on a free TCP port; returns (Proc, port)."""
    card = os.path.join(run_dir, "euicc.json")
    netsim.seed_card(card)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")])
    p = Proc("modem", [sys.executable, "-u", "-m", "host_tools.modem_sim", "--dialect", dialect,
                       "--tcp", "0", "--euicc-state", card] + netsim.modem_argv(isolate),
             env=env, echo=echo)
    try:
        port = int(p.expect(r"modem_sim: tcp 127\.0\.0\.1:(\d+)", 30).group(1))
    except BaseException:
        p.stop()        # the caller never gets it: do not leave it running
        raise
    return p, port


_NAMES = ("import ops.device, ops.loop, ops.facts, ops.context\n"
          "for m in (ops.device, ops.loop, ops.facts, ops.context, ops.device.Device):\n"
          "    print(sorted(dir(m)))")


def frozen_has_ops():
    """Whether the built image carries this firmware: ops.device frozen in, and the same names
    in each module as the source tree has (a frozen copy older than the tree would run the
    demo on stale code; then the source is used)."""
    out = []
    for path in (".frozen", os.pathsep.join([os.path.join(ROOT, "firmware"), ".frozen"])):
        try:
            r = subprocess.run([MICROPYTHON, "-c", _NAMES], env=dict(os.environ, MICROPYPATH=path),
                               cwd=ROOT, capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return False
        if r.returncode != 0:
            return False
        out.append(r.stdout)
    return out[0] == out[1]


def start_device(cp, run_dir, modem_port, ep, esipa="https", proof_window=15, frozen=False,
                 bootstrap=True, heapsize="2M", echo=None, extra=()):
    """The firmware's device application (micropython -m ops) against the control plane."""
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen" if frozen else os.pathsep.join(
        [os.path.join(ROOT, "firmware"), ".frozen"])
    argv = [MICROPYTHON, "-X", "heapsize=%s" % heapsize, "-m", "ops",
            "--modem", "tcp:127.0.0.1:%d" % modem_port, "--dialect", "quectel_bg95",
            "--ep", ep, "--eim", cp.eim_url, "--ca", cp.ca_der_path,
            "--state", os.path.join(run_dir, "device-" + ep), "--esipa", esipa,
            "--proof-window", str(proof_window), "--enable-timeout", "20",
            "--poll-ms", "1000,3000", "--lifetime", "30"]
    argv += ["--bootstrap", cp.bootstrap_uri] if bootstrap else ["--server", cp.lwm2m_uri]
    argv += list(extra)
    return Proc("device", argv, env=env, echo=echo)

"""CPython helpers for the modem integration tests: start the modem simulator (with the
fake card), run a device scenario on the Unix port, read simulator counters, UDP echo."""

import json
import os
import socket
import threading

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
FAKECARD = os.path.join(HERE, "modem_fakecard.py") + ":Card"
DIALECTS = ("nrf91_slm", "bg95", "sim7080", "sara_r5")


def start_sim(processes, dialect, *extra, card=FAKECARD, pty=False):
    """The simulator process and the link spec the firmware opens (tcp:HOST:PORT or a pty).
    card=None: the eUICC simulator's Card (host_tools/euicc_sim/card.py)."""
    args = ["--dialect", dialect] + (["--card", card] if card else [])
    args += (["--pty"] if pty else ["--tcp", "0"]) + list(extra)
    sim = harness.start_python("host_tools.modem_sim", args, name="modem_sim")
    processes.append(sim)
    m = sim.expect(r"modem_sim: (tcp|pty) (\S+)", timeout=20)
    link = "tcp:" + m.group(2) if m.group(1) == "tcp" else m.group(2)
    return sim, link


def control(sim, line):
    sim.send_line(line)
    return sim.expect(r"^(ok|error) ", timeout=10).string


def sim_stats(sim):
    sim.send_line("stats")
    line = sim.expect(r"^ok stats ", timeout=10).string
    return json.loads(line[len("ok stats "):])


def start_device(processes, dialect, link, scenario, *args):
    dev = harness.start_micropython("modem_devapp", [dialect, link, scenario] + [str(a) for a in args],
                                    heapsize="256K", extra_path=[HERE], name="device")
    processes.append(dev)
    return dev


def result(dev, timeout=40):
    m = dev.expect(r"^(RESULT|FAIL) (.*)", timeout=timeout)
    assert m.group(1) == "RESULT", "device failed: %s\n%s" % (m.group(2), dev.output())
    return json.loads(m.group(2))


def run_device(processes, dialect, link, scenario, *args, timeout=40):
    return result(start_device(processes, dialect, link, scenario, *args), timeout)


class UdpEcho:
    """A host UDP socket on loopback that sends every datagram back; stops with close()."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen = 0
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.seen += 1
            self.sock.sendto(data, addr)

    def close(self):
        self._stop = True
        self._t.join(timeout=2)
        self.sock.close()

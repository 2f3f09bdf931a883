"""Rig for the CoAP-over-DTLS tests: the test PKI, a libcoap DTLS server (OpenSSL or GnuTLS
build) with PKI options on loopback, and the MicroPython device driven line by line."""

import hashlib
import os
import socket
import subprocess
import time

import harness
from host_tools import dtls_pki

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = {"openssl": "/usr/bin/coap-server-openssl", "gnutls": "/usr/bin/coap-server-gnutls"}
MOD = 251


def pattern_sha(size):
    """First 16 hex digits of SHA-256 over the device's body pattern (byte i = i % 251)."""
    return hashlib.sha256(bytes(i % MOD for i in range(size))).hexdigest()[:16]


def make_pki(directory):
    return dtls_pki.make(str(directory))


def _udp_bound(port, host="127.0.0.1"):
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


def free_port_pair(host="127.0.0.1"):
    """A port P with P+1 also free: libcoap serves coap on P and coaps on P+1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((host, 0))
            p = s.getsockname()[1]
        if p < 65535 and not _udp_bound(p + 1, host):
            return p
    raise RuntimeError("no free UDP port pair on %s" % host)


class CoapServer:
    """coap-server-<tls> -p P: plain CoAP on P, DTLS on P+1 (`.dtls_port`); -d lets PUT create
    resources that GET then returns, block-wise either way."""

    def __init__(self, pki, flavour="openssl", port=None, require_client_cert=True,
                 host="127.0.0.1"):
        self.pki = pki
        self.flavour = flavour
        self.host = host
        self.port = port or free_port_pair(host)
        self.dtls_port = self.port + 1
        self.require_client_cert = require_client_cert
        self.proc = None

    def start(self, timeout=10.0):
        p = self.pki
        argv = [SERVERS[self.flavour], "-A", self.host, "-p", str(self.port), "-d", "10",
                "-v", "4", "-c", p.path("server.pem"), "-j", p.path("server.key")]
        argv += ["-C", p.path("ca.pem")] if self.require_client_cert else ["-n"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while not _udp_bound(self.dtls_port, self.host):
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s" % (argv[0], self.proc.returncode))
            if time.monotonic() > deadline:
                raise TimeoutError("%s did not bind port %d" % (argv[0], self.dtls_port))
            time.sleep(0.05)
        return self

    def stop(self, sig=15):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=5)
        self.proc = None


class Device:
    """The MicroPython DTLS client (tests/coap_dtls/coap_dtls_device.py)."""

    def __init__(self, processes, pki, port, *extra, heapsize="256K", host="127.0.0.1"):
        self.proc = harness.start_micropython(
            "coap_dtls_device", [host, port, pki.directory] + [str(a) for a in extra],
            heapsize=heapsize, name="dtls-device", extra_path=[HERE])
        processes.append(self.proc)
        self.proc.expect(r"^dev: ready$", timeout=15)

    def run(self, command, result=r"^dev: (?!ready)", timeout=30):
        """Send one command; return the text of its result line (`dev: ...`)."""
        self.proc.send_line(command)
        m = self.proc.expect(result, timeout=timeout)
        return m.string[len("dev: "):]

    def stats(self):
        text = self.run("stats", r"^dev: stats ")
        return dict((k, int(v)) for k, v in (w.split("=") for w in text.split()[1:]))

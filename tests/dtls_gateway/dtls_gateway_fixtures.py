"""Rig for the DTLS gateway tests: the test PKI plus a client certificate from a rogue CA, a
small aiocoap backend on its own thread, libcoap's coap-client-openssl, and a hand-built DTLS
1.2 ClientHello for the tests that stop inside the handshake."""

import asyncio
import datetime
import os
import socket
import struct
import subprocess
import threading

import aiocoap
import aiocoap.resource as resource
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import harness
from host_tools import dtls_pki
from host_tools.dtls_gateway import Gateway

COAP_CLIENT = "/usr/bin/coap-client-openssl"
CLIENT_CN = dtls_pki.CLIENT_CN
ROGUE_CN = "urn:dev:ops:rogue-client"


def make_pki(directory):
    """The project's test PKI, plus rogue_client.pem/.key: issued by a CA named like the trusted
    one ("Test DTLS CA") but with another key, so only the signature tells them apart."""
    pki = dtls_pki.make(str(directory))
    if not os.path.exists(pki.path("rogue_client.key")):
        ca_name = x509.load_pem_x509_certificate(pki.read("ca.pem")).subject
        rogue_key = ec.generate_private_key(ec.SECP256R1())
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        leaf = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ROGUE_CN)]))
                .issuer_name(ca_name).public_key(leaf_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .sign(rogue_key, hashes.SHA256()))
        with open(pki.path("rogue_client.pem"), "wb") as f:
            f.write(leaf.public_bytes(serialization.Encoding.PEM))
        with open(pki.path("rogue_client.key"), "wb") as f:
            f.write(leaf_key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return pki


def gateway(pki, backend_port, **kw):
    """An in-process gateway (start it with `with`) on a free loopback port; log in `.lines`."""
    lines = []
    gw = Gateway(pki.path("server.pem"), pki.path("server.key"), pki.path("ca.pem"),
                 ("127.0.0.1", backend_port), log=lines.append, verbose=True, **kw)
    gw.lines = lines
    return gw


# -- the plain CoAP backend ---------------------------------------------------------------

class _Recorded(resource.Resource):
    def __init__(self, backend, path):
        super().__init__()
        self.backend = backend
        self.path = path

    async def render(self, request):
        self.backend.requests.append((str(request.code), self.path,
                                      request.remote.sockaddr[1], request.payload))
        return await super().render(request)


class _WhoAmI(_Recorded):
    async def render_get(self, request):
        return aiocoap.Message(payload=str(request.remote.sockaddr[1]).encode())


class _Store(_Recorded):
    async def render_get(self, request):
        return aiocoap.Message(payload=self.backend.stored)

    async def render_put(self, request):
        self.backend.stored = request.payload
        return aiocoap.Message(code=aiocoap.CHANGED)


class _Observed(_Recorded, resource.ObservableResource):
    async def render_get(self, request):
        return aiocoap.Message(payload=self.backend.observed)


class Backend:
    """aiocoap server on 127.0.0.1 (free port) in a thread with its own loop: GET /whoami
    answers the requester's source port; GET/PUT /store; observable GET /obs, changed with
    notify(). `.requests` lists (code, path, source port, payload) of everything received."""

    def __init__(self):
        self.port = harness.free_port()
        self.requests = []
        self.stored = b""
        self.observed = b"v0"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._ctx = None

    def _call(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self):
        site = resource.Site()
        self._obs = _Observed(self, "/obs")
        for res in (_WhoAmI(self, "/whoami"), _Store(self, "/store"), self._obs):
            site.add_resource([res.path[1:]], res)
        self._ctx = await aiocoap.Context.create_server_context(
            site, bind=("127.0.0.1", self.port), transports=["udp6"])

    def start(self):
        self._thread.start()
        self._call(self._start())
        return self

    def sources(self, path=None):
        return {port for _, p, port, _ in self.requests if path in (None, p)}

    def notify(self, payload):
        def change():
            self.observed = payload
            self._obs.updated_state()
        self._loop.call_soon_threadsafe(change)

    def request(self, port, path, timeout=8):
        """The backend's own GET to whoever is at 127.0.0.1:port -> (code, payload)."""
        async def go():
            msg = aiocoap.Message(code=aiocoap.GET, uri="coap://127.0.0.1:%d%s" % (port, path))
            resp = await asyncio.wait_for(self._ctx.request(msg).response, timeout)
            return str(resp.code), resp.payload
        return self._call(go(), timeout + 2)

    def stop(self):
        if self._ctx is not None:
            self._call(self._ctx.shutdown())
            self._ctx = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


# -- coap-client-openssl ------------------------------------------------------------------

def client_argv(pki, port, path, *extra, cert="client", host="127.0.0.1"):
    """coap-client-openssl towards the gateway; cert=None: no client certificate."""
    argv = [COAP_CLIENT, "-B", "5", "-w", "-C", pki.path("ca.pem")]
    if cert:
        argv += ["-c", pki.path(cert + ".pem"), "-j", pki.path(cert + ".key")]
    return argv + list(extra) + ["coaps://%s:%d%s" % (host, port, path)]


def coap_client(pki, port, path, *extra, cert="client", host="127.0.0.1", timeout=10):
    """One request; returns the payload lines printed (libcoap exits 0 even on failure)."""
    out = subprocess.run(client_argv(pki, port, path, *extra, cert=cert, host=host),
                         capture_output=True, text=True, timeout=timeout, start_new_session=True)
    return out.stdout.strip(), out.stderr


def observer(processes, pki, port, path, seconds, *extra):
    """coap-client-openssl -s SECONDS PATH as a collected process (stopped at teardown)."""
    proc = harness.DeviceProcess(client_argv(pki, port, path, "-s", str(seconds), *extra),
                                 name="coap-client")
    processes.append(proc)
    return proc


# -- a DTLS client that stops inside the handshake ---------------------------------------

_SUITES = (0xC0AE, 0xC02B)  # ECDHE_ECDSA_WITH_AES_128_CCM_8, ..._AES_128_GCM_SHA256
_EXTENSIONS = (struct.pack(">HHHH", 0x000A, 4, 2, 0x0017)       # supported_groups: secp256r1
               + struct.pack(">HHB", 0x000B, 2, 1) + b"\x00"     # ec_point_formats: uncompressed
               + struct.pack(">HHHH", 0x000D, 4, 2, 0x0403))     # ecdsa_secp256r1_sha256


def client_hello(random, cookie=b"", seq=0):
    """A DTLS 1.2 ClientHello record: message_seq and record sequence number `seq`."""
    body = (b"\xfe\xfd" + random + b"\x00" + bytes([len(cookie)]) + cookie
            + struct.pack(">H", 2 * len(_SUITES)) + b"".join(struct.pack(">H", s) for s in _SUITES)
            + b"\x01\x00" + struct.pack(">H", len(_EXTENSIONS)) + _EXTENSIONS)
    n = len(body).to_bytes(3, "big")
    hs = b"\x01" + n + struct.pack(">H", seq) + b"\x00\x00\x00" + n + body
    return b"\x16\xfe\xfd\x00\x00" + seq.to_bytes(6, "big") + struct.pack(">H", len(hs)) + hs


def handshake_types(datagram):
    """Handshake message types in the epoch-0 handshake records of one datagram."""
    types, off = [], 0
    while off + 13 <= len(datagram):
        length = struct.unpack_from(">H", datagram, off + 11)[0]
        if datagram[off] == 22 and datagram[off + 3:off + 5] == b"\0\0":
            types.append(datagram[off + 13])
        off += 13 + length
    return types


class RawClient:
    """A UDP socket that speaks just enough DTLS to pass the cookie exchange."""

    def __init__(self, port, random=None):
        self.dest = ("127.0.0.1", port)
        self.random = random or os.urandom(32)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(3)
        self.port = self.sock.getsockname()[1]

    def send_hello(self, cookie=b"", seq=0):
        self.sock.sendto(client_hello(self.random, cookie, seq), self.dest)

    def recv(self, timeout=3):
        self.sock.settimeout(timeout)
        return self.sock.recv(65535)

    def cookie_exchange(self):
        """ClientHello, HelloVerifyRequest, ClientHello with the cookie; returns the first
        datagram of the server's answer (ServerHello ...)."""
        self.send_hello()
        hvr = self.recv()
        assert handshake_types(hvr) == [3], hvr.hex()
        cookie = hvr[13 + 12 + 3:13 + 12 + 3 + hvr[13 + 12 + 2]]
        self.send_hello(cookie, seq=1)
        return self.recv()

    def close(self):
        self.sock.close()

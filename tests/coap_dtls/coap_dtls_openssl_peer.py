"""A minimal CoAP-over-DTLS server peer on OpenSSL (pyOpenSSL's DTLS over memory BIOs), for
the one thing libcoap's coap-server never does: send a request of its own to the client over
the client's session, the way an LwM2M server reads a resource.

    python3 coap_dtls_openssl_peer.py PORT PKI_DIR

Answers every CON request with a piggybacked 2.05 "peer saw /<path>"; after answering the
first one it sends CON GET /dev/name to the client and prints the client's answer:
    peer: listening on PORT
    peer: session up with <addr> <cipher>
    peer: client request GET /<path>
    peer: client answered 2.05 <payload>
Needs pyOpenSSL with DTLS (Debian's python3-openssl 23.0 has it)."""

import os
import select
import socket
import struct
import sys
import time

from OpenSSL import SSL

_LIMIT_S = 60  # the peer never outlives a test


def _say(*a):
    print("peer:", *a, flush=True)


def _options(data, off):
    """(list of (number, value), payload offset) of a CoAP message from `off` (RFC 7252 §3.1)."""
    opts, num = [], 0
    while off < len(data) and data[off] != 0xFF:
        b = data[off]
        off += 1
        delta, length = b >> 4, b & 15
        if delta == 13:
            delta, off = data[off] + 13, off + 1
        elif delta == 14:
            delta, off = struct.unpack_from(">H", data, off)[0] + 269, off + 2
        if length == 13:
            length, off = data[off] + 13, off + 1
        elif length == 14:
            length, off = struct.unpack_from(">H", data, off)[0] + 269, off + 2
        num += delta
        opts.append((num, data[off:off + length]))
        off += length
    return opts, (off + 1 if off < len(data) else off)


def _code(c):
    return "%d.%02d" % (c >> 5, c & 31)


def main(port, pki):
    ctx = SSL.Context(SSL.DTLS_METHOD)
    ctx.use_certificate_file(os.path.join(pki, "server.pem"))
    ctx.use_privatekey_file(os.path.join(pki, "server.key"))
    ctx.load_verify_locations(os.path.join(pki, "ca.pem"))
    ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *a: a[-1])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    _say("listening on", port)
    conn = SSL.Connection(ctx, None)
    conn.set_accept_state()
    peer = None
    up = False
    state = {"mid": 0x7000, "asked": False}
    end = time.monotonic() + _LIMIT_S
    while time.monotonic() < end:
        r, _, _ = select.select([sock], [], [], 0.2)
        if r:
            data, addr = sock.recvfrom(4096)
            if peer is None:
                peer = addr
            if addr != peer:
                continue
            conn.bio_write(data)
        try:
            if not up:
                conn.do_handshake()
                up = True
                _say("session up with %s:%d %s" % (peer[0], peer[1], conn.get_cipher_name()))
            while True:
                _on_message(conn, conn.recv(2048), state)
        except SSL.WantReadError:
            pass
        except SSL.ZeroReturnError:
            _say("client closed the session")
            return 0
        while True:
            try:
                out = conn.bio_read(4096)
            except SSL.WantReadError:
                break
            sock.sendto(out, peer)
    _say("time limit reached")
    return 1


def _on_message(conn, msg, state):
    ver_t_tkl, code, msg_mid = msg[0], msg[1], struct.unpack_from(">H", msg, 2)[0]
    mtype, tkl = (ver_t_tkl >> 4) & 3, ver_t_tkl & 15
    token = msg[4:4 + tkl]
    opts, pay = _options(msg, 4 + tkl)
    if 1 <= code <= 31:  # a request from the client
        path = "/" + "/".join(v.decode() for n, v in opts if n == 11)
        _say("client request %s %s" % ({1: "GET", 2: "POST", 3: "PUT", 4: "DELETE"}.get(code, code), path))
        body = ("peer saw %s" % path).encode()
        if mtype == 0:
            conn.send(bytes([0x60 | tkl, 0x45]) + struct.pack(">H", msg_mid) + token + b"\xff" + body)
        if not state["asked"]:
            # Now the server's own request, over the same session (Uri-Path "dev", "name").
            state["asked"] = True
            state["mid"] += 1
            conn.send(bytes([0x42, 0x01]) + struct.pack(">H", state["mid"]) + b"\xbe\xef"
                      + b"\xb3dev" + b"\x04name")
    elif code >= 64 and token == b"\xbe\xef":
        _say("client answered %s %s" % (_code(code), msg[pay:].decode(errors="replace")))


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), sys.argv[2]))

"""A bare UDP CoAP client for tests that must control every byte (tokens, MIDs, Observe=1,
malformed datagrams). It uses the firmware codec under CPython only to build and read messages."""

import socket

from coap import numbers as N
from coap.message import DecodeError, Message


class RawClient:
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.mid = 0x1000

    def close(self):
        self.sock.close()

    def next_mid(self):
        self.mid = (self.mid + 1) & 0xFFFF
        return self.mid

    def send(self, msg_or_bytes):
        data = msg_or_bytes if isinstance(msg_or_bytes, (bytes, bytearray)) else msg_or_bytes.encode()
        self.sock.sendto(data, self.addr)

    def recv(self):
        """Next datagram from the device -> Message (raises socket.timeout if none in time)."""
        while True:
            data, addr = self.sock.recvfrom(2048)
            if addr[1] != self.addr[1]:
                continue
            try:
                return Message.decode(data)
            except DecodeError:
                raise AssertionError("device sent an undecodable datagram: %s" % data.hex())

    def ack(self, msg):
        if msg.mtype == N.CON:
            self.send(Message(N.ACK, N.EMPTY, msg.mid))

    def request(self, code, path, token, options=(), mtype=N.CON):
        """Send one request; return (its response, datagrams that came before it)."""
        m = Message(mtype, code, self.next_mid(), token, list(options)).set_uri_path(path)
        self.send(m)
        others = []
        while True:
            r = self.recv()
            if r.token == token and r.code != N.EMPTY and (r.mtype != N.ACK or r.mid == m.mid):
                self.ack(r)
                return r, others
            self.ack(r)
            others.append(r)

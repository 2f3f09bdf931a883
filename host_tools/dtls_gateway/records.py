"""DTLS 1.2 record framing, read by offset (RFC 6347 §4.1, §4.2.2): only what the gateway needs
to route datagrams and to cut OpenSSL's output into datagrams. No I/O, no crypto."""

import struct

RECORD_HEADER = 13  # type, version(2), epoch(2), sequence number(6), length(2)
HANDSHAKE_HEADER = 12  # msg_type, length(3), message_seq(2), fragment_offset(3), fragment_length(3)
CT_HANDSHAKE = 22
HT_CLIENT_HELLO = 1
_RANDOM_AT = RECORD_HEADER + HANDSHAKE_HEADER + 2  # after client_version
_RANDOM_LEN = 32


def record_spans(data):
    """(start, end) of each whole record in `data`; a truncated tail is left out."""
    spans = []
    off, n = 0, len(data)
    while off + RECORD_HEADER <= n:
        end = off + RECORD_HEADER + struct.unpack_from(">H", data, off + 11)[0]
        if end > n:
            break
        spans.append((off, end))
        off = end
    return spans


def datagrams(data, mtu):
    """Pack the records OpenSSL wrote into datagrams of at most `mtu` bytes, whole records
    only and in order (RFC 6347 §4.1.1 allows several records per datagram). A record longer
    than `mtu` goes alone."""
    out = []
    start = cur = None
    for s, e in record_spans(data):
        if start is not None and e - start > mtu:
            out.append(bytes(data[start:cur]))
            start = None
        if start is None:
            start = s
        cur = e
    if start is not None:
        out.append(bytes(data[start:cur]))
    return out


def client_hello_random(datagram):
    """The client random if `datagram` begins with an epoch-0 handshake record holding the first
    fragment of a ClientHello, else None. (A ClientHello that starts a new association; its
    random tells a retransmitted or duplicated one from a new one, RFC 6347 §4.2.8.)"""
    if len(datagram) < _RANDOM_AT + _RANDOM_LEN:
        return None
    if datagram[0] != CT_HANDSHAKE or datagram[3] != 0 or datagram[4] != 0:
        return None
    hs = RECORD_HEADER
    if datagram[hs] != HT_CLIENT_HELLO or datagram[hs + 6:hs + 9] != b"\0\0\0":
        return None
    return bytes(datagram[_RANDOM_AT:_RANDOM_AT + _RANDOM_LEN])

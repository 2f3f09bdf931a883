"""RFC 7252 §4.2/§4.3/§5.4.1 under CPython at hypothesis scale: the endpoint's datagram
dispatch (the same code that runs on the device) never lets an exception escape and answers
only with decodable CoAP, whatever arrives. The device-side replay is test_coap_malformed_replay."""

from hypothesis import given, settings, strategies as st

from coap import numbers as N
from coap.endpoint import Endpoint
from coap.error import NotFound
from coap.message import Message


class _Capture:
    max_datagram = 1280

    def __init__(self):
        self.out = []

    def sendto(self, data, remote):
        self.out.append(bytes(data))

    def resolve(self, host, port):
        return (host, port)

    def describe(self, remote):
        return repr(remote)

    def close(self):
        pass


def _handler(req, remote):
    if req.path_str() == "/r":
        return Message(code=N.CONTENT, payload=b"x" * 2000)
    raise NotFound()


_header = st.tuples(st.integers(0, 255), st.integers(0, 255)).map(bytes)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=64),
                          st.builds(lambda h, mid, rest: bytes([0x40 | (h[0] & 0x3F), h[1]]) + mid + rest,
                                    _header, st.binary(min_size=2, max_size=2), st.binary(max_size=40))),
                min_size=1, max_size=6))
def test_endpoint_dispatch_never_raises_and_answers_decodable(datagrams):
    t = _Capture()
    ep = Endpoint(t, _handler)
    for d in datagrams:
        ep._rx[:len(d)] = d
        ep._on_datagram(len(d), ("peer", 1))
    assert ep.stats["errors"] == 0
    for out in t.out:
        m = Message.decode(out)
        assert m.mtype in (N.ACK, N.RST, N.NON, N.CON)

# coap.transport_mux on MicroPython: one Endpoint reaches two peers through two member
# transports (in-memory links here; UDP and a DTLS session in the LwM2M client), requests from
# either peer come in tagged with their member, a member whose receive keeps failing does not
# stop the others, and a removed member is closed and no longer read.
# mpy-heapsize: 256K
import asyncio

from coap import numbers as N
from coap.endpoint import Endpoint
from coap.message import Message
from coap.transport_mux import TransportMux
from coap_memlink import MemEnd, pair


def _answer(name):
    def h(req, remote):
        return Message(code=N.CONTENT, payload=("%s saw %s" % (name, req.path_str())).encode())
    return h


class _Broken(MemEnd):
    """A member whose receive fails, as a DTLS session that cannot be set up does."""
    fails = 0

    def resolve(self, host, port):
        return host

    async def recvfrom(self, buf):
        self.fails += 1
        raise OSError(111, "handshake failed")


async def test_requests_go_out_through_the_member_of_their_remote():
    srv1_end, plain = pair()
    srv2_end, second = pair()
    srv1 = Endpoint(srv1_end, _answer("one")).start()
    srv2 = Endpoint(srv2_end, _answer("two")).start()
    mux = TransportMux(plain)
    client = Endpoint(mux).start()
    to_one = mux.resolve("A", 5683)
    to_two = mux.route(second, "A", 5684)
    assert to_one == (plain, "A") and to_two == (second, "A") and to_one != to_two
    r1 = await client.request(to_one, Message(code=N.GET).set_uri_path("/x"))
    r2 = await client.request(to_two, Message(code=N.GET).set_uri_path("/y"))
    assert (r1.payload, r2.payload) == (b"one saw /x", b"two saw /y")
    assert mux.describe(to_two) == "'A'"
    await client.close()
    await srv1.close()
    await srv2.close()


async def test_server_request_comes_in_tagged_with_its_member_and_is_answered_through_it():
    srv1_end, plain = pair()
    srv2_end, second = pair()
    seen = []

    def device(req, remote):
        seen.append(remote)
        return Message(code=N.CONTENT, payload=b"dev")

    mux = TransportMux(plain)
    client = Endpoint(mux, device).start()
    mux.route(second, "A", 5684)
    srv2 = Endpoint(srv2_end).start()
    await asyncio.sleep_ms(10)  # readers started by the Endpoint's first receive
    resp = await srv2.request("B", Message(code=N.GET).set_uri_path("/3/0/0"))
    assert resp.code == N.CONTENT and resp.payload == b"dev"
    assert seen == [(second, "A")]
    assert srv1_end.sent == []  # nothing went the other way
    await client.close()
    await srv2.close()


async def test_a_failing_member_is_retried_slowly_and_others_keep_working():
    srv_end, plain = pair()
    broken = _Broken("X")
    logs = []
    mux = TransportMux(plain, log=logs.append)
    client = Endpoint(mux).start()
    mux.route(broken, "X", 1)
    srv = Endpoint(srv_end, _answer("one")).start()
    for _ in range(3):
        r = await client.request(mux.resolve("A", 5683), Message(code=N.GET).set_uri_path("/z"))
        assert r.payload == b"one saw /z"
    await asyncio.sleep_ms(400)
    # back-off 100, 200, 400 ms...: a few attempts, not a spin; logged once
    assert 2 <= broken.fails <= 5, broken.fails
    assert len([m for m in logs if "recv failed" in m]) == 1, logs
    await client.close()
    await srv.close()


async def test_removed_member_is_closed_and_no_longer_read():
    closed = []

    class Closing(MemEnd):
        def close(self):
            closed.append(self.name)

    _, plain = pair()
    srv2_end, second = MemEnd("A"), Closing("B")
    srv2_end.peer, second.peer = second, srv2_end
    mux = TransportMux(plain)
    client = Endpoint(mux).start()
    mux.route(second, "A", 5684)
    await asyncio.sleep_ms(10)
    mux.remove(second)
    assert closed == ["B"] and mux.members() == [plain]
    srv2_end.sendto(Message(mtype=N.NON, code=N.GET, mid=7).set_uri_path("/q").encode(), "B")
    await asyncio.sleep_ms(20)
    assert client.stats["rx"] == 0
    await client.close()


async def test_full_inbox_drops_datagrams_instead_of_growing():
    srv_end, plain = pair()
    mux = TransportMux(plain)
    mux._start_readers()
    for mid in range(10):  # nobody takes them: the Endpoint is not running
        srv_end.sendto(Message(mtype=N.NON, code=N.GET, mid=mid).encode(), "A")
    await asyncio.sleep_ms(20)
    assert len(mux._inbox) == 4 and mux.dropped_rx == 6
    first, remote = await mux.recv_datagram()
    assert Message.decode(first).mid == 0 and remote == (plain, "A")
    mux.close()

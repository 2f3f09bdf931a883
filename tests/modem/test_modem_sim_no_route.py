"""The modem simulator's operator networks without a route (`--no-route PLMN[,PLMN]`, control line
`no_route`, SimModem(no_route=...)): the network attaches and hands out an IP address, the
modem accepts the datagram, and it never reaches the host (nor does anything come back); with
the set cleared the same socket path echoes again. Used by the control plane's rollback flows
for the isolated profile on PLMN 001-03."""

import asyncio
import socket

from host_tools.modem_sim.dialects import DIALECTS

from modem_fakecard import Card
from modem_simctl import UdpEcho, control, run_device, sim_stats, start_sim


def test_no_route_network_attaches_but_udp_goes_nowhere(processes):
    echo = UdpEcho()
    try:
        # the fake card's enabled profile is on PLMN 242-01 (Nordnett)
        sim, link = start_sim(processes, "bg95", "--no-route", "24201,00103")
        r = run_device(processes, "bg95", link, "udp_probe", "127.0.0.1", echo.port, 1500)
        assert r["ip"].startswith("10.42.0.") and r["echoed"] is False and r["tx_errors"] == 0
        assert echo.seen == 0
        assert sim_stats(sim)["counters"]["no_route_dropped"] >= 1
        assert control(sim, "no_route none").startswith("ok no_route none dropped=")
        r = run_device(processes, "bg95", link, "udp_probe", "127.0.0.1", echo.port, 8000)
        assert r["echoed"] is True and echo.seen == 1
        assert control(sim, "no_route 2420").startswith("error ")
    finally:
        echo.close()


def test_no_route_constructor_argument_drops_both_directions():
    async def main():
        modem = DIALECTS["bg95"](Card(), None, 0.0, 1, no_route={"24201"})
        await modem._register()
        assert modem.stat == 1 and modem.ip() is not None and not modem.routed()
        host = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        host.bind(("127.0.0.1", 0))
        host.setblocking(False)
        from host_tools.modem_sim.core import UdpSock

        s = await UdpSock(modem, 0).open()
        try:
            s.sendto(b"out", host.getsockname())
            host.sendto(b"in", ("127.0.0.1", s.transport.get_extra_info("sockname")[1]))
            await asyncio.sleep(0.2)
            try:
                got = host.recv(64)
            except BlockingIOError:
                got = None
            assert got is None and s.pop() is None
            assert modem.counters["no_route_dropped"] == 2
            modem.no_route = set()
            assert modem.routed()
            s.sendto(b"out", host.getsockname())
            await asyncio.sleep(0.2)
            assert host.recv(64) == b"out"
        finally:
            s.close()
            host.close()

    asyncio.run(main())

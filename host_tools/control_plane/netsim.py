"""The modem simulator with operator networks that have no route to the outside: a datagram the
device sends while attached to an isolated PLMN is dropped inside the "network". This is how a
profile whose network cannot reach the LwM2M server is modelled for the switch-rollback flows.

    python -m host_tools.control_plane.netsim --isolate 00103 --dialect bg95 --tcp 0 ...

All other options are host_tools.modem_sim's. Extra control line on stdin: `isolate PLMN[,PLMN]`
(or `isolate none`). Also: seed_card(path) writes the eUICC simulator's factory state plus a
third profile on PLMN 001-03 (ISOLATED_ICCID), used as the unreachable target."""

import copy
import sys

from host_tools.euicc_sim import state as card_state
from host_tools.modem_sim import __main__ as modem_main
from host_tools.modem_sim import core

ISOLATED_PLMN = "00103"
ISOLATED_ICCID = "8900103000000000033"
_ISOLATED = set()
_dropped = [0]


def _route_ok(modem):
    net = modem.network
    return net is None or net["plmn"] not in _ISOLATED


def _install():
    send = core.UdpSock.sendto

    def sendto(self, data, addr):
        if not _route_ok(self.modem):
            _dropped[0] += 1
            return
        send(self, data, addr)

    core.UdpSock.sendto = sendto
    control = modem_main.control

    def control_isolate(modem, line):
        parts = line.split()
        if parts and parts[0] == "isolate":
            _ISOLATED.clear()
            if len(parts) > 1 and parts[1] != "none":
                _ISOLATED.update(parts[1].split(","))
            return "ok isolate %s dropped=%d" % (",".join(sorted(_ISOLATED)) or "none", _dropped[0])
        return control(modem, line)

    modem_main.control = control_isolate


def seed_card(path, pki=None):
    """Factory eUICC state at `path` (kept if it exists) with a third, disabled profile on the
    isolated PLMN."""
    from host_tools import pki as _pki

    st = card_state.State(path, pki=pki or _pki.make())
    profiles = st.data["profiles"]
    if any(p["iccid"] == ISOLATED_ICCID for p in profiles):
        return st
    p = copy.deepcopy(profiles[-1])
    index = st.data["next_isdp_index"]
    st.data["next_isdp_index"] = index + 1
    p.update({"iccid": ISOLATED_ICCID, "state": "disabled", "mcc": "001", "mnc": "03",
              "imsi": "001030000000033", "apn": "internet.op3", "name": "Operator Three IoT",
              "service_provider": "Operator Three",
              "isdp_aid": p["isdp_aid"][:-2] + "%02X" % index})
    profiles.append(p)
    st.save()
    return st


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--isolate" in argv:
        i = argv.index("--isolate")
        _ISOLATED.update(argv[i + 1].split(","))
        del argv[i:i + 2]
    _install()
    import asyncio

    try:
        asyncio.run(modem_main.main(argv))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

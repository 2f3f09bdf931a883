"""The operator networks of the control plane's runs: a third profile whose network (PLMN 001-03)
attaches but has no route to the outside, the target of the switch-rollback flows. The isolation
itself is the modem simulator's `--no-route` option; this module names the network and seeds
the card.

    python -m host_tools.control_plane.netsim --isolate 00103 --dialect bg95 --tcp 0 ...

is `python -m host_tools.modem_sim --no-route 00103 ...` (kept for existing scripts); the
simulator's control line `no_route PLMN[,PLMN]|none` changes the set at run time.
seed_card(path) writes the eUICC simulator's factory state plus a third profile on PLMN 001-03
(ISOLATED_ICCID)."""

import copy
import sys

from host_tools.euicc_sim import state as card_state

ISOLATED_PLMN = "00103"
ISOLATED_ICCID = "8900103000000000033"


def modem_argv(isolate=ISOLATED_PLMN):
    """Arguments of host_tools.modem_sim that isolate these PLMNs (comma-separated)."""
    return ["--no-route", isolate] if isolate else []


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
    import asyncio

    from host_tools.modem_sim import __main__ as modem_main

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--isolate" in argv:
        i = argv.index("--isolate")
        argv[i] = "--no-route"
    try:
        asyncio.run(modem_main.main(argv))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

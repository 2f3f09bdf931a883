"""The host side of the IPAd integration tests: the eUICC simulator behind the modem simulator
(AT over TCP), the eIM's HTTPS server, both as processes on loopback, and the eIM's SQLite
store opened in-process to register the EID and queue packages (the server shares the file)."""

import os
import re
import shutil

import harness
from host_tools import pki as _pki
from host_tools.eim import crypto
from host_tools.eim.core import EimCore
from host_tools.eim.store import Store

import ipa_io_tls

EID = _pki.DEFAULT_EID
EIM_ID = "test-eim"      # the simulator's factory eIM association (token 1)
OP1 = "8900101000000000017"
OP2 = "8900102000000000025"


class Rig:
    def __init__(self, tmp, processes, association_token=1):
        self.tmp = str(tmp)
        self.processes = processes
        base = _pki.make()     # the card signs and trusts with the default test PKI
        self.pki = os.path.join(self.tmp, "pki")
        shutil.copytree(base.directory, self.pki)
        # the eIM's TLS identity is swapped for one mbedTLS 2.28 can parse (see ipa_io_tls)
        self.root = os.path.join(self.tmp, "root.der")
        with open(self.root, "wb") as f:
            f.write(ipa_io_tls.make(self.pki))
        self.db = os.path.join(self.tmp, "eim.sqlite")
        self.card_state = os.path.join(self.tmp, "euicc.json")
        self.ipa_state = os.path.join(self.tmp, "ipa_state.json")
        self.core = EimCore(EIM_ID, crypto.load_private_key(os.path.join(self.pki, "eim.key")),
                            Store(self.db))
        self.core.register_euicc(EID, euicc_cert=os.path.join(self.pki, "euicc_%s.pem" % EID),
                                 association_token=association_token)
        self.eim_url = None
        self.modem_port = None
        self.dialect = "bg95"

    def card_without_eim(self):
        """A factory eUICC with no eIM associated (first boot). Make the Rig with
        association_token=None: AddInitialEim below asks for none."""
        import json

        from host_tools.euicc_sim.state import State

        st = State(self.card_state, pki=_pki.make())
        st.data["eims"] = []
        st.save()
        with open(self.card_state) as f:
            assert json.load(f)["eims"] == []

    def start_eim(self, smdp=False):
        """The eIM's HTTPS server; with smdp, its in-process test SM-DP+ (one default order)."""
        extra = ["--smdp", "host_tools.eim.smdp_adapter"] if smdp else []
        p = harness.start_python("host_tools.eim", [
            "serve", "--port", "0", "--pki", self.pki, "--db", self.db, "--eim-id", EIM_ID]
            + extra, name="eim")
        self.processes.append(p)
        self.eim_url = p.expect(r"listening on (https://[0-9.]+:\d+)", 20).group(1)
        return self.eim_url

    def start_modem(self, dialect="bg95"):
        self.dialect = dialect
        p = harness.start_python("host_tools.modem_sim", [
            "--dialect", dialect, "--tcp", "0", "--euicc-state", self.card_state], name="modem")
        self.processes.append(p)
        self.modem = p
        self.modem_port = int(p.expect(r"modem_sim: tcp 127\.0\.0\.1:(\d+)", 20).group(1))
        return self.modem_port

    def run_ipad(self, *args, polls=2, eim=None, ca=None, timeout=90, heapsize=None):
        """The IPAd on MicroPython until it prints IPA DONE / IPA FAIL; returns the process."""
        argv = ["--modem", "tcp:127.0.0.1:%d" % self.modem_port, "--dialect", self.dialect,
                "--state", self.ipa_state, "--polls", str(polls), "--backoff-min", "200",
                "--ca", ca or self.root]
        if eim or self.eim_url:
            argv += ["--eim", eim or self.eim_url]
        dev = harness.start_micropython("ipa", argv + list(args), name="ipad", heapsize=heapsize)
        self.processes.append(dev)
        dev.expect(r"^IPA (DONE|FAIL)", timeout)
        return dev

    def packages(self):
        return self.core.package_list(EID)

    def profiles(self):
        from host_tools.euicc_sim.state import State

        st = State(self.card_state, pki=_pki.make())
        return {p["iccid"]: p["state"] for p in st.data["profiles"]}

    def enabled_iccid(self):
        from host_tools.euicc_sim.state import State

        st = State(self.card_state, pki=_pki.make())
        for p in st.data["profiles"]:
            if p["state"] == "enabled":
                return p["iccid"]
        return None


def lines(dev, pattern):
    rx = re.compile(pattern)
    return [m for m in (rx.search(line) for line in dev.lines) if m]

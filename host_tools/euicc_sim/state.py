"""Persisted eUICC state: one JSON document written atomically (temp file + rename).

Byte fields are stored as hex strings so the file stays readable (`python -m host_tools.euicc_sim
show`). The ISD-P AIDs follow the SGP.02/22 convention A0000005591010FFFFFFFF89000010xx.
"""

import copy
import json
import os
import tempfile

from host_tools import pki as _pki

ISDR_AID = bytes.fromhex("A0000005591010FFFFFFFF8900000100")
_ISDP_AID_PREFIX = "A0000005591010FFFFFFFF89000010"

CLASS_TEST, CLASS_PROVISIONING, CLASS_OPERATIONAL = 0, 1, 2

# NotificationEvent bit numbers (SGP.22 NotificationEvent BIT STRING)
EVENT_INSTALL, EVENT_ENABLE, EVENT_DISABLE, EVENT_DELETE = 0, 1, 2, 3

DEFAULT_EIM_ID = "test-eim"
DEFAULT_NOTIFICATION_ADDRESS = "127.0.0.1"


def iccid_to_bytes(iccid):
    """'8900101000000000017' -> 10 bytes BCD, nibble-swapped, F-padded (EF.ICCID layout)."""
    digits = iccid + "F" * (20 - len(iccid))
    return bytes(int(digits[i + 1] + digits[i], 16) for i in range(0, 20, 2))


def iccid_from_bytes(raw):
    out = []
    for b in raw:
        out.append("%X%X" % (b & 0x0F, b >> 4))
    return "".join(out).rstrip("F")


def mccmnc_to_bytes(mcc, mnc):
    """3GPP TS 24.008 PLMN encoding (as in OperatorId.mccMnc)."""
    mnc3 = mnc if len(mnc) == 3 else mnc + "F"
    d = mcc + mnc3
    return bytes([int(d[1] + d[0], 16), int(d[5] + d[2], 16), int(d[4] + d[3], 16)])


def mccmnc_from_bytes(raw):
    h = ["%X" % (raw[0] & 0xF), "%X" % (raw[0] >> 4), "%X" % (raw[1] & 0xF), "%X" % (raw[1] >> 4),
         "%X" % (raw[2] & 0xF), "%X" % (raw[2] >> 4)]
    mcc = h[0] + h[1] + h[2]
    mnc = h[4] + h[5] + ("" if h[3] == "F" else h[3])
    return mcc, mnc


def _profile(iccid, aid_index, state, mcc, mnc, imsi, apn, name, sp):
    return {
        "iccid": iccid, "isdp_aid": _ISDP_AID_PREFIX + "%02X" % aid_index, "state": state,
        "class": CLASS_OPERATIONAL, "nickname": "", "service_provider": sp, "name": name,
        "fallback": False, "imsi": imsi, "mcc": mcc, "mnc": mnc, "apn": apn,
        "smdp_oid": None, "notification_address": DEFAULT_NOTIFICATION_ADDRESS,
    }


def seed(eid, pki):
    """Factory state: two operational profiles on operators 001/01 (enabled) and 001/02."""
    return {
        "version": 1,
        "eid": eid,
        "profiles": [
            _profile("8900101000000000017", 0x11, "enabled", "001", "01", "001010000000017",
                     "internet.op1", "Operator One IoT", "Operator One"),
            _profile("8900102000000000025", 0x12, "disabled", "001", "02", "001020000000025",
                     "internet.op2", "Operator Two IoT", "Operator Two"),
        ],
        "eims": [{
            "eim_id": DEFAULT_EIM_ID, "fqdn": "127.0.0.1", "id_type": 2, "counter": 0,
            "association_token": 1,
            "cert_der": pki.eim.cert_der.hex(), "public_key_der": None,
            "protocols": [0, 2], "indirect_download": True, "ci_pkid": pki.ci_ski.hex(),
        }],
        "next_association_token": 2,
        "next_seq": 1,
        "notifications": [],     # {seq, event, address, iccid, der}
        "package_results": [],   # {seq, eim_id, der}
        "next_isdp_index": 0x13,
        "default_dp_address": "",
        "root_ds_address": "lpa.ds.example",
        "immediate_enable": {"flag": False, "smdp_oid": None, "smdp_address": None},
        # after a rollback-able enable: {"iccid": previously enabled, "eim_id": ...}
        "rollback": None,
    }


class State:
    """The eUICC's non-volatile memory. Mutate `data`, then call save()."""

    def __init__(self, path=None, eid=None, pki=None):
        self.path = path
        self.pki = pki
        if path and os.path.exists(path):
            with open(path) as f:
                self.data = json.load(f)
            if eid and eid != self.data["eid"]:
                raise ValueError("state %s holds EID %s, not %s" % (path, self.data["eid"], eid))
        else:
            self.data = seed(eid or _pki.DEFAULT_EID, pki)
            self.save()

    @property
    def eid(self):
        return self.data["eid"]

    def save(self):
        if not self.path:
            return
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".euicc-")
        with os.fdopen(fd, "w") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def reset(self):
        self.data = seed(self.eid, self.pki)
        self.save()

    def snapshot(self):
        return copy.deepcopy(self.data)

    # -- profiles --
    def profile_by_iccid(self, iccid):
        for p in self.data["profiles"]:
            if p["iccid"] == iccid:
                return p
        return None

    def profile_by_aid(self, aid_hex):
        for p in self.data["profiles"]:
            if p["isdp_aid"].upper() == aid_hex.upper():
                return p
        return None

    def enabled_profile(self):
        for p in self.data["profiles"]:
            if p["state"] == "enabled":
                return p
        return None

    def new_isdp_aid(self):
        idx = self.data["next_isdp_index"]
        self.data["next_isdp_index"] = idx + 1
        return _ISDP_AID_PREFIX + "%02X" % (idx & 0xFF)

    # -- eIMs --
    def eim(self, eim_id):
        for e in self.data["eims"]:
            if e["eim_id"] == eim_id:
                return e
        return None

    def take_association_token(self):
        tok = self.data["next_association_token"]
        self.data["next_association_token"] = tok + 1
        return tok

    # -- sequence numbers shared by notifications and eUICC package results --
    def take_seq(self):
        seq = self.data["next_seq"]
        self.data["next_seq"] = seq + 1
        return seq

"""Proof facts of a network-entry change, read from what the device layers report. Sans-I/O.

    eim_enable(command)       the EntryChange request hidden in an ES10b LoadEuiccPackage (an
                              eIM-signed enable PSMO): {"change", "target", "rollback"} or None
    enable_outcome(response)  (ok, detail) of that package's EuiccPackageResult
    rollback_outcome(resp)    (ok, detail, epr, seq) of a ProfileRollback (BF58)
    iccid_text(raw)           the ICCID as the modem prints it ("8900101000000000017")

    FactTracker               which facts a stream of events proves, once per attachment:
        t.detached()                      a SIM REFRESH / modem reset: the old attachment is gone
        t.attached(iccid) -> facts        registered to a network on profile `iccid`
        t.lwm2m(line)     -> facts        "lwm2m registered ..." / "lwm2m updated ..." after it
        t.sent(code)      -> facts        the server's answer to the telemetry Send
Facts are (name, value) pairs for EntryChange.fact(); stale events (from before the attachment
being proven) prove nothing."""

from micropython import const

from ipa import es10b

_TAG_LOAD_EUICC_PACKAGE = const(0xBF51)
_PSMO_ENABLE = const(0xA3)
_RES_ENABLE = const(0x83)
_CHANGED = const(0x44)  # CoAP 2.04, the answer of a server that took the Send

FACT_ATTACHED = "attached"
FACT_REGISTERED = "registered"
FACT_TELEMETRY = "telemetry"
FACT_CONTEXT = "context"
FACT_EIM = "eim_ack"


def iccid_text(raw):
    """BCD ICCID (nibbles swapped, F padded; SGP.22 Iccid) as a digit string."""
    out = []
    for b in raw:
        out.append("%x%x" % (b & 0x0F, b >> 4))
    return "".join(out).rstrip("f").upper()


def eim_enable(command):
    """If `command` is a LoadEuiccPackage whose PSMO list enables a profile, the change it asks
    for; the change id is the eIM transaction id (or the counter) so the eIM's audit and ours
    name the same change."""
    if len(command) < 2 or (command[0] << 8 | command[1]) != _TAG_LOAD_EUICC_PACKAGE:
        return None
    req = es10b.parse_euicc_package_request(command)
    for tag, iccid, flag in req["psmos"]:
        if tag == _PSMO_ENABLE and iccid:
            txid = req.get("eimTransactionId")
            change = txid.hex() if txid else "c%s" % req.get("counterValue")
            return {"change": change, "target": iccid_text(iccid), "rollback": bool(flag),
                    "eim": req.get("eimId")}
    return None


def enable_outcome(response):
    """(ok, detail) of the enable inside an EuiccPackageResult."""
    try:
        epr = es10b.parse_euicc_package_result(response)
    except Exception as e:  # noqa: BLE001 - an unreadable answer is a failed enable
        return False, "unreadable EuiccPackageResult: %r" % (e,)
    if epr["kind"] != "signed":
        return False, "%s errorCode=%s" % (epr["kind"], epr["errorCode"])
    for tag, value in epr["results"]:
        if tag == _RES_ENABLE:
            return value == 0, "enableResult=%s seq=%s" % (value, epr["seqNumber"])
    return False, "no enableResult in the EuiccPackageResult"


def rollback_outcome(response):
    """(ok, detail, epr or None, seqNumber or None) of ProfileRollback."""
    code, epr = es10b.parse_profile_rollback(response)
    seq = None
    if epr is not None:
        try:
            seq = es10b.parse_euicc_package_result(epr)["seqNumber"]
        except Exception:  # noqa: BLE001 - the result stays deliverable as raw bytes
            seq = None
    return code == 0, "rollbackResult=%d" % code, epr, seq


class FactTracker:
    def __init__(self):
        self.generation = 0     # attachments seen
        self.iccid = None
        self._registered = False
        self._await_send = False

    def detached(self):
        self.iccid = None
        self._registered = False
        self._await_send = False

    def attached(self, iccid):
        self.generation += 1
        self.iccid = iccid
        self._registered = False
        self._await_send = False
        return [(FACT_ATTACHED, iccid)]

    def lwm2m(self, line):
        """A client event line; Register or Update answered 2.xx on this attachment."""
        if self.iccid is None or self._registered:
            return []
        words = line.split()
        if len(words) < 2 or words[0] != "lwm2m" or words[1] not in ("registered", "updated"):
            return []
        self._registered = True
        self._await_send = True
        return [(FACT_REGISTERED, self.generation)]

    def registered(self):
        return self._registered

    def sent(self, code):
        """The telemetry Send's response code (None when it could not be sent)."""
        if not self._await_send or code != _CHANGED:
            return []
        self._await_send = False
        return [(FACT_TELEMETRY, self.generation)]

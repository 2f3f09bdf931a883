"""A tiny stand-in card with the host_tools.euicc_sim.card.Card interface, enough for the
modem tests: logical channels, SELECT ISD-R (answers 61xx), GET RESPONSE, GET DATA with a
wrong Le (6Cxx), STORE DATA chains answered with a 300-byte response (61 00 split), and two
profiles whose switch calls on_refresh."""

import hashlib

ISDR_AID = bytes.fromhex("A0000005591010FFFFFFFF8900000100")
EID = bytes.fromhex("89049032123451234512345678901235")
PROFILES = (
    {"iccid": "8947080034560000123", "imsi": "242010000000123", "mcc": "242", "mnc": "01",
     "apn": "iot.nordnett"},
    {"iccid": "8943950012340000456", "imsi": "262950000000456", "mcc": "262", "mnc": "95",
     "apn": "m2m.alpen"},
)


def store_data_answer(payload):
    """What the fake card answers to a complete STORE DATA chain: 300 bytes derived from it."""
    out = b""
    seed = payload
    while len(out) < 300:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return out[:300]


class Card:
    def __init__(self, state=None):
        self.state = state
        self.on_refresh = None
        self.enabled = None if state == "none" else 0  # state "none": no profile enabled
        self.reset()

    def power_on(self):
        self.reset()
        return bytes.fromhex("3B9F96801FC78031E073FE211B63F100E5830F9000")

    def reset(self):
        self.open = {0}
        self.selected = {}
        self.pending = {}  # channel -> bytes waiting for GET RESPONSE
        self.chain = {}
        self.apdus = 0

    def enabled_profile(self):
        return None if self.enabled is None else dict(PROFILES[self.enabled])

    def switch(self, iccid):
        self.enabled = None
        for i, p in enumerate(PROFILES):
            if p["iccid"] == iccid:
                self.enabled = i
        if self.on_refresh:
            self.on_refresh()

    def open_channels(self):
        return sorted(self.open - {0})

    def _reply(self, ch, data, le=None):
        if le is not None and le != 0 and len(data) > le:
            self.pending[ch] = data[le:]
            rest = len(data) - le
            return data[:le] + bytes((0x61, rest if rest < 256 else 0))
        return data + b"\x90\x00"

    def _queue(self, ch, data):
        self.pending[ch] = data
        return bytes((0x61, len(data) if len(data) < 256 else 0))

    def transmit(self, apdu):
        self.apdus += 1
        apdu = bytes(apdu)
        cla, ins, p1, p2 = apdu[:4]
        ch = 4 + (cla & 0x0F) if cla & 0x40 else cla & 0x03
        body = apdu[5:5 + apdu[4]] if len(apdu) > 5 else b""
        le = apdu[4] if len(apdu) == 5 else (apdu[5 + apdu[4]] if len(apdu) > 5 + apdu[4] else None)
        if ch not in self.open:
            return b"\x68\x81"
        if ins == 0x70:
            if p1 == 0x00:
                for n in range(1, 4):
                    if n not in self.open:
                        self.open.add(n)
                        return bytes((n, 0x90, 0x00))
                return b"\x6A\x81"
            if p2 in self.open and p2 != 0:
                self.open.discard(p2)
                self.selected.pop(p2, None)
                self.pending.pop(p2, None)
                return b"\x90\x00"
            return b"\x68\x81"
        if ins == 0xC0:
            data = self.pending.pop(ch, None)
            if data is None:
                return b"\x69\x85"
            return self._reply(ch, data, le if le else 256)
        self.pending.pop(ch, None)
        if ins == 0xA4 and p1 == 0x04:
            if body != ISDR_AID:
                return b"\x6A\x82"
            self.selected[ch] = ISDR_AID
            fci = b"\x6F\x1A\x84\x10" + ISDR_AID + b"\xA5\x04\x9F\x65\x01\xFF\xC0\x00"
            return self._queue(ch, fci[:28])
        if self.selected.get(ch) != ISDR_AID:
            return b"\x69\x86"
        if ins == 0xCA and p1 == 0x00 and p2 == 0x5A:
            if le != len(EID):
                return bytes((0x6C, len(EID)))
            return EID + b"\x90\x00"
        if ins == 0xAA:
            return b"\x90\x00"
        if ins == 0xE2:
            self.chain[ch] = self.chain.get(ch, b"") + body
            if not p1 & 0x80:
                return b"\x90\x00"
            payload = self.chain.pop(ch)
            return self._queue(ch, store_data_answer(payload))
        return b"\x6D\x00"

"""The eUICC as the modem simulator sees it: ATR, APDUs in, data+SW out (ETSI TS 102 221 /
ISO 7816-4 framing, GlobalPlatform STORE DATA as SGP.22 5.7.1 uses it).

    card = Card(state_path="euicc.json")
    atr = card.power_on()
    rsp = card.transmit(bytes.fromhex("0070000001"))       # MANAGE CHANNEL open -> 01 9000
    card.on_refresh = modem.refresh                           # called after enable/disable/rollback
    card.enabled_profile()  # {"iccid", "imsi", "mcc", "mnc", "apn"} or None

Channels: basic channel 0 plus logical channels 1..19 (CLA b7=1 selects the further interindustry
range, channels 4..19). Responses over 256 bytes are announced with 61xx and fetched with GET
RESPONSE (xx=00 means 256 or more remain); a GET RESPONSE asking for more than is left gets 6Cxx.
"""

import threading

from host_tools import pki as _pki
from host_tools.euicc_sim import isdr as _isdr, state as st

ISDR_AID = st.ISDR_AID
_MAX_CHANNELS = 20
_OPEN_LIMIT = 4            # logical channels the card lets be open at once (besides 0)
_SHORT_MAX = 256

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_CHANNEL_NOT_SUPPORTED = 0x6881
SW_CONDITIONS = 0x6985
SW_WRONG_DATA = 0x6A80
SW_FUNC_NOT_SUPPORTED = 0x6A81
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_REF_DATA_NOT_FOUND = 0x6A88
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00

# 3B: direct convention; T0=9F (TA1,TD1, 15 historical bytes); TA1=96; TD1=80 -> TD2=1F (T=15)
# TA3=C7 (clock stop, class A/B/C); historical bytes (category 80, card capabilities incl.
# logical channels "up to 20"); TCK computed.
_ATR_BODY = bytes.fromhex("3B9F96801FC78031E073FE211B633A204E8300900000")


def _atr():
    tck = 0
    for b in _ATR_BODY[1:]:
        tck ^= b
    return _ATR_BODY + bytes([tck])


class ApduError(Exception):
    def __init__(self, sw, message=""):
        super().__init__("SW %04X %s" % (sw, message))
        self.sw = sw


class Apdu:
    """A parsed command APDU (short or extended)."""

    def __init__(self, raw):
        raw = bytes(raw)
        if len(raw) < 4:
            raise ApduError(SW_WRONG_LENGTH, "APDU shorter than a header")
        self.cla, self.ins, self.p1, self.p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        self.data = b""
        self.le = None
        if not body:
            return
        if len(body) == 1:
            self.le = body[0] or 256
        elif body[0] == 0 and len(body) >= 3:
            # extended length
            if len(body) == 3:
                self.le = int.from_bytes(body[1:3], "big") or 65536
                return
            lc = int.from_bytes(body[1:3], "big")
            rest = body[3:]
            if len(rest) < lc:
                raise ApduError(SW_WRONG_LENGTH, "extended Lc %d, %d data bytes" % (lc, len(rest)))
            self.data = rest[:lc]
            tail = rest[lc:]
            if len(tail) == 2:
                self.le = int.from_bytes(tail, "big") or 65536
            elif tail:
                raise ApduError(SW_WRONG_LENGTH, "bad extended Le")
        else:
            lc = body[0]
            rest = body[1:]
            if len(rest) < lc:
                raise ApduError(SW_WRONG_LENGTH, "Lc %d but %d data bytes" % (lc, len(rest)))
            self.data = rest[:lc]
            tail = rest[lc:]
            if len(tail) == 1:
                self.le = tail[0] or 256
            elif tail:
                raise ApduError(SW_WRONG_LENGTH, "%d bytes after data" % len(tail))

    @property
    def channel(self):
        if self.cla & 0x40:
            return 4 + (self.cla & 0x0F)
        return self.cla & 0x03


class _Channel:
    def __init__(self):
        self.selected = None
        self.chain = bytearray()
        self.next_block = 0
        self.pending = b""


class Card:
    def __init__(self, state_path=None, eid=None, pki=None):
        self.pki = pki if pki is not None else _pki.make(eid=eid or _pki.DEFAULT_EID)
        self.state = st.State(state_path, eid=eid, pki=self.pki)
        self.isdr = _isdr.Isdr(self.state, self.pki)
        self.on_refresh = None
        self.terminal_capability = None
        self._lock = threading.RLock()
        self._channels = {}
        self.powered = False
        self.log = []   # (command hex, response hex) of the last APDUs, bounded
        self.last_error = None

    # ------------------------------------------------------------------ public contract
    def power_on(self):
        with self._lock:
            self._channels = {0: _Channel()}
            self.powered = True
            self.isdr.download.bpp = None
            return _atr()

    def reset(self):
        """Cold reset: channels closed, volatile session state dropped, persisted state kept."""
        with self._lock:
            self.isdr.challenge = None
            self.isdr.download._reset()
            return self.power_on()

    def reload(self):
        """Re-read persisted state from disk (as after a power cycle of the device)."""
        with self._lock:
            self.state = st.State(self.state.path, pki=self.pki)
            self.isdr = _isdr.Isdr(self.state, self.pki)
            return self.power_on()

    def enabled_profile(self):
        p = self.state.enabled_profile()
        if p is None:
            return None
        return {"iccid": p["iccid"], "imsi": p["imsi"], "mcc": p["mcc"], "mnc": p["mnc"],
                "apn": p["apn"]}

    def open_channels(self):
        """Logical channel numbers open now (the basic channel 0 not included)."""
        with self._lock:
            return sorted(n for n in self._channels if n)

    def switch(self, iccid):
        """Test control (not an APDU): make `iccid` the enabled profile as if a PSMO had, with
        the same notifications and refresh. Returns the EnableProfileResult code (0 ok)."""
        with self._lock:
            code = self.isdr.enable(iccid)
            self.state.save()
        self._refresh_if_pending()
        return code

    def _refresh_if_pending(self):
        # outside the command's critical section: the modem may close channels from on_refresh
        with self._lock:
            refresh, self.isdr.refresh_pending = self.isdr.refresh_pending, False
        if refresh and self.on_refresh is not None:
            self.on_refresh()

    def transmit(self, apdu):
        with self._lock:
            if not self.powered:
                self.power_on()
            try:
                response = self._dispatch(Apdu(apdu))
            except ApduError as exc:
                response = exc.sw.to_bytes(2, "big")
            if len(self.log) >= 64:
                del self.log[:32]
            self.log.append((bytes(apdu).hex(), response.hex()))
        self._refresh_if_pending()
        return response

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, a):
        if a.cla == 0xFF or (a.cla & 0x80 and a.cla & 0x40 and a.cla & 0x20):
            raise ApduError(SW_CLA_NOT_SUPPORTED, "CLA %02X" % a.cla)
        if a.cla & 0x40 == 0 and a.cla & 0x0C:
            raise ApduError(SW_CLA_NOT_SUPPORTED, "secure messaging CLA %02X" % a.cla)
        ch_no = a.channel
        ch = self._channels.get(ch_no)
        if ch is None:
            raise ApduError(SW_CHANNEL_NOT_SUPPORTED, "channel %d not open" % ch_no)
        proprietary = bool(a.cla & 0x80)
        if a.ins == 0x70 and not proprietary:
            return self._manage_channel(a, ch_no)
        if a.ins == 0xA4 and not proprietary:
            return self._select(a, ch)
        if a.ins == 0xC0 and not proprietary:
            return self._get_response(a, ch)
        if a.ins == 0xAA and proprietary:
            self.terminal_capability = a.data
            return b"\x90\x00"
        if a.ins == 0xF2 and proprietary:
            return b"\x90\x00"   # STATUS: the ISD-R has nothing to report
        if a.ins == 0xE2 and proprietary:
            return self._store_data(a, ch)
        raise ApduError(SW_INS_NOT_SUPPORTED, "INS %02X" % a.ins)

    def _manage_channel(self, a, ch_no):
        if a.p1 == 0x00:
            if a.p2 != 0:
                raise ApduError(SW_WRONG_P1P2, "MANAGE CHANNEL open with P2=%02X" % a.p2)
            if len(self._channels) - 1 >= _OPEN_LIMIT:
                raise ApduError(SW_FUNC_NOT_SUPPORTED, "no free logical channel")
            for n in range(1, _MAX_CHANNELS):
                if n not in self._channels:
                    self._channels[n] = _Channel()
                    return bytes([n]) + b"\x90\x00"
        if a.p1 == 0x80:
            target = a.p2 if a.p2 else ch_no
            if target == 0:
                raise ApduError(SW_WRONG_P1P2, "basic channel cannot be closed")
            if target not in self._channels:
                raise ApduError(SW_CHANNEL_NOT_SUPPORTED, "channel %d not open" % target)
            del self._channels[target]
            return b"\x90\x00"
        raise ApduError(SW_WRONG_P1P2, "MANAGE CHANNEL P1=%02X" % a.p1)

    def _select(self, a, ch):
        if a.p1 != 0x04:
            raise ApduError(SW_WRONG_P1P2, "SELECT P1=%02X (only by DF name)" % a.p1)
        if a.p2 not in (0x00, 0x0C):
            raise ApduError(SW_WRONG_P1P2, "SELECT P2=%02X" % a.p2)
        if not a.data:
            raise ApduError(SW_WRONG_LENGTH, "SELECT without AID")
        if not ISDR_AID.startswith(a.data) or len(a.data) < 5:
            raise ApduError(SW_FILE_NOT_FOUND, "AID %s" % a.data.hex())
        ch.selected = "isdr"
        ch.chain = bytearray()
        ch.next_block = 0
        ch.pending = b""
        if a.p2 == 0x0C:
            return b"\x90\x00"
        # FCI: AID, proprietary data with GP life cycle state (SELECTABLE) and privileges
        prop = bytes.fromhex("9F6501FF") + bytes.fromhex("9F6E03000100")
        fci = (b"\x84" + bytes([len(ISDR_AID)]) + ISDR_AID + b"\xA5" + bytes([len(prop)]) + prop)
        return self._respond(ch, b"\x6F" + bytes([len(fci)]) + fci, a)

    def _store_data(self, a, ch):
        if ch.selected != "isdr":
            raise ApduError(SW_CONDITIONS, "STORE DATA with no application selected")
        if not a.data:
            raise ApduError(SW_WRONG_LENGTH, "STORE DATA without data")
        if a.p1 not in (0x11, 0x91):
            raise ApduError(SW_WRONG_P1P2, "STORE DATA P1=%02X (expects 11 or 91)" % a.p1)
        if a.p2 != ch.next_block & 0xFF:
            expected = ch.next_block & 0xFF
            ch.chain = bytearray()
            ch.next_block = 0
            raise ApduError(SW_WRONG_P1P2, "STORE DATA block %d, expected %d" % (a.p2, expected))
        ch.chain += a.data
        ch.pending = b""
        if a.p1 == 0x11:
            ch.next_block += 1
            return b"\x90\x00"
        payload = bytes(ch.chain)
        ch.chain = bytearray()
        ch.next_block = 0
        try:
            out = self.isdr.handle(payload)
        except _isdr.Es10Error as exc:
            raise ApduError(exc.sw, str(exc)) from None
        except Exception as exc:  # a card answers 6F00 rather than dying; keep the cause
            self.last_error = repr(exc)
            raise ApduError(0x6F00, "internal error: %r" % exc) from None
        return self._respond(ch, out, a)

    def _respond(self, ch, data, a):
        limit = a.le if a.le and a.le > _SHORT_MAX else _SHORT_MAX
        if len(data) <= limit:
            return data + b"\x90\x00"
        ch.pending = data
        return bytes([0x61, min(len(data), _SHORT_MAX) & 0xFF])

    def _get_response(self, a, ch):
        if a.p1 or a.p2:
            raise ApduError(SW_WRONG_P1P2, "GET RESPONSE P1P2=%02X%02X" % (a.p1, a.p2))
        if not ch.pending:
            raise ApduError(SW_CONDITIONS, "GET RESPONSE with nothing pending")
        want = a.le or 256
        left = len(ch.pending)
        if want > left:
            raise ApduError(0x6C00 | (left & 0xFF), "only %d bytes left" % left)
        chunk, ch.pending = ch.pending[:want], ch.pending[want:]
        if ch.pending:
            return chunk + bytes([0x61, min(len(ch.pending), _SHORT_MAX) & 0xFF])
        return chunk + b"\x90\x00"

# UICC APDU transport over AT: logical channels with +CCHO/+CGLA/+CCHC (TS 27.007 §8.45-8.46,
# §8.43), or +CSIM (§8.17) with MANAGE CHANNEL and GET RESPONSE done here (ETSI TS 102 221
# §10.1.1 CLA coding, §7.3.1.1.5 procedure bytes 61xx/6Cxx).
from micropython import const

from modem import atparse
from modem.at import AtError, AtTimeout

_INS_MANAGE_CHANNEL = const(0x70)
_INS_SELECT = const(0xA4)
_INS_GET_RESPONSE = const(0xC0)
_INS_STORE_DATA = const(0xE2)
_MAX_GET_RESPONSE = const(32)  # 61xx rounds per APDU before we call the card broken
_CME_SIM_FAILURE = const(13)
_CME_INVALID_INDEX = const(21)
_CMD_MAX = const(560)

# Behaviour of modem firmwares seen in the field, by profile name (a dialect names its
# default in UICC_QUIRKS; a board may override).  Keys:
#   bare_ccho        +CCHO answers the session id alone on a line, without "+CCHO:"
#   text_session     session ids are not small integers (large or alphanumeric): kept as text
#   no_ccho          +CCHO/+CGLA unsupported: use +CSIM with MANAGE CHANNEL
#   max_cmd          longest command line the modem accepts (limits the APDU segment)
#   cgla_timeout_ms  +CGLA round trips are slow (the baseband queues them behind radio work)
#   cme13_csim       +CME ERROR: 13 on +CGLA while no profile is enabled: fall back to +CSIM
#   stale            session ids / channel numbers closed at start (left open by a previous run)
#   cla_session_bits +CGLA passes CLA to the card unchanged: code the channel (= session id) in it
#   stale_csim       session ids are unguessable: close those channels with MANAGE CHANNEL
#                    over +CSIM instead (the modem drops the session with its channel)
QUIRKS = {
    "standard": {},
    "nrf91_slm": {"cme13_csim": True, "stale": (1, 2, 3)},
    "bg95": {"text_session": True, "max_cmd": 560, "stale": (1, 2, 3), "stale_csim": True},
    "sim7080": {"bare_ccho": True, "cgla_timeout_ms": 30000, "stale": (1, 2, 3)},
    "raw_cla": {"cla_session_bits": True, "stale": (1, 2, 3)},
    "sara_r5": {"no_ccho": True, "max_cmd": 300, "stale": (1, 2, 3)},
}


class ApduError(Exception):
    """A status word the caller did not accept; carries the APDU header and SW."""

    def __init__(self, apdu, sw):
        super().__init__(apdu, sw)
        self.sw = sw
        self.header = bytes(apdu[:4])

    def __str__(self):
        return "APDU %s -> SW %04X" % (atparse.tohex(self.header), self.sw)


def cla_for(cla, ch):
    """CLA with the logical channel coded in (TS 102 221 §10.1.1)."""
    if ch < 4:
        return (cla & 0x80) | (cla & 0x0C) | ch
    return (cla & 0x80) | 0x40 | (cla & 0x20) | (ch - 4)


def _segment_for(max_cmd):
    # AT+CGLA=<session>,<len>,"<hex>": allow 10 digits of session and 4 of length
    if not max_cmd:
        return 255
    room = (max_cmd - len('AT+CGLA=,,""') - 14) // 2 - 5 - 1  # header and Le
    return max(16, min(255, room))


class Uicc:
    """Opens logical channels.  `quirks` is a profile name from QUIRKS or a dict."""

    def __init__(self, at, quirks="standard", dialect=None):
        self.at = at
        q = QUIRKS.get(quirks, {}) if isinstance(quirks, str) else quirks
        self.q = q
        self.use_csim = bool(q.get("no_ccho"))
        self.max_segment = _segment_for(q.get("max_cmd"))
        self.cgla_timeout = q.get("cgla_timeout_ms")
        self.channels = []
        # 'AT+CGLA=' + 10-digit session + ',' + length + ',"' + hex of a 261-byte APDU + '"'
        self._cmd = bytearray(_CMD_MAX)
        self._cmd_mv = memoryview(self._cmd)
        self.round_trips = 0  # AT commands spent on APDUs (benchmark)
        self.reopens = 0
        self._cleaned = False
        self.dialect = dialect
        if dialect is not None:
            dialect.sim_listeners.append(self.refresh)

    def refresh(self):
        """SIM REFRESH / reset seen: every open channel is gone on the card side."""
        for ch in self.channels:
            ch.stale = True

    async def open(self, aid):
        if not self._cleaned:
            self._cleaned = True
            await self._cleanup()
        ch = Channel(self, aid)
        await ch._open()
        self.channels.append(ch)
        return ch

    async def deinit(self):
        """Close every channel this Uicc opened (errors ignored: the card may be gone)."""
        for ch in list(self.channels):
            await ch.close()
        if self.dialect is not None and self.refresh in self.dialect.sim_listeners:
            self.dialect.sim_listeners.remove(self.refresh)

    async def _cleanup(self):
        for s in self.q.get("stale", ()):
            try:
                if self.use_csim or self.q.get("stale_csim"):
                    await self._csim(bytes((0x00, _INS_MANAGE_CHANNEL, 0x80, s, 0x00)))
                else:
                    await self.at.cmd("AT+CCHC=%s" % s)
            except (AtError, AtTimeout, ValueError):
                pass  # nothing was open there

    # -- the two transports ---------------------------------------------------------------

    async def _csim(self, apdu):
        return await self._apdu_cmd("AT+CSIM=", "", apdu, "+CSIM", None)

    async def _cgla(self, session, apdu):
        return await self._apdu_cmd("AT+CGLA=", "%s," % session, apdu, "+CGLA", self.cgla_timeout)

    async def _apdu_cmd(self, head, session, apdu, prefix, timeout_ms):
        # AT+CGLA=<session>,<len>,"<hex>" built in one preallocated buffer: the APDU path
        # carries every profile download segment, so it should not churn the heap
        self.round_trips += 1
        buf = self._cmd
        off = atparse.put_ascii(buf, 0, head)
        off = atparse.put_ascii(buf, off, session)
        off = atparse.put_ascii(buf, off, '%d,"' % (2 * len(apdu)))
        off = atparse.put_hex(buf, off, apdu)
        buf[off] = 34  # closing quote
        lines = await self.at.cmd(self._cmd_mv[:off + 1], timeout_ms, prefix, label=head[:-1])
        for line in lines:
            if line.startswith(prefix):
                rsp = atparse.hex_field(line, prefix + " response")
                if len(rsp) < 2:
                    raise ValueError("%s: response shorter than SW1SW2" % prefix)
                return rsp
        raise AtError(head[:-1], "NO_INFO", prefix)

    async def _ccho(self, aid):
        cmd = 'AT+CCHO="%s"' % atparse.tohex(aid)
        lines = await self.at.cmd(cmd, None, "+CCHO")
        for line in lines:
            if line.startswith("+CCHO:"):
                v = line[6:].strip()
                break
            if self.q.get("bare_ccho") and line and line[0] not in "+%#^":
                v = line.strip()
                break
        else:
            raise AtError(cmd, "NO_INFO", "+CCHO")
        if not self.q.get("text_session"):
            try:
                return int(v)
            except ValueError:
                pass
        return v.strip('"')


def _with_le(apdu, le):
    n = len(apdu)
    if n <= 5:
        return bytes(apdu[:4]) + bytes((le,))
    if n == 5 + apdu[4]:
        return bytes(apdu) + bytes((le,))
    return bytes(apdu[:n - 1]) + bytes((le,))


class Channel:
    """One logical channel to an application (ISD-R for the IPA)."""

    def __init__(self, uicc, aid):
        self.u = uicc
        self.aid = bytes(aid)
        self.session = None  # +CCHO session id (CGLA path)
        self.number = 0      # logical channel number (CSIM path)
        self.csim = uicc.use_csim
        self.stale = False
        self.closed = False
        self.select_response = None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def _open(self):
        if not self.csim:
            try:
                self.session = await self.u._ccho(self.aid)
                self.stale = False
                if self.u.q.get("cla_session_bits"):
                    self.number = int(self.session)
                return
            except AtError as e:
                if not (e.code == _CME_SIM_FAILURE and self.u.q.get("cme13_csim")) and e.kind != "ERROR":
                    raise
                self.csim = True  # modem without working +CCHO: do it by hand
        rsp = await self.u._csim(b"\x00\x70\x00\x00\x01")
        if rsp[-2:] != b"\x90\x00" or len(rsp) < 3:
            raise ApduError(b"\x00\x70\x00\x00", (rsp[-2] << 8) | rsp[-1])
        self.number = rsp[0]
        self.stale = False
        sel = bytes((cla_for(0x00, self.number), _INS_SELECT, 0x04, 0x00, len(self.aid))) + self.aid + b"\x00"
        data, sw = await self._exchange(sel)
        if sw != 0x9000:
            raise ApduError(sel, sw)
        self.select_response = data

    def _own_cla(self):
        # +CSIM: we own the channel coding; +CGLA: the ME codes it, unless the firmware passes
        # CLA through unchanged (quirk cla_session_bits, where session id = channel number)
        return self.csim or self.u.q.get("cla_session_bits")

    async def _raw(self, apdu):
        if self.csim:
            return await self.u._csim(apdu)
        return await self.u._cgla(self.session, apdu)

    async def _exchange(self, apdu):
        # 6Cxx: resend with Le = xx; 61xx: GET RESPONSE until 9000 (TS 102 221 §7.3.1.1.5)
        rsp = await self._raw(apdu)
        if rsp[-2] == 0x6C:
            apdu = _with_le(apdu, rsp[-1])
            rsp = await self._raw(apdu)
        data = None
        rounds = 0
        while rsp[-2] == 0x61:
            rounds += 1
            if rounds > _MAX_GET_RESPONSE:
                raise ApduError(apdu, 0x6100 | rsp[-1])
            part = rsp[:-2]
            if part:
                data = part if data is None else data + part
            gr = bytes((cla_for(0x00, self.number) if self._own_cla() else 0x00, _INS_GET_RESPONSE, 0, 0,
                        rsp[-1]))
            rsp = await self._raw(gr)
            if rsp[-2] == 0x6C:  # fewer bytes left than announced: ask for exactly those
                rsp = await self._raw(gr[:4] + bytes((rsp[-1],)))
        part = rsp[:-2]
        if data is None:
            data = part
        elif part:
            data = data + part
        return data, (rsp[-2] << 8) | rsp[-1]

    async def transmit(self, apdu):
        """(data, sw) for one command APDU (CLA channel bits are set here).  Reopens the
        channel first when a SIM refresh made it stale."""
        if self.closed:
            raise AtError("transmit", "CHANNEL_CLOSED")
        if self.stale:
            await self.reopen()
        apdu = bytes(apdu)
        if self._own_cla():
            apdu = bytes((cla_for(apdu[0], self.number),)) + apdu[1:]
        try:
            return await self._exchange(apdu)
        except AtError as e:
            if e.code == _CME_SIM_FAILURE and self.u.q.get("cme13_csim") and not self.csim:
                # this firmware refuses +CGLA while no profile is enabled; +CSIM still works
                try:
                    await self.u.at.cmd("AT+CCHC=%s" % self.session)
                except (AtError, AtTimeout):
                    pass
                self.csim = True
                await self._open()
                apdu = bytes((cla_for(apdu[0], self.number),)) + apdu[1:]
            elif e.code != _CME_INVALID_INDEX:
                raise
            else:
                await self.reopen()  # the modem dropped the session (refresh URC lost)
                if self._own_cla():  # the reopened channel may have another number
                    apdu = bytes((cla_for(apdu[0], self.number),)) + apdu[1:]
        return await self._exchange(apdu)

    async def reopen(self):
        self.u.reopens += 1
        if not self.u.q.get("cme13_csim"):
            self.csim = self.u.use_csim
        await self._open()

    async def store_data(self, data, cla=0x80):
        """GlobalPlatform STORE DATA chain (P1 b8 = last block, P2 = block number) in segments
        of the transport's max_segment; returns (data, sw) of the last block."""
        seg = self.u.max_segment
        n = len(data)
        off = 0
        block = 0
        mv = memoryview(data)
        while True:
            chunk = mv[off:off + seg]
            off += len(chunk)
            last = off >= n
            p1 = 0x91 if last else 0x11
            apdu = bytes((cla, _INS_STORE_DATA, p1, block & 0xFF, len(chunk))) + bytes(chunk)
            if last:
                apdu += b"\x00"
            rdata, sw = await self.transmit(apdu)
            if last:
                return rdata, sw
            if sw != 0x9000:
                raise ApduError(apdu, sw)
            block += 1

    async def close(self):
        if self.closed:
            return
        self.closed = True
        if self in self.u.channels:
            self.u.channels.remove(self)
        if self.stale:
            return
        try:
            if self.csim:
                await self.u._csim(bytes((0x00, _INS_MANAGE_CHANNEL, 0x80, self.number, 0x00)))
            else:
                await self.u.at.cmd("AT+CCHC=%s" % self.session)
        except (AtError, AtTimeout):
            pass  # the card side is gone anyway (reset)

# Common base of the vendor dialects: the 3GPP TS 27.007 commands every LTE-M/NB-IoT modem has
# (CEREG, CESQ, CGDCONT/CGPADDR, CGSN, CIMI, CPSMS, CEDRXS) and the UDP socket frame each
# dialect fills with its own commands.
import asyncio
from collections import deque

from micropython import const

from modem import atparse
from modem.at import At, AtError, AtTimeout, params_of

_RX_QUEUE = const(4)
_REG_POLL_MS = const(2000)  # ask +CEREG? in case the registration URC was lost
# Fetch from a socket even without a data URC, in case it was lost; long, because every poll
# is an AT round trip that keeps the modem's UART (and often its radio) awake.
_SOCK_POLL_MS = const(10000)


class Dialect:
    NAME = "generic"
    BOOT_LINES = ()
    INLINE_RAW = ()
    SIM_URCS = ()  # prefixes of SIM status/refresh URCs
    UICC_QUIRKS = "standard"
    RX_SIZE = atparse.RX_SIZE
    MAX_LINE = atparse.MAX_LINE

    def __init__(self, at):
        self.at = at
        self._ready = False
        self.reg = {"stat": 0, "tac": None, "ci": None, "act": None}
        self._reg_ev = asyncio.Event()
        self.sockets = {}
        self.sim_listeners = []
        self.sim_events = 0
        self.eid = None  # filled in by the IPA (ES10c GetEID); here so identity lives in one place
        self.apn_name = None
        at.on_boot(self._booted)
        self.rrc_connected = None  # +CSCON (TS 27.007 §10.1.30): radio connected or idle
        at.on_urc("+CEREG", self._urc_cereg)
        at.on_urc("+CSCON", self._urc_cscon)
        for pfx in self.SIM_URCS:
            at.on_urc(pfx, self._urc_sim)

    @classmethod
    def connect(cls, reader, writer, **kw):
        """An engine for this dialect on the given streams, reader task started, and the dialect."""
        kw.setdefault("rx_size", cls.RX_SIZE)
        kw.setdefault("max_line", cls.MAX_LINE)
        at = At(reader, writer, cls.BOOT_LINES, cls.INLINE_RAW, **kw).start()
        return cls(at)

    def deinit(self):
        self.at.deinit()

    # -- bring-up -------------------------------------------------------------------------

    def _booted(self, line):
        self._ready = False
        self.reg["stat"] = 0
        self._reg_ev.set()
        for s in self.sockets.values():
            s.lost = True
        self._sim_event()

    async def init(self):
        """Echo off, numeric errors, full CEREG reporting; repeated after every modem reboot."""
        try:
            await self.at.cmd("ATE0", 1000)
        except (AtTimeout, AtError):
            await self.at.resync()
        await self.at.cmd("AT+CMEE=1")
        try:
            await self.at.cmd("AT+CEREG=5")
        except AtError:
            await self.at.cmd("AT+CEREG=2")
        try:
            await self.at.cmd("AT+CSCON=1")
        except AtError:
            pass  # optional: only tells when the radio link is up
        await self._init_extra()
        self._ready = True

    async def _init_extra(self):
        pass

    async def ensure(self):
        if not self._ready:
            await self.init()

    async def cmd(self, command, timeout_ms=None, prefix=None, **kw):
        """A command that survives one modem reboot: re-init and retry once on AtReset.  After
        a timeout the next command re-initialises first (a modem without a boot banner may
        have rebooted into echo on / verbose errors)."""
        await self.ensure()
        try:
            return await self.at.cmd(command, timeout_ms, prefix, **kw)
        except AtTimeout:
            self._ready = False
            raise
        except AtError as e:
            if e.kind != "RESET":
                raise
        await self.init()
        return await self.at.cmd(command, timeout_ms, prefix, **kw)

    async def query(self, command, prefix, timeout_ms=None):
        return params_of(await self.cmd(command, timeout_ms, prefix), prefix, command)

    # -- registration ---------------------------------------------------------------------

    def _urc_cereg(self, line):
        r = atparse.parse_cereg(atparse.split_params(line, 7), False)
        self.reg.update(r)
        self._reg_ev.set()

    def _urc_cscon(self, line):
        self.rrc_connected = atparse.split_params(line, 7)[0] == 1

    def _urc_sim(self, line):
        self._sim_event()

    def _sim_event(self):
        self.sim_events += 1
        for fn in self.sim_listeners:
            fn()

    async def registration(self):
        # A +CEREG URC can arrive inside the answer; the answer is the line whose second
        # field is <stat> (an int), the URC has <tac> (a string) there or nothing.
        r = None
        for line in await self.cmd("AT+CEREG?", None, "+CEREG"):
            p = atparse.split_params(line, 7)
            if len(p) >= 2 and isinstance(p[1], int):
                r = atparse.parse_cereg(p, True)
            else:
                self._urc_cereg(line)
        if r is None:
            raise AtError("AT+CEREG?", "NO_INFO", "+CEREG")
        self.reg.update(r)
        return r

    async def wait_registered(self, timeout_ms=60000):
        t0 = asyncio.ticks()
        r = await self.registration()
        while not atparse.registered(r["stat"]):
            left = asyncio.ticks_diff(asyncio.ticks_add(t0, timeout_ms), asyncio.ticks())
            if left <= 0:
                raise AtTimeout("wait +CEREG registered", timeout_ms)
            self._reg_ev.clear()
            try:
                await asyncio.wait_for_ms(self._reg_ev.wait(), min(left, _REG_POLL_MS))
                r = self.reg
            except asyncio.TimeoutError:
                r = await self.registration()  # URC may have been lost
        return r

    async def attach(self, apn, timeout_ms=60000):
        """Define PDP context 1 with `apn`, radio on, wait for EPS registration; returns the IP."""
        await self.ensure()
        self.apn_name = apn
        await self.cmd('AT+CGDCONT=1,"IP","%s"' % apn)
        await self.cmd("AT+CFUN=1")
        await self.wait_registered(timeout_ms)
        await self._activate_pdp()
        return await self.ip_address()

    async def _activate_pdp(self):
        pass

    async def detach(self):
        await self.cmd("AT+CFUN=4")  # flight mode keeps the SIM powered, unlike CFUN=0

    # -- identity -------------------------------------------------------------------------

    async def _bare(self, command, prefix=None):
        """The value of a one-value answer: a bare line, or `prefix: value`."""
        for line in await self.cmd(command, None, prefix):
            v = line[len(prefix) + 1:] if prefix and line.startswith(prefix + ":") else line
            v = v.strip().strip('"')
            if v:
                return v
        raise AtError(command, "NO_INFO")

    async def imei(self):
        return await self._bare("AT+CGSN")

    async def imsi(self):
        return await self._bare("AT+CIMI")

    async def iccid(self):
        return await self._bare("AT+CCID", "+CCID")

    async def identity(self):
        return {"imei": await self.imei(), "imsi": await self.imsi(), "iccid": await self.iccid(),
                "eid": self.eid}

    # -- radio ----------------------------------------------------------------------------

    async def signal(self):
        """{"rsrp": dBm, "rsrq": dB, "sinr": dB or None} from +CESQ (TS 27.007 §8.69)."""
        p = await self.query("AT+CESQ", "+CESQ")
        return cesq_to_db(p)

    async def operator(self):
        """(mcc, mnc) as strings from the numeric +COPS answer."""
        await self.cmd("AT+COPS=3,2")
        p = await self.query("AT+COPS?", "+COPS")
        oper = p[2] if len(p) > 2 else None
        if oper is None:
            return None, None
        oper = str(oper)
        return oper[:3], oper[3:]

    async def cell_info(self):
        r = await self.registration()
        mcc, mnc = await self.operator()
        return {"ci": r["ci"], "tac": r["tac"], "mcc": mcc, "mnc": mnc}

    async def ip_address(self, cid=1):
        p = await self.query("AT+CGPADDR=%d" % cid, "+CGPADDR")
        return p[1] if len(p) > 1 else None

    async def apn(self, cid=1):
        for line in await self.cmd("AT+CGDCONT?", None, "+CGDCONT"):
            p = atparse.split_params(line, 9)
            if p and p[0] == cid:
                return p[2]
        return None

    async def set_psm(self, enable, tau=None, active=None):
        """PSM (TS 27.007 +CPSMS); tau/active are the 8-bit GPRS-timer strings of TS 24.008."""
        if not enable:
            return await self.cmd("AT+CPSMS=0")
        return await self.cmd('AT+CPSMS=1,,,"%s","%s"' % (tau or "00100001", active or "00000011"))

    async def set_edrx(self, enable, act=4, value="0101"):
        """eDRX (TS 27.007 +CEDRXS); act 4 = E-UTRAN (LTE-M), 5 = NB-IoT."""
        if not enable:
            return await self.cmd("AT+CEDRXS=0,%d" % act)
        return await self.cmd('AT+CEDRXS=2,%d,"%s"' % (act, value))

    # -- UDP socket -----------------------------------------------------------------------

    async def udp_open(self, local_port=0):
        await self.ensure()
        sid = await self._sock_open(local_port)
        s = UdpSocket(self, sid)
        self.sockets[sid] = s
        return s

    def _data_ready(self, sid):
        s = self.sockets.get(sid)
        if s is not None:
            s.ready = True
            s.ev.set()

    async def _sock_open(self, local_port):
        raise NotImplementedError

    async def _sock_send(self, sid, data, host, port):
        raise NotImplementedError

    async def _sock_fetch(self, sid):
        """One pending datagram as (bytes, (host, port)), or None when the modem has none."""
        raise NotImplementedError

    async def _sock_close(self, sid):
        raise NotImplementedError

    async def _raw_read(self, command, prefix):
        """For reads answered `<prefix>: <len>,"<ip>",<port>` + <len> raw bytes: the datagram
        and its sender, or None for length 0."""
        p = params_of(await self.cmd(command, None, prefix, raw_prefix=prefix), prefix, command)
        if not p[0]:
            return None
        raw = self.at.last_raw
        if raw is None or len(raw) != p[0]:
            raise AtError(command, "SHORT_READ", p[0])
        return raw, (p[1], p[2])


def cesq_to_db(p):
    # CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp>; 255 = unknown
    rsrq = p[4] if len(p) > 4 else 255
    rsrp = p[5] if len(p) > 5 else 255
    return {
        "rsrp": None if rsrp in (None, 255) else rsrp - 141,
        "rsrq": None if rsrq in (None, 255) else (rsrq - 40) / 2,
        "sinr": None,
    }


class UdpSocket:
    """A UDP socket inside the modem.  Received datagrams are fetched when the dialect's data
    URC arrives (or every poll_ms, in case the URC was lost) into a small bounded queue."""

    def __init__(self, dialect, sid):
        self.d = dialect
        self.sid = sid
        self.rxq = deque((), _RX_QUEUE)
        self.ev = asyncio.Event()
        self.ready = False
        self.lost = False
        self.closed = False
        self.sent = 0
        self.received = 0
        self.poll_ms = _SOCK_POLL_MS

    async def sendto(self, data, remote):
        if self.closed:
            raise OSError(9)  # EBADF
        if self.lost:
            await self._reopen()
        await self.d._sock_send(self.sid, data, remote[0], remote[1])
        self.sent += 1

    async def _reopen(self):
        # the modem rebooted: its socket is gone, open a fresh one under the same object
        self.d.sockets.pop(self.sid, None)
        await self.d.ensure()
        self.sid = await self.d._sock_open(0)
        self.d.sockets[self.sid] = self
        self.lost = False

    async def recvfrom(self, timeout_ms=None):
        """(bytes, (host, port)); raises AtTimeout when nothing came within timeout_ms."""
        start = asyncio.ticks()
        while True:
            if self.rxq:
                self.received += 1
                return self.rxq.popleft()
            if self.closed:
                raise OSError(9)
            if self.lost:
                await self._reopen()
            if self.ready:
                self.ready = False
                await self._fetch()
                continue
            wait = self.poll_ms
            if timeout_ms is not None:
                left = timeout_ms - asyncio.ticks_diff(asyncio.ticks(), start)
                if left <= 0:
                    raise AtTimeout("recvfrom socket %s" % self.sid, timeout_ms)
                wait = min(wait, left)
            self.ev.clear()
            try:
                await asyncio.wait_for_ms(self.ev.wait(), wait)
            except asyncio.TimeoutError:
                self.ready = True  # look anyway: the data URC may have been lost

    async def _fetch(self):
        while len(self.rxq) < _RX_QUEUE:
            got = await self.d._sock_fetch(self.sid)
            if got is None:
                return
            self.rxq.append(got)
        self.ready = True  # queue full, more may wait in the modem

    async def close(self):
        if self.closed:
            return
        self.closed = True
        self.ev.set()
        self.d.sockets.pop(self.sid, None)
        if not self.lost:
            try:
                await self.d._sock_close(self.sid)
            except (AtError, AtTimeout):
                pass

"""The dialect-independent part of the simulated modem: command-line framing and echo, the
3GPP TS 27.007 commands, registration state machine, operator networks chosen by the enabled
profile, UICC access forwarded to a Card, real UDP sockets on loopback, and fault injection.

A dialect subclass (dialects.py) adds its socket commands, URCs and information commands."""

import asyncio
import logging
import random

log = logging.getLogger("modem_sim")

# Operator networks: the enabled profile's MCC/MNC picks one; unknown PLMNs get the first.
NETWORKS = (
    {"plmn": "24201", "name": "Nordnett", "tac": 0x00B7, "ci": 0x00011B07, "pci": 7,
     "earfcn": 6300, "ip": "10.42.0.%d", "rsrp": 60, "rsrq": 28, "sinr": 14},
    {"plmn": "26295", "name": "Alpennetz", "tac": 0x2F10, "ci": 0x0A3C4D01, "pci": 211,
     "earfcn": 1300, "ip": "10.77.3.%d", "rsrp": 45, "rsrq": 20, "sinr": 6},
    # the test PLMNs of the eUICC simulator's factory profiles
    {"plmn": "00101", "name": "Operator One", "tac": 0x0101, "ci": 0x00A1B2C3, "pci": 101,
     "earfcn": 6200, "ip": "10.1.1.%d", "rsrp": 55, "rsrq": 25, "sinr": 10},
    {"plmn": "00102", "name": "Operator Two", "tac": 0x0202, "ci": 0x00D4E5F6, "pci": 202,
     "earfcn": 2850, "ip": "10.2.2.%d", "rsrp": 50, "rsrq": 22, "sinr": 8},
)

# Quirk profiles (mirrors firmware/modem/uicc.py QUIRKS, seen from the modem side).
QUIRKS = {
    "standard": {},
    "nrf91_slm": {"cme13_no_profile": True},
    "bg95": {"big_session": True, "max_cmd": 560},
    "sim7080": {"bare_ccho": True, "cgla_delay": 0.2},
    "sara_r5": {"no_ccho": True, "max_cmd": 300},
    "raw_cla": {"raw_cla": True},  # +CGLA forwards CLA unchanged; session id = channel
}

_CME_SIM_NOT_INSERTED = 10
_CME_SIM_FAILURE = 13
_CME_INVALID_INDEX = 21
_CME_NOT_ALLOWED = 3
_CME_NO_NETWORK = 30


class CmdError(Exception):
    def __init__(self, code=None):
        super().__init__(code)
        self.code = code


class Link:
    """Where output goes: a TCP writer or a pty master fd."""

    def write(self, data):
        raise NotImplementedError


class SimModem:
    NAME = "generic"
    BOOT_LINES = ()
    SIM_URC = None  # text of the SIM status URC after a refresh
    IMEI = "490154203237518"

    def __init__(self, card=None, quirks=None, reg_delay=0.05, seed=1, no_route=()):
        self.card = card
        # PLMNs whose network attaches and hands out an IP but carries no user data: a
        # profile whose operator cannot reach the servers (the rollback flows need one).
        self.no_route = set(no_route)
        self.q = dict(QUIRKS.get(quirks if quirks is not None else self.NAME, {}))
        self.reg_delay = reg_delay
        self.rng = random.Random(seed)
        self.link = None
        self.echo = True
        self.cmee = 0
        self.cereg_n = 0
        self.cfun = 0
        self.stat = 0
        self.network = None
        self.pdp = {}
        self.sessions = {}  # session id -> logical channel number
        self.sockets = {}
        self.faults = {"mute": 0, "garble": 0.0, "drop_urc": 0.0, "reset_on": None, "delay": 0.0,
                       "storm_on": None, "mute_on": None}
        self.counters = {"commands": 0, "cgla": 0, "csim": 0, "urcs": 0, "dropped_urcs": 0,
                         "garbage": 0, "resets": 0, "too_long": 0, "no_route_dropped": 0}
        self._inbuf = bytearray()
        self._payload = None  # (needed, callback) while collecting bytes after a prompt
        self._reg_task = None
        self._queue = asyncio.Queue()
        self._worker = None
        if card is not None and hasattr(card, "on_refresh"):
            card.on_refresh = self._card_refresh

    # -- output ---------------------------------------------------------------------------

    def _raw_out(self, data):
        if self.link is not None:
            self.link.write(data)

    def _noise(self):
        g = self.faults["garble"]
        if g and self.rng.random() < g:
            n = self.rng.randint(3, 40)
            junk = bytes(self.rng.choice((0x01, 0x07, 0x1B, 0x80, 0xA5, 0xFE, 0x7F))
                         if i % 3 == 0 else self.rng.randint(0x21, 0x7E) for i in range(n))
            self.counters["garbage"] += 1
            self._raw_out(b"\r\n" + junk + b"\r\n")

    def line(self, text):
        self._noise()
        self._raw_out(b"\r\n" + text.encode() + b"\r\n")

    def urc(self, text):
        d = self.faults["drop_urc"]
        if d and self.rng.random() < d:
            self.counters["dropped_urcs"] += 1
            return
        self.counters["urcs"] += 1
        self.line(text)

    def _final_error(self, code):
        if code is None or self.cmee == 0:
            self.line("ERROR")
        else:
            self.line("+CME ERROR: %d" % code)

    # -- input ----------------------------------------------------------------------------

    def attach_link(self, link):
        self.link = link
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    def detach_link(self, link):
        if self.link is link:
            self.link = None

    def feed(self, data):
        self._inbuf += data
        while self._inbuf:
            if self._payload is not None:
                need, done = self._payload
                if len(self._inbuf) < need:
                    return
                chunk = bytes(self._inbuf[:need])
                del self._inbuf[:need]
                self._payload = None
                self._queue.put_nowait(("payload", done, chunk))
                continue
            i = self._inbuf.find(b"\r")
            j = self._inbuf.find(b"\n")
            if i < 0 or (0 <= j < i):
                i = j
            if i < 0:
                if len(self._inbuf) > 4096:
                    self._inbuf.clear()
                return
            raw = bytes(self._inbuf[:i])
            del self._inbuf[:i + 1]
            text = raw.decode("latin-1").strip()
            if not text:
                continue
            if self.echo:
                self._raw_out(raw + b"\r")
            self._queue.put_nowait(("cmd", text, None))

    async def _work(self):
        # Commands are answered one at a time, in order, like a modem's AT parser.
        while True:
            kind, a, b = await self._queue.get()
            try:
                if kind == "payload":
                    await a(b)
                else:
                    await self._command(a)
            except Exception:  # a simulator bug must not kill the modem: answer ERROR
                log.exception("handler failed for %r", a)
                self.line("ERROR")

    async def _command(self, text):
        self.counters["commands"] += 1
        f = self.faults
        if f["mute"]:
            f["mute"] -= 1
            return
        if f["mute_on"] and text.upper().startswith(f["mute_on"]):
            f["mute_on"] = None
            return
        if f["reset_on"] and text.upper().startswith(f["reset_on"]):
            f["reset_on"] = None
            await self.reboot()
            return
        if f["storm_on"] and text.upper().startswith(f["storm_on"][0]):
            n = f["storm_on"][1]
            f["storm_on"] = None
            self.storm(n)
        if f["delay"]:
            await asyncio.sleep(f["delay"])
        max_cmd = self.q.get("max_cmd")  # the cap of some firmwares' SIM-access command parser
        if max_cmd and len(text) > max_cmd and text[2:7].upper() in ("+CSIM", "+CGLA"):
            self.counters["too_long"] += 1
            self.line("ERROR")
            return
        up = text.upper()
        if not up.startswith("AT"):
            self.line("ERROR")
            return
        body = text[2:]
        if body == "" or body.upper() in ("E0", "E1", "E"):
            if body.upper() == "E0":
                self.echo = False
            elif body:
                self.echo = True
            self.line("OK")
            return
        # split name / kind / args: AT+NAME=args, AT+NAME?, AT+NAME=?, AT+NAME
        name, sep, args = body, "", ""
        for k, ch in enumerate(body):
            if ch in "=?":
                name, sep, args = body[:k], ch, body[k + 1:]
                break
        if sep == "=" and args == "?":
            sep, args = "=?", ""
        handler = self._handler(name.upper())
        if handler is None:
            self.line("ERROR")
            return
        try:
            out = await handler(sep, args)
        except CmdError as e:
            self._final_error(e.code)
            return
        if out is None:
            return  # handler answered itself (prompt flows)
        for ln in out:
            self.line(ln)
        self.line("OK")

    def _handler(self, name):
        # AT+CESQ -> at_cesq, AT%CESQ -> at_p_cesq, AT#XSOCKET -> at_h_xsocket
        lead = {"+": "", "%": "p_", "#": "h_"}.get(name[:1], None)
        if lead is None:
            return None
        attr = "at_" + lead + "".join(c if c.isalnum() else "_" for c in name[1:]).lower()
        return getattr(self, attr, None)

    def expect_payload(self, n, done):
        """After a `>` prompt: the next n bytes are data, handed to `done` (async)."""
        self._payload = (n, done)

    # -- boot, faults ---------------------------------------------------------------------

    async def reboot(self):
        """Power cycle: sockets and channels gone, echo on, boot lines after a short while."""
        self.counters["resets"] += 1
        for s in list(self.sockets.values()):
            s.close()
        self.sockets.clear()
        self.sessions.clear()
        if self.card is not None:
            self.card.reset()
        self.echo = True
        self.cmee = 0
        self.cereg_n = 0
        self.stat = 0
        self._payload = None
        self._inbuf.clear()
        await asyncio.sleep(0.05)
        for b in self.BOOT_LINES:
            self.line(b)
        self.boot_extra()
        if self.cfun == 1:
            self._start_registration()

    def boot_extra(self):
        pass

    def storm(self, n):
        """n URCs back to back, known and unknown kinds mixed."""
        for i in range(n):
            k = i % 4
            if k == 0:
                self.urc('+CEREG: %d,"%04X","%08X",7' % (self.stat or 2, self.network["tac"] if self.network else 1, i))
            elif k == 1:
                self.urc("+CSCON: %d" % (i & 1))
            elif k == 2:
                self.urc("+XUNKNOWN: %d,\"storm\"" % i)
            else:
                self.storm_extra(i)

    def storm_extra(self, i):
        self.urc("+CSCON: 0")

    # -- network --------------------------------------------------------------------------

    def profile(self):
        if self.card is None:
            return {"iccid": "8947000000000000001", "imsi": "242010000000001", "mcc": "242",
                    "mnc": "01", "apn": "iot.nordnett"}
        return self.card.enabled_profile()

    def _pick_network(self):
        p = self.profile()
        if p is None:
            return None
        plmn = "%s%s" % (p["mcc"], p["mnc"])
        for n in NETWORKS:
            if n["plmn"] == plmn:
                return n
        # any other PLMN: a network of its own, derived from the PLMN
        h = int(plmn) if plmn.isdigit() else 7
        return {"plmn": plmn, "name": "PLMN " + plmn, "tac": h & 0xFFFF, "ci": (h * 2654435761) & 0x0FFFFFFF,
                "pci": h % 504, "earfcn": 6300, "ip": "10.%d.%d.%%d" % (h % 250, (h // 250) % 250),
                "rsrp": 50, "rsrq": 22, "sinr": 8}

    def _set_stat(self, stat):
        self.stat = stat
        if self.cereg_n:
            self.urc(self._cereg_text(False))

    def _cereg_text(self, query):
        n = self.network
        head = "+CEREG: %d," % self.cereg_n if query else "+CEREG: "
        if self.stat in (1, 5) and n is not None and self.cereg_n >= 2:
            return head + '%d,"%04X","%08X",7' % (self.stat, n["tac"], n["ci"])
        return head + "%d" % self.stat

    def _start_registration(self):
        if self._reg_task is not None:
            self._reg_task.cancel()
        self._reg_task = asyncio.get_running_loop().create_task(self._register())

    async def _register(self):
        self._set_stat(2)
        await asyncio.sleep(self.reg_delay)
        net = self._pick_network()
        if net is None:
            self._set_stat(3)  # no profile: registration denied (no valid subscription)
            return
        self.network = net
        self._set_stat(1)
        self.on_registered_rrc()
        self.on_registered()

    def on_registered(self):
        pass

    def deregister(self):
        if self._reg_task is not None:
            self._reg_task.cancel()
            self._reg_task = None
        self.network = None
        if self.stat:
            self._set_stat(0)

    def ip(self):
        if self.network is None or self.stat not in (1, 5):
            return None
        return self.network["ip"] % (10 + (self.card_index() % 200))

    def routed(self):
        """Whether the network in use carries UDP (False on a PLMN given in no_route)."""
        return self.network is None or self.network["plmn"] not in self.no_route

    def card_index(self):
        p = self.profile()
        return int(p["imsi"][-3:]) if p else 0

    def _card_refresh(self):
        # The card enabled or disabled a profile: detach, drop channels, tell the host,
        # re-attach on the network of the new profile (SGP.32 / TS 102 223 REFRESH).
        asyncio.get_running_loop().call_soon(self._do_refresh)

    def _do_refresh(self):
        # REFRESH in "UICC reset" mode: the modem resets the card, every channel is gone
        self.sessions.clear()
        if self.card is not None:
            self.card.reset()
        for s in list(self.sockets.values()):
            s.close()
            self.socket_closed_urc(s)
        self.sockets.clear()
        self.deregister()
        if self.SIM_URC:
            self.urc(self.SIM_URC)
        if self.cfun == 1:
            self._start_registration()

    def socket_closed_urc(self, s):
        pass

    def sock(self, args, code=None):
        """The socket named by the first argument; CmdError(code) when there is none."""
        s = self.sockets.get(int(args.split(",")[0]))
        if s is None:
            raise CmdError(code)
        return s

    def close_sock(self, args, code=None):
        s = self.sock(args, code)
        self.sockets.pop(s.sid).close()
        return []

    # -- 27.007 commands ------------------------------------------------------------------

    async def at_xstorm(self, sep, args):
        """Simulator-only hook (benchmarks): a URC storm of N lines, then OK."""
        self.storm(int(args))
        return []

    async def at_cmee(self, sep, args):
        if sep == "=":
            self.cmee = int(args or 0)
            return []
        return ["+CMEE: %d" % self.cmee]

    async def at_cereg(self, sep, args):
        if sep == "=":
            self.cereg_n = int(args or 0)
            return []
        if sep == "?":
            return [self._cereg_text(True)]
        return ["+CEREG: (0-5)"]

    async def at_cfun(self, sep, args):
        if sep == "?":
            return ["+CFUN: %d" % self.cfun]
        if sep != "=":
            raise CmdError(_CME_NOT_ALLOWED)
        v = int(args.split(",")[0])
        await asyncio.sleep(0.01)
        if v == 1 and self.cfun != 1:
            self.cfun = 1
            self._start_registration()
        elif v != 1:
            self.cfun = v
            self.deregister()
        return []

    async def at_cops(self, sep, args):
        if sep == "=":
            return []
        if sep == "?":
            if self.network is None:
                return ["+COPS: 0"]
            return ['+COPS: 0,2,"%s",7' % self.network["plmn"]]
        return ['+COPS: (2,"%s","%s","%s",7),,(0-4),(0-2)' % (n["name"], n["name"][:6], n["plmn"])
                for n in NETWORKS]

    async def at_cscon(self, sep, args):
        if sep == "=":
            self.cscon_n = int(args or 0)
            return []
        return ["+CSCON: %d,%d" % (getattr(self, "cscon_n", 0), 1 if self.network else 0)]

    def on_registered_rrc(self):
        if getattr(self, "cscon_n", 0):
            self.urc("+CSCON: 1")

    async def at_cesq(self, sep, args):
        n = self.network
        if n is None:
            return ["+CESQ: 99,99,255,255,255,255"]
        return ["+CESQ: 99,99,255,255,%d,%d" % (n["rsrq"], n["rsrp"])]

    async def at_cgsn(self, sep, args):
        return [self.IMEI]

    async def at_cimi(self, sep, args):
        p = self.profile()
        if p is None:
            raise CmdError(_CME_SIM_FAILURE)
        return [p["imsi"]]

    def iccid(self):
        p = self.profile()
        if p is None:
            raise CmdError(_CME_SIM_FAILURE)
        return p["iccid"]

    async def at_cgdcont(self, sep, args):
        if sep == "=":
            parts = [a.strip().strip('"') for a in args.split(",")]
            self.pdp[int(parts[0])] = (parts[1] if len(parts) > 1 else "IP",
                                       parts[2] if len(parts) > 2 else "")
            return []
        return ['+CGDCONT: %d,"%s","%s","%s",0,0' % (cid, t, apn, self.ip() or "0.0.0.0")
                for cid, (t, apn) in sorted(self.pdp.items())]

    async def at_cgpaddr(self, sep, args):
        cid = int(args or 1)
        ip = self.ip()
        return ['+CGPADDR: %d,"%s"' % (cid, ip)] if ip else ["+CGPADDR: %d" % cid]

    async def at_cpsms(self, sep, args):
        return [] if sep == "=" else ['+CPSMS: 0,,,"00100001","00000011"']

    async def at_cedrxs(self, sep, args):
        return [] if sep == "=" else ['+CEDRXS: 4,"0101"']

    async def at_cpin(self, sep, args):
        return ["+CPIN: READY" if self.card is None or self.card_present() else "+CPIN: SIM not inserted"]

    def card_present(self):
        return True

    # -- UICC -----------------------------------------------------------------------------

    def _need_card(self):
        if self.card is None:
            raise CmdError(_CME_SIM_NOT_INSERTED)

    def _card(self, apdu):
        return bytes(self.card.transmit(bytes(apdu)))

    def _select_on(self, ch, aid):
        cla = ch if ch < 4 else 0x40 | (ch - 4)
        rsp = self._card(bytes((cla, 0xA4, 0x04, 0x00, len(aid))) + aid + b"\x00")
        while len(rsp) >= 2 and rsp[-2] == 0x61:  # the modem fetches the FCI itself
            rsp = self._card(bytes((cla, 0xC0, 0, 0, rsp[-1])))
        return rsp

    def _new_session(self, ch):
        if self.q.get("big_session"):
            sid = 0x80000000 + ch * 0x101
        else:
            sid = ch
        self.sessions[sid] = ch
        return sid

    async def at_ccho(self, sep, args):
        if self.q.get("no_ccho"):
            raise CmdError(None)
        self._need_card()
        aid = bytes.fromhex(args.strip().strip('"'))
        rsp = self._card(b"\x00\x70\x00\x00\x01")
        if rsp[-2:] != b"\x90\x00":
            raise CmdError(_CME_NOT_ALLOWED)
        ch = rsp[0]
        sel = self._select_on(ch, aid)
        if sel[-2:] != b"\x90\x00":
            self._card(bytes((0x00, 0x70, 0x80, ch, 0x00)))
            raise CmdError(_CME_NOT_ALLOWED)
        sid = self._new_session(ch)
        if self.q.get("bare_ccho"):
            return ["%d" % sid]
        return ["+CCHO: %d" % sid]

    def _session(self, text):
        try:
            sid = int(text.strip().strip('"'))
        except ValueError:
            raise CmdError(_CME_INVALID_INDEX)
        if sid not in self.sessions:
            raise CmdError(_CME_INVALID_INDEX)
        return sid

    async def at_cchc(self, sep, args):
        if self.q.get("no_ccho"):
            raise CmdError(None)
        self._need_card()
        sid = self._session(args)
        ch = self.sessions.pop(sid)
        self._card(bytes((0x00, 0x70, 0x80, ch, 0x00)))
        return []

    @staticmethod
    def _hex_arg(args, what):
        parts = args.split(",")
        try:
            n = int(parts[-2])
            h = parts[-1].strip().strip('"')
            data = bytes.fromhex(h)
        except (ValueError, IndexError):
            raise CmdError(_CME_NOT_ALLOWED)
        if n != len(h):
            raise CmdError(_CME_NOT_ALLOWED)
        return parts, data

    async def at_cgla(self, sep, args):
        if self.q.get("no_ccho"):
            raise CmdError(None)
        self._need_card()
        parts, apdu = self._hex_arg(args, "CGLA")
        sid = self._session(parts[0])
        if self.q.get("cme13_no_profile") and self.card.enabled_profile() is None:
            raise CmdError(_CME_SIM_FAILURE)
        if self.q.get("cgla_delay"):
            await asyncio.sleep(self.q["cgla_delay"])
        ch = self.sessions[sid]
        if len(apdu) < 4:
            raise CmdError(_CME_NOT_ALLOWED)
        # the ME codes the session's channel into CLA (TS 102 221 §10.1.1)
        cla = apdu[0]
        if not self.q.get("raw_cla"):
            cla = (cla & 0x80) | (cla & 0x0C) | ch if ch < 4 else (cla & 0x80) | 0x40 | (ch - 4)
        self.counters["cgla"] += 1
        rsp = self._card(bytes((cla,)) + apdu[1:])
        h = rsp.hex().upper()
        return ['+CGLA: %d,"%s"' % (len(h), h)]

    async def at_csim(self, sep, args):
        self._need_card()
        _, apdu = self._hex_arg(args, "CSIM")
        if len(apdu) < 4:
            raise CmdError(_CME_NOT_ALLOWED)
        self.counters["csim"] += 1
        rsp = self._card(apdu)
        if apdu[1] == 0x70 and apdu[2] == 0x80 and rsp[-2:] == b"\x90\x00":
            # MANAGE CHANNEL close through +CSIM: the session on that channel is gone too
            for sid, ch in list(self.sessions.items()):
                if ch == apdu[3]:
                    del self.sessions[sid]
        h = rsp.hex().upper()
        return ['+CSIM: %d,"%s"' % (len(h), h)]


class UdpSock:
    """A real UDP socket on loopback behind one modem socket id."""

    def __init__(self, modem, sid, local_port=0, remote=None):
        self.modem = modem
        self.sid = sid
        self.remote = remote
        self.rx = []  # (data, (host, port))
        self.transport = None
        self.local_port = local_port

    async def open(self):
        loop = asyncio.get_running_loop()
        sock = self

        class _Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                if not sock.modem.routed():
                    sock.modem.counters["no_route_dropped"] += 1
                    return
                sock.rx.append((data, addr[:2]))
                if len(sock.rx) > 16:
                    sock.rx.pop(0)  # modem buffer full: oldest datagram lost
                sock.modem.data_urc(sock)

        self.transport, _ = await loop.create_datagram_endpoint(
            _Proto, local_addr=("127.0.0.1", self.local_port))
        return self

    def sendto(self, data, addr):
        # The modem accepts the datagram either way (SEND OK); an isolated network loses it.
        if not self.modem.routed():
            self.modem.counters["no_route_dropped"] += 1
            return
        self.transport.sendto(data, addr)

    def pop(self):
        return self.rx.pop(0) if self.rx else None

    def close(self):
        if self.transport is not None:
            self.transport.close()
            self.transport = None

"""The four vendor dialects of the simulated modem: socket commands, data URCs, information
commands, boot lines and SIM URCs as each vendor's AT manual describes them."""


from .core import CmdError, SimModem, UdpSock

_CME_NOT_ALLOWED = 3
_CME_INVALID_INDEX = 21


def _unq(s):
    return s.strip().strip('"')


class Nrf91Slm(SimModem):
    NAME = "nrf91_slm"
    BOOT_LINES = ("Ready",)
    SIM_URC = "%XSIM: 1"

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.cesq_urc = False
        self.apoll = set()
        self._next = 0

    async def at_p_xsim(self, sep, args):
        return [] if sep == "=" else ["%XSIM: 1"]

    async def at_p_cesq(self, sep, args):
        self.cesq_urc = args.strip() == "1"
        return []

    def on_registered(self):
        n = self.network
        if self.cesq_urc:
            self.urc("%%CESQ: %d,2,%d,3" % (n["rsrp"] - 1, n["rsrq"]))

    async def at_p_xiccid(self, sep, args):
        return ["%XICCID: " + self.iccid()]

    async def at_p_xmonitor(self, sep, args):
        n = self.network
        if n is None:
            return ["%%XMONITOR: %d" % self.stat]
        return ['%%XMONITOR: %d,"%s","%s","%s","%04X",7,20,"%08X",%d,%d,%d,%d,"","11100000","00010011","01001001"'
                % (self.stat, n["name"], n["name"][:6], n["plmn"], n["tac"], n["ci"], n["pci"],
                   n["earfcn"], n["rsrp"] - 1, n["sinr"] + 24)]

    async def at_h_xsocket(self, sep, args):
        if sep == "?":
            return ["#XSOCKET: %d,2,17" % h for h in sorted(self.sockets)]
        parts = [a.strip() for a in args.split(",")]
        if parts[0] == "0":
            if not self.sockets:
                raise CmdError(_CME_NOT_ALLOWED)
            h = max(self.sockets)
            self.sockets.pop(h).close()
            self.apoll.discard(h)
            return ['#XSOCKET: 0,"closed"']
        if parts[:2] != ["1", "2"]:
            raise CmdError(_CME_NOT_ALLOWED)
        h = self._next
        self._next = (h + 1) % 8
        self.sockets[h] = await UdpSock(self, h).open()
        return ["#XSOCKET: %d,2,17" % h]

    async def at_h_xbind(self, sep, args):
        if not self.sockets:
            raise CmdError(_CME_NOT_ALLOWED)
        h = max(self.sockets)
        self.sockets[h].close()
        self.sockets[h] = await UdpSock(self, h, int(args)).open()
        return []

    async def at_h_xapoll(self, sep, args):
        parts = [int(a) for a in args.split(",")]
        if parts[0] == 1:
            self.apoll.update(parts[2:])
        else:
            self.apoll.clear()
        return []

    def data_urc(self, s):
        if s.sid in self.apoll:
            self.urc("#XAPOLL: %d,1" % s.sid)

    async def at_h_xsendto(self, sep, args):
        parts = args.split(",")
        if not self.sockets or len(parts) < 4 or parts[2].strip() != "0":
            raise CmdError(_CME_NOT_ALLOWED)
        data = bytes.fromhex(_unq(parts[3]))
        self.sockets[max(self.sockets)].sendto(data, (_unq(parts[0]), int(parts[1])))
        return ["#XSENDTO: %d" % len(data)]

    async def at_h_xrecvfrom(self, sep, args):
        if not self.sockets:
            raise CmdError(_CME_NOT_ALLOWED)
        got = self.sockets[max(self.sockets)].pop()
        if got is None:
            raise CmdError(None)  # EAGAIN: SLM answers ERROR
        data, (host, port) = got
        self._raw_out(b'\r\n#XRECVFROM: %d,"%s",%d\r\n' % (len(data), host.encode(), port) + data)
        self.line("OK")
        return None

    def storm_extra(self, i):
        self.urc("%%CESQ: %d,2,20,3" % (i % 97))


class QuectelBg95(SimModem):
    NAME = "bg95"
    BOOT_LINES = ("RDY", "APP RDY")
    SIM_URC = "+QUSIM: 1"

    def boot_extra(self):
        self.line("+CPIN: READY")

    async def at_qccid(self, sep, args):
        return ["+QCCID: " + self.iccid()]

    async def at_qcsq(self, sep, args):
        n = self.network
        if n is None:
            return ['+QCSQ: "NOSERVICE"']
        return ['+QCSQ: "eMTC",%d,%d,%d,%d' % (n["rsrp"] - 141 + 20, n["rsrp"] - 141,
                                              (n["sinr"] + 20) * 5, (n["rsrq"] - 40) // 2)]

    async def at_qeng(self, sep, args):
        n = self.network
        if n is None:
            return ['+QENG: "servingcell","SEARCH"']
        return ['+QENG: "servingcell","NOCONN","eMTC","FDD",%s,%s,%X,%d,%d,20,5,5,%X,%d,%d,%d,%d,30'
                % (n["plmn"][:3], n["plmn"][3:], n["ci"], n["pci"], n["earfcn"], n["tac"],
                   n["rsrp"] - 141, (n["rsrq"] - 40) // 2, n["rsrp"] - 121, n["sinr"])]

    async def at_qiact(self, sep, args):
        if sep == "?":
            ip = self.ip()
            return ['+QIACT: 1,1,1,"%s"' % ip] if ip else []
        if self.ip() is None:
            raise CmdError(None)
        return []

    async def at_qiopen(self, sep, args):
        parts = [_unq(a) for a in args.split(",")]
        cid = int(parts[1])
        if cid in self.sockets or parts[2] != "UDP SERVICE":
            raise CmdError(None)
        self.line("OK")
        try:
            self.sockets[cid] = await UdpSock(self, cid, int(parts[5] or 0)).open()
            self.urc("+QIOPEN: %d,0" % cid)
        except OSError:
            self.urc("+QIOPEN: %d,566" % cid)
        return None

    async def at_qisend(self, sep, args):
        parts = [_unq(a) for a in args.split(",")]
        cid, n = int(parts[0]), int(parts[1])
        s = self.sockets.get(cid)
        if s is None or len(parts) < 4 or not 0 < n <= 1460:
            raise CmdError(None)

        async def done(data):
            s.sendto(data, (parts[2], int(parts[3])))
            self.line("SEND OK")

        self.expect_payload(n, done)
        self._raw_out(b"\r\n> ")
        return None

    async def at_qistate(self, sep, args):
        parts = [int(a) for a in args.split(",")]
        s = self.sockets.get(parts[1]) if parts[0] == 1 else None
        if s is None:
            return []
        return ['+QISTATE: %d,"UDP SERVICE","127.0.0.1",0,%d,2,1,%d,0,"usbmodem"'
                % (s.sid, s.transport.get_extra_info("sockname")[1], s.sid)]

    def data_urc(self, s):
        self.urc('+QIURC: "recv",%d' % s.sid)

    def socket_closed_urc(self, s):
        self.urc('+QIURC: "closed",%d' % s.sid)

    async def at_qird(self, sep, args):
        got = self.sock(args).pop()
        if got is None:
            return ["+QIRD: 0"]
        data, (host, port) = got
        self._raw_out(b'\r\n+QIRD: %d,"%s",%d\r\n' % (len(data), host.encode(), port) + data)
        self.line("OK")
        return None

    async def at_qiclose(self, sep, args):
        return self.close_sock(args)

    def storm_extra(self, i):
        self.urc('+QIND: "act","eMTC"')


class SimcomSim7080(SimModem):
    NAME = "sim7080"
    BOOT_LINES = ("RDY",)
    SIM_URC = "+CPIN: READY"

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.pdp_active = False

    def boot_extra(self):
        self.pdp_active = False
        self.line("+CPIN: READY")

    async def at_ccid(self, sep, args):
        return [self.iccid()]

    async def at_cpsi(self, sep, args):
        n = self.network
        if n is None:
            return ["+CPSI: NO SERVICE,Online"]
        return ["+CPSI: LTE CAT-M1,Online,%s-%s,0x%04X,%d,%d,EUTRAN-BAND20,%d,5,5,%d,%d,%d,%d"
                % (n["plmn"][:3], n["plmn"][3:], n["tac"], n["ci"], n["pci"], n["earfcn"],
                   (n["rsrq"] - 40) // 2, n["rsrp"] - 141, n["rsrp"] - 121, n["sinr"])]

    async def at_cnact(self, sep, args):
        if sep == "?":
            ip = self.ip() if self.pdp_active else None
            return ['+CNACT: 0,%d,"%s"' % (1 if ip else 0, ip or "0.0.0.0"),
                    '+CNACT: 1,0,"0.0.0.0"']
        parts = [int(a) for a in args.split(",")[:2]]
        if parts[1] == 1:
            if self.pdp_active or self.ip() is None:
                raise CmdError(None)
            self.pdp_active = True
            self.line("OK")
            self.urc("+APP PDP: %d,ACTIVE" % parts[0])
            return None
        self.pdp_active = False
        return []

    async def at_caopen(self, sep, args):
        parts = [_unq(a) for a in args.split(",")]
        cid = int(parts[0])
        if cid in self.sockets or parts[2] != "UDP" or not self.pdp_active:
            return ["+CAOPEN: %d,1" % cid]
        self.sockets[cid] = await UdpSock(self, cid, 0, (parts[3], int(parts[4]))).open()
        return ["+CAOPEN: %d,0" % cid]

    async def at_casend(self, sep, args):
        parts = [int(a) for a in args.split(",")[:2]]
        s = self.sockets.get(parts[0])
        if s is None or not 0 < parts[1] <= 1460:
            raise CmdError(None)

        async def done(data):
            s.sendto(data, s.remote)
            self.line("OK")

        self.expect_payload(parts[1], done)
        self._raw_out(b"\r\n>")
        return None

    def data_urc(self, s):
        self.urc("+CADATAIND: %d" % s.sid)

    def socket_closed_urc(self, s):
        self.urc("+CASTATE: %d,0" % s.sid)

    async def at_carecv(self, sep, args):
        parts = [int(a) for a in args.split(",")[:2]]
        got = self.sock(args).pop()
        if got is None:
            return ["+CARECV: 0"]
        data = got[0][:parts[1]]
        self._raw_out(b"\r\n+CARECV: %d," % len(data) + data + b"\r\n")
        self.line("OK")
        return None

    async def at_caclose(self, sep, args):
        return self.close_sock(args)

    def storm_extra(self, i):
        self.urc("+CSCON: 1")


class UbloxSaraR5(SimModem):
    NAME = "sara_r5"
    BOOT_LINES = ()
    SIM_URC = "+UUSIMSTAT: 1"

    async def at_udconf(self, sep, args):
        return []

    async def at_usimstat(self, sep, args):
        return []

    async def at_ccid(self, sep, args):
        return ["+CCID: " + self.iccid()]

    async def at_ucged(self, sep, args):
        n = self.network
        if n is None:
            return ["+UCGED: 2", "7,0,001,01"]
        return ["+UCGED: 2", "7,4,%s,%s" % (n["plmn"][:3], n["plmn"][3:]),
                "%d,20,5,5,%X,%X,%d,C0FFEE01,8001,01,%d,%d,%d,2,1,15,%d,10,5,0,255,255,0,0"
                % (n["earfcn"], n["tac"], n["ci"], n["pci"], n["rsrp"], n["rsrq"], n["sinr"], n["rsrp"])]

    async def at_usocr(self, sep, args):
        parts = [int(a) for a in args.split(",")]
        if parts[0] != 17:
            raise CmdError(_CME_NOT_ALLOWED)
        sid = next(i for i in range(7) if i not in self.sockets)
        self.sockets[sid] = await UdpSock(self, sid, parts[1] if len(parts) > 1 else 0).open()
        return ["+USOCR: %d" % sid]

    async def at_usost(self, sep, args):
        parts = args.split(",")
        s = self.sock(args, _CME_INVALID_INDEX)
        data = bytes.fromhex(_unq(parts[4]))
        if len(data) != int(parts[3]):
            raise CmdError(_CME_NOT_ALLOWED)
        s.sendto(data, (_unq(parts[1]), int(parts[2])))
        return ["+USOST: %d,%d" % (s.sid, len(data))]

    def data_urc(self, s):
        self.urc("+UUSORF: %d,%d" % (s.sid, len(s.rx[-1][0]) if s.rx else 0))

    def socket_closed_urc(self, s):
        self.urc("+UUSOCL: %d" % s.sid)

    async def at_usorf(self, sep, args):
        s = self.sock(args, _CME_INVALID_INDEX)
        got = s.pop()
        if got is None:
            return ['+USORF: %d,"",0,0,""' % s.sid]
        data, (host, port) = got
        return ['+USORF: %d,"%s",%d,%d,"%s"' % (s.sid, host, port, len(data), data.hex().upper())]

    async def at_usocl(self, sep, args):
        return self.close_sock(args, _CME_INVALID_INDEX)

    def storm_extra(self, i):
        self.urc("+UUPSMR: 0")


DIALECTS = {
    "nrf91_slm": Nrf91Slm, "slm": Nrf91Slm, "nrf91": Nrf91Slm,
    "bg95": QuectelBg95, "quectel_bg95": QuectelBg95,
    "sim7080": SimcomSim7080, "simcom_sim7080": SimcomSim7080,
    "sara_r5": UbloxSaraR5, "ublox_sara_r5": UbloxSaraR5,
}

__all__ = ["DIALECTS"]

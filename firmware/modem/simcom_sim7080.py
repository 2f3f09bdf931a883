# SIMCom SIM7080G (LTE-M/NB-IoT): application sockets +CAOPEN/+CASEND/+CARECV, PDP via
# +CNACT, system information +CPSI, ICCID +CCID (answer without prefix).

from modem import atparse
from modem.at import AtError
from modem.dialect import Dialect

_PDP = 0  # +CNACT context index


class SimcomSim7080(Dialect):
    NAME = "sim7080"
    BOOT_LINES = ("RDY",)
    SIM_URCS = ("+CPIN",)
    INLINE_RAW = (b"+CARECV:",)
    UICC_QUIRKS = "sim7080"

    def __init__(self, at):
        Dialect.__init__(self, at)
        self._remote = {}
        at.on_urc("+CADATAIND", self._urc_data)
        at.on_urc("+CASTATE", self._urc_state)
        at.on_urc("+APP PDP", lambda line: None)

    def _urc_data(self, line):
        self._data_ready(atparse.split_params(line, 11)[0])

    def _urc_state(self, line):
        p = atparse.split_params(line, 9)
        s = self.sockets.get(p[0])
        if s is not None and p[1] == 0:
            s.lost = True

    async def iccid(self):
        return await self._bare("AT+CCID")  # the SIM7080 answers the bare number

    async def psi(self):
        # +CPSI: <sys>,<op>,<MCC>-<MNC>,<TAC hex>,<SCellID>,<PCellID>,<band>,<earfcn>,<dlbw>,
        #        <ulbw>,<RSRQ>,<RSRP>,<RSSI>,<RSSNR>
        return await self.query("AT+CPSI?", "+CPSI")

    async def signal(self):
        p = await self.psi()
        if len(p) < 14:
            return {"rsrp": None, "rsrq": None, "sinr": None}
        return {"rsrp": p[11], "rsrq": p[10], "sinr": p[13]}

    async def cell_info(self):
        p = await self.psi()
        if len(p) < 5 or "-" not in str(p[2]):
            return {"ci": None, "tac": None, "mcc": None, "mnc": None}
        mcc, mnc = str(p[2]).split("-", 1)
        tac = p[3]
        if isinstance(tac, str) and tac.startswith("0x"):
            tac = tac[2:]
        return {"ci": p[4], "tac": atparse.hexint(tac, "TAC"), "mcc": mcc, "mnc": mnc}

    async def _activate_pdp(self):
        try:
            await self.cmd("AT+CNACT=%d,1" % _PDP, 30000)
        except AtError as e:
            if e.kind != "ERROR":
                raise  # plain ERROR: the context is active already

    async def ip_address(self, cid=1):
        p = await self.query("AT+CNACT?", "+CNACT")
        if len(p) > 2 and p[1] == 1:
            return p[2]
        return await Dialect.ip_address(self, cid)

    async def _sock_open(self, local_port):
        # +CAOPEN connects a UDP socket to one remote: opened lazily by the first send
        for cid in range(13):
            if cid not in self.sockets and cid not in self._remote:
                self._remote[cid] = None
                return cid
        raise AtError("AT+CAOPEN", "NO_SOCKET")

    async def _connect(self, cid, host, port):
        if self._remote.get(cid) is not None:
            await self.cmd("AT+CACLOSE=%d" % cid)
        p = await self.query('AT+CAOPEN=%d,%d,"UDP","%s",%d' % (cid, _PDP, host, port), "+CAOPEN")
        if len(p) < 2 or p[1] != 0:
            raise AtError("AT+CAOPEN", "CAOPEN", p[1] if len(p) > 1 else None)
        self._remote[cid] = (host, port)

    async def _sock_send(self, sid, data, host, port):
        if self._remote.get(sid) != (host, port):
            await self._connect(sid, host, port)
        await self.cmd("AT+CASEND=%d,%d" % (sid, len(data)), payload=data)

    async def _sock_fetch(self, sid):
        remote = self._remote.get(sid)
        if remote is None:
            return None
        lines = await self.cmd("AT+CARECV=%d,1460" % sid, None, "+CARECV")
        for line in lines:
            if line.startswith("+CARECV:"):
                raw = self.at.last_raw
                if not raw:
                    return None
                return raw, remote
        return None

    async def _sock_close(self, sid):
        if self._remote.pop(sid, None) is not None:
            await self.cmd("AT+CACLOSE=%d" % sid)

    def _booted(self, line):
        self._remote = {}
        Dialect._booted(self, line)

# Quectel BG95 (LTE-M/NB-IoT): TCP/IP commands (+QIOPEN "UDP SERVICE", +QISEND, +QIRD,
# +QIURC), engineering mode (+QENG), signal (+QCSQ), ICCID (+QCCID).
import asyncio

from modem import atparse
from modem.at import AtError, AtTimeout
from modem.dialect import Dialect

_CTX = 1  # PDP context used for the TCP/IP stack
_OPEN_POLL_MS = 1000
_OPEN_TIMEOUT_MS = 15000
_STATE_CONNECTED = 2


def _digits(v, n):
    # +QENG prints MCC/MNC as bare numbers, so leading zeros arrive as ints ("001" -> 1)
    return ("%0" + str(n) + "d") % v if isinstance(v, int) else v


class QuectelBg95(Dialect):
    NAME = "bg95"
    BOOT_LINES = ("RDY", "APP RDY")
    SIM_URCS = ("+CPIN", "+QUSIM")
    UICC_QUIRKS = "bg95"

    def __init__(self, at):
        Dialect.__init__(self, at)
        self._open_result = {}
        self._open_ev = asyncio.Event()
        self._next_id = 0
        at.on_urc("+QIURC", self._urc_qiurc)
        at.on_urc("+QIOPEN", self._urc_qiopen)

    def _urc_qiurc(self, line):
        p = atparse.split_params(line, 7)
        if p[0] == "recv":
            self._data_ready(p[1])
        elif p[0] == "closed":
            s = self.sockets.get(p[1])
            if s is not None:
                s.lost = True
        elif p[0] == "pdpdeact":
            for s in self.sockets.values():
                s.lost = True

    def _urc_qiopen(self, line):
        p = atparse.split_params(line, 8)
        self._open_result[p[0]] = p[1]
        self._open_ev.set()

    async def iccid(self):
        return await self._bare("AT+QCCID", "+QCCID")

    async def signal(self):
        # +QCSQ: "eMTC",<rssi>,<rsrp>,<sinr>,<rsrq>; sinr in 1/5 dB offset by -20 dB
        p = await self.query("AT+QCSQ", "+QCSQ")
        if len(p) < 5:
            return {"rsrp": None, "rsrq": None, "sinr": None}
        return {"rsrp": p[2], "rsrq": p[4], "sinr": p[3] / 5 - 20}

    async def cell_info(self):
        # +QENG: "servingcell",<state>,"eMTC",<is_tdd>,<MCC>,<MNC>,<cellID>,<PCID>,<earfcn>,
        #        <band>,<ul_bw>,<dl_bw>,<TAC>,<RSRP>,<RSRQ>,<RSSI>,<SINR>,<srxlev>
        p = await self.query('AT+QENG="servingcell"', "+QENG")
        if len(p) < 13:
            return {"ci": None, "tac": None, "mcc": None, "mnc": None}
        return {"ci": atparse.hexint(p[6], "cellID"), "tac": atparse.hexint(p[12], "TAC"),
                "mcc": _digits(p[4], 3), "mnc": _digits(p[5], 2)}

    async def _activate_pdp(self):
        try:
            await self.cmd("AT+QIACT=%d" % _CTX, 150000)
        except AtError as e:
            if e.code is None and e.kind == "ERROR":
                return  # already active
            raise

    async def _sock_open(self, local_port):
        cid = self._next_id
        self._next_id = (cid + 1) % 12
        self._open_result.pop(cid, None)
        self._open_ev.clear()
        await self.cmd('AT+QIOPEN=%d,%d,"UDP SERVICE","127.0.0.1",0,%d,0'
                       % (_CTX, cid, local_port or 0))
        waited = 0
        while cid not in self._open_result:
            try:
                await asyncio.wait_for_ms(self._open_ev.wait(), _OPEN_POLL_MS)
            except asyncio.TimeoutError:
                waited += _OPEN_POLL_MS
                if await self._socket_state(cid) == _STATE_CONNECTED:
                    break  # the +QIOPEN URC was lost, the socket is there
                if waited >= _OPEN_TIMEOUT_MS:
                    raise AtTimeout("+QIOPEN URC for %d" % cid, _OPEN_TIMEOUT_MS)
            self._open_ev.clear()
        err = self._open_result.pop(cid, 0)
        if err:
            raise AtError("AT+QIOPEN", "QIOPEN", err)
        return cid

    async def _socket_state(self, cid):
        # +QISTATE: <id>,"<type>","<ip>",<rport>,<lport>,<state>,<ctx>,<serverID>,<mode>,"<port>"
        for line in await self.cmd("AT+QISTATE=1,%d" % cid, None, "+QISTATE"):
            p = atparse.split_params(line, 9)
            if p and p[0] == cid and len(p) > 5:
                return p[5]
        return None

    async def _sock_send(self, sid, data, host, port):
        await self.cmd('AT+QISEND=%d,%d,"%s",%d' % (sid, len(data), host, port), payload=data)

    async def _sock_fetch(self, sid):
        # +QIRD: <len>,"<ip>",<port> then <len> raw bytes; +QIRD: 0 when nothing is buffered
        return await self._raw_read("AT+QIRD=%d" % sid, "+QIRD")

    async def _sock_close(self, sid):
        await self.cmd("AT+QICLOSE=%d" % sid)

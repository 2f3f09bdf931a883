# Nordic nRF91 Serial LTE Modem (nRF Connect SDK SLM application).  Sockets are the #X
# commands of the SLM; modem information comes from the %X commands of the nRF91 AT set.
from modem import atparse
from modem.at import AtError
from modem.dialect import Dialect

_POLLIN = 1


class Nrf91Slm(Dialect):
    NAME = "nrf91_slm"
    BOOT_LINES = ("Ready",)
    SIM_URCS = ("%XSIM",)
    UICC_QUIRKS = "nrf91_slm"

    def __init__(self, at):
        Dialect.__init__(self, at)
        self.cesq = None
        at.on_urc("#XAPOLL", self._urc_apoll)
        at.on_urc("%CESQ", self._urc_cesq)

    async def _init_extra(self):
        await self.at.cmd("AT%XSIM=1")  # SIM state URCs: we need them to notice a REFRESH
        await self.at.cmd("AT%CESQ=1")

    def _urc_apoll(self, line):
        p = atparse.split_params(line, 8)
        if len(p) > 1 and isinstance(p[1], int) and p[1] & _POLLIN:
            self._data_ready(p[0])

    def _urc_cesq(self, line):
        # %CESQ: <rsrp>,<rsrp_threshold_index>,<rsrq>,<rsrq_threshold_index>
        self.cesq = atparse.split_params(line, 6)

    async def iccid(self):
        return await self._bare("AT%XICCID", "%XICCID")

    async def monitor(self):
        """%XMONITOR fields by name (nRF91 AT Commands, %XMONITOR)."""
        p = await self.query("AT%XMONITOR", "%XMONITOR")
        names = ("reg", "full_name", "short_name", "plmn", "tac", "act", "band", "ci", "pci",
                 "earfcn", "rsrp", "snr")
        out = {}
        for i, k in enumerate(names):
            out[k] = p[i] if i < len(p) else None
        return out

    async def signal(self):
        m = await self.monitor()
        # %XMONITOR <rsrp> is an index, dBm = index - 140; <snr> is dB + 24
        rsrp = m["rsrp"]
        snr = m["snr"]
        out = {"rsrp": None if rsrp in (None, 255) else rsrp - 140,
               "sinr": None if snr in (None, 127) else snr - 24, "rsrq": None}
        if self.cesq and len(self.cesq) > 2 and self.cesq[2] not in (None, 255):
            out["rsrq"] = (self.cesq[2] - 40) / 2
        return out

    async def cell_info(self):
        m = await self.monitor()
        plmn = str(m["plmn"] or "")
        return {"ci": atparse.hexint(m["ci"], "ci"), "tac": atparse.hexint(m["tac"], "tac"),
                "mcc": plmn[:3] or None, "mnc": plmn[3:] or None}

    async def _sock_open(self, local_port):
        # family 1 = IPv4, type 2 = SOCK_DGRAM, role 0 = client
        p = await self.query("AT#XSOCKET=1,2,0", "#XSOCKET")
        sid = p[0]
        if local_port:
            await self.cmd("AT#XBIND=%d" % local_port)
        await self.cmd("AT#XAPOLL=1,%d,%d" % (_POLLIN, sid))
        return sid

    async def _sock_send(self, sid, data, host, port):
        # datatype 0: the data parameter is a hex string, so any byte value passes
        p = await self.query('AT#XSENDTO="%s",%d,0,"%s"' % (host, port, atparse.tohex(data)),
                             "#XSENDTO")
        if p[0] != len(data):
            raise AtError("AT#XSENDTO", "SHORT_SEND", p[0])

    async def _sock_fetch(self, sid):
        # #XRECVFROM: <size>,"<ip>",<port> then <size> raw bytes; flags 64 = MSG_DONTWAIT
        try:
            return await self._raw_read("AT#XRECVFROM=0,64", "#XRECVFROM")
        except AtError as e:
            if e.kind == "ERROR":
                return None  # nothing to read (EAGAIN)
            raise

    async def _sock_close(self, sid):
        await self.cmd("AT#XSOCKET=0")

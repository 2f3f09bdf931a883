# u-blox SARA-R5 (LTE-M/NB-IoT): sockets +USOCR/+USOST/+USORF in hex mode (+UDCONF=1,1),
# data URC +UUSORF, cell information +UCGED, SIM status +UUSIMSTAT.
from modem import atparse
from modem.dialect import Dialect


class UbloxSaraR5(Dialect):
    NAME = "sara_r5"
    BOOT_LINES = ()  # the R5 prints nothing at boot: a reboot shows up as a timeout
    SIM_URCS = ("+UUSIMSTAT",)
    UICC_QUIRKS = "sara_r5"
    # socket data travels as hex in one line: a 1152-byte datagram is a 2304-character field
    RX_SIZE = 2560
    MAX_LINE = 2400

    def __init__(self, at):
        Dialect.__init__(self, at)
        at.on_urc("+UUSORF", self._urc_data)
        at.on_urc("+UUSOCL", self._urc_closed)

    async def _init_extra(self):
        await self.at.cmd("AT+UDCONF=1,1")  # socket data in hex: binary-safe in one line
        await self.at.cmd("AT+USIMSTAT=4")

    def _urc_data(self, line):
        self._data_ready(atparse.split_params(line, 8)[0])

    def _urc_closed(self, line):
        s = self.sockets.get(atparse.split_params(line, 8)[0])
        if s is not None:
            s.lost = True

    async def ucged(self):
        """+UCGED: 2 report: the <rat>,<svc>,<MCC>,<MNC> line and the LTE serving-cell line
        <earfcn>,<band>,<ul_bw>,<dl_bw>,<tac>,<cell_id>,<pci>,<mtmsi>,<mmegid>,<mmec>,<rsrp>,
        <rsrq>,<sinr>,... as two param lists."""
        lines = await self.cmd("AT+UCGED?", None, "+UCGED")
        rows = [atparse.split_params(x) for x in lines if not x.startswith("+UCGED")]
        if len(rows) < 2:
            return None, None
        return rows[0], rows[1]

    async def signal(self):
        head, lte = await self.ucged()
        if lte is None or len(lte) < 13:
            return await Dialect.signal(self)
        # rsrp/rsrq as in +CESQ (index), sinr in dB
        return {"rsrp": lte[10] - 141, "rsrq": (lte[11] - 40) / 2, "sinr": lte[12]}

    async def cell_info(self):
        head, lte = await self.ucged()
        if lte is None or len(lte) < 6:
            return await Dialect.cell_info(self)
        return {"ci": atparse.hexint(lte[5], "cell_id"), "tac": atparse.hexint(lte[4], "tac"),
                "mcc": "%03d" % head[2], "mnc": "%02d" % head[3]}

    async def _sock_open(self, local_port):
        if local_port:
            p = await self.query("AT+USOCR=17,%d" % local_port, "+USOCR")
        else:
            p = await self.query("AT+USOCR=17", "+USOCR")
        return p[0]

    async def _sock_send(self, sid, data, host, port):
        await self.query('AT+USOST=%d,"%s",%d,%d,"%s"'
                         % (sid, host, port, len(data), atparse.tohex(data)), "+USOST")

    async def _sock_fetch(self, sid):
        # +USORF: <socket>,"<ip>",<port>,<length>,"<hex data>"
        p = await self.query("AT+USORF=%d,1152" % sid, "+USORF")
        if len(p) < 5 or not p[3]:
            return None
        return atparse.unhex(p[4], "+USORF data"), (p[1], p[2])

    async def _sock_close(self, sid):
        await self.cmd("AT+USOCL=%d" % sid)

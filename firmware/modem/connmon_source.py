# The modem's side of the connectivity objects, read from (and applied to) a dialect:
#   await read(dialect)           -> kwargs for objects/obj_connmon.ConnMon.update (/4, Core §E.5)
#   await read_cellconn(dialect)  -> kwargs for objects/obj_cellconn.CellConn.update (/10)
#   ModemPower(dialect)           -> the apply callback of obj_cellconn.create (PSM/eDRX writes)
#   await sync_identity(dialect, registry, eid=None) -> {imei, imsi, iccid, eid}, copied into
#                                    the registered objects that carry them
import asyncio
from collections import deque

from micropython import const

from modem import atparse
from modem.at import AtError
from objects.obj_cellconn import MODE_EDRX, MODE_PSM, t3324_seconds, t3412_seconds

# Network bearer enumeration of /4/0/0 (registry 4.xml): 6 = LTE-FDD, 7 = NB-IoT
_BEARER_LTE_FDD = const(6)
_BEARER_NB_IOT = const(7)
_ACT_NB_S1 = const(9)  # +CEREG <AcT> 9 = E-UTRAN NB-S1 (TS 27.007 §10.1.22)


def bearer_for(act):
    return _BEARER_NB_IOT if act == _ACT_NB_S1 else _BEARER_LTE_FDD


async def read(dialect):
    """A dict of obj_connmon names -> values.  A value the modem could not give is None (the
    optional resource is then absent).  The serving cell's MNC/MCC double as SMNC/SMCC: our
    modems report no separate serving-network code in the commands used here."""
    reg = await dialect.registration()
    sig = await dialect.signal()
    cell = await dialect.cell_info()
    ip = await dialect.ip_address()
    apn = await dialect.apn()
    return {
        "bearer": bearer_for(reg.get("act")),
        "available": [_BEARER_LTE_FDD, _BEARER_NB_IOT],
        "rssi": _int(sig.get("rsrp")),  # /4/0/2 carries RSRP in dBm on LTE
        "link_quality": _int(sig.get("rsrq")),
        "snr": _int(sig.get("sinr")),
        "ip_addresses": [ip] if ip else [],
        "apns": [apn] if apn else None,
        "cell_id": cell.get("ci"),
        "lac": cell.get("tac"),
        "smnc": _int(cell.get("mnc")),
        "smcc": _int(cell.get("mcc")),
    }


def _int(v):
    return None if v is None or v == "" else int(v)


# +CEDRXS <AcT-type> -> obj_cellconn name (TS 27.007 §7.40)
_EDRX_NAMES = {2: "edrx_a_gb", 3: "edrx_iu", 4: "edrx_wb_s1", 5: "edrx_nb_s1"}
_POWER_QUEUE = const(8)
_DRAIN_STEP_MS = const(10)


def _bits(v, width):
    """An AT bit-string field as text of `width` digits (a modem may send it unquoted, when it
    parses as a number and loses its leading zeros)."""
    if v is None or v == "":
        return None
    return ("0" * width + str(v))[-width:]


async def read_cellconn(dialect):
    """obj_cellconn names -> values from +CPSMS? (TS 27.007 §7.38) and +CEDRXS? (§7.40). The
    requested values are what the modem asks of the network; the network may grant others."""
    p = await dialect.query("AT+CPSMS?", "+CPSMS")
    tau = _bits(p[3] if len(p) > 3 else None, 8)
    act = _bits(p[4] if len(p) > 4 else None, 8)
    modes = MODE_PSM if p and p[0] == 1 else 0
    out = {"psm_timer": t3412_seconds(tau) if tau else None,
           "active_timer": t3324_seconds(act) if act else None}
    for line in await dialect.cmd("AT+CEDRXS?", None, "+CEDRXS"):
        q = atparse.split_params(line, line.find(":") + 1)
        name = _EDRX_NAMES.get(q[0]) if q else None
        value = _bits(q[1] if len(q) > 1 else None, 4)
        if name is not None and value is not None:
            # only bits 4-1 (the eDRX value) come from +CEDRXS; the paging time window stays 0
            out[name] = bytes((int(value, 2),))
            modes |= MODE_EDRX
    out["active_modes"] = modes
    return out


class ModemPower:
    """obj_cellconn's `apply` callback for a dialect: calls are queued (at most 8; more are
    dropped and counted) and run in order by one task; failures are kept, as (method, error),
    in the last four `errors`. "disable_radio" goes to `on_disable_radio(minutes)` (a coroutine
    function; the application decides how to detach and when to come back), if given."""

    def __init__(self, dialect, on_disable_radio=None):
        self.d = dialect
        self.on_disable_radio = on_disable_radio
        self.q = deque((), _POWER_QUEUE)
        self.errors = deque((), 4)
        self.done = 0
        self.dropped = 0
        self._task = None

    def __call__(self, method, args):
        if len(self.q) >= _POWER_QUEUE:
            self.dropped += 1
            return
        self.q.append((method, args))
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def _run(self):
        try:
            while self.q:
                method, args = self.q.popleft()
                try:
                    if method == "disable_radio":
                        if self.on_disable_radio is None:
                            raise AtError(method, "UNSUPPORTED")
                        await self.on_disable_radio(*args)
                    else:
                        await getattr(self.d, method)(*args)
                    self.done += 1
                except Exception as e:  # kept for the log: one refused setting must not stop the rest
                    self.errors.append((method, e))
        finally:
            self._task = None

    async def drain(self, timeout_ms=30000):
        """Wait until every queued call ran; False if that took longer than timeout_ms."""
        left = timeout_ms
        while self._task is not None:
            if left <= 0:
                return False
            await asyncio.sleep_ms(_DRAIN_STEP_MS)
            left -= _DRAIN_STEP_MS
        return True


# Where the registry XML puts SIM identities: (oid, rid, identity key, multiple). /3443/0/1 is the
# eSIM IoT EID; 504 (Remote SIM Provisioning) has ICCIDs and the eUICC ID, in case a firmware
# registers it. No object here carries the IMSI; /3/x/2 stays the device's own serial number.
_IDENTITY_SLOTS = ((3443, 1, "eid", False), (504, 11, "iccid", True), (504, 12, "eid", False))


async def sync_identity(dialect, registry=None, eid=None):
    """{imei, imsi, iccid, eid} from dialect.identity() (each None when the modem could not say,
    e.g. no enabled profile gives no IMSI) with `eid` (the IPA's ES10c GetEID) taking precedence
    and kept in dialect.eid; every value is copied into the instances of `registry`'s objects
    that carry it."""
    if eid:
        dialect.eid = eid
    try:
        ident = await dialect.identity()
    except AtError:
        ident = {"eid": dialect.eid}
        for key in ("imei", "imsi", "iccid"):
            try:
                ident[key] = await getattr(dialect, key)()
            except AtError:
                ident[key] = None
    if eid:
        ident["eid"] = eid
    if registry is not None:
        for oid, rid, key, multi in _IDENTITY_SLOTS:
            value = ident.get(key)
            obj = registry.get_object(oid)
            if not value or obj is None:
                continue
            for iid in obj.iids():
                registry.set((oid, iid, rid), [value] if multi else value)
    return ident

# Values for LwM2M object 4 (Connectivity Monitoring, OMA-TS-LightweightM2M_Core object 4)
# gathered from a dialect, as a plain dict keyed by resource id; obj_connmon owns the object.
from micropython import const

_RES_NETWORK_BEARER = const(0)
_RES_AVAILABLE_BEARERS = const(1)
_RES_RADIO_SIGNAL_STRENGTH = const(2)
_RES_LINK_QUALITY = const(3)
_RES_IP_ADDRESSES = const(4)
_RES_APN = const(7)
_RES_CELL_ID = const(8)
_RES_SMNC = const(9)
_RES_SMCC = const(10)
_RES_LAC = const(12)

# Network bearer enumeration of object 4 resource 0: 6 = LTE-TDD, 7 = LTE-FDD, 8 = NB-IoT
_BEARER_LTE_FDD = const(7)
_BEARER_NB_IOT = const(8)


def _act_bearer(act):
    # +CEREG <AcT>: 7 = E-UTRAN (LTE-M), 9 = E-UTRAN NB-S1
    return _BEARER_NB_IOT if act == 9 else _BEARER_LTE_FDD


async def read(dialect):
    """A dict {rid: value} for object 4; a value the modem could not give is left out.
    Multi-instance resources (1, 4, 7) are lists.  MNC/MCC of the serving cell double as
    SMNC/SMCC because our modems do not report a separate home network here."""
    out = {}
    reg = await dialect.registration()
    out[_RES_NETWORK_BEARER] = _act_bearer(reg.get("act"))
    out[_RES_AVAILABLE_BEARERS] = [_BEARER_LTE_FDD, _BEARER_NB_IOT]
    sig = await dialect.signal()
    if sig.get("rsrp") is not None:
        out[_RES_RADIO_SIGNAL_STRENGTH] = int(sig["rsrp"])
    if sig.get("rsrq") is not None:
        out[_RES_LINK_QUALITY] = int(sig["rsrq"])
    ip = await dialect.ip_address()
    if ip:
        out[_RES_IP_ADDRESSES] = [ip]
    apn = await dialect.apn()
    if apn:
        out[_RES_APN] = [apn]
    cell = await dialect.cell_info()
    if cell.get("ci") is not None:
        out[_RES_CELL_ID] = cell["ci"]
    if cell.get("tac") is not None:
        out[_RES_LAC] = cell["tac"]
    if cell.get("mnc"):
        out[_RES_SMNC] = int(cell["mnc"])
    if cell.get("mcc"):
        out[_RES_SMCC] = int(cell["mcc"])
    return out

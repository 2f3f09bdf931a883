# Values for LwM2M object 4 (Connectivity Monitoring, OMA-TS-LightweightM2M_Core §E.5) read
# from a dialect, as keyword arguments for objects/obj_connmon.py ConnMon.update(**values).
from micropython import const

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

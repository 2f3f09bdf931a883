"""LwM2M 1.1 Send operation (OMA-TS-LightweightM2M_Core-V1_1 §6.4.6), sans-I/O.

    req = build_send(registry, [(3, 0, 13), (3303, 0, 5700)], ssid, now_s)  # -> RdRequest
The runner sends it as a CON POST /dp; the server answers 2.04. The payload is SenML CBOR (112)
with a base time when `now_s` is given. Send is refused (SendMuted) while Mute Send (/1/x/23) of
that server account is true or absent -- the resource's definition: "If true or the Resource is
not present, the LwM2M Client Send command capability is de-activated".
"""

from micropython import const

from coap import numbers as N
from lwm2m import model as M
from lwm2m.rd_client import RdRequest

_OID_SERVER = const(1)
_RES_SSID = const(0)
_RES_MUTE_SEND = const(23)


class SendMuted(Exception):
    def __init__(self, ssid):
        super().__init__("send muted by /1/x/23 for server %s" % ssid)
        self.ssid = ssid


def server_iid(registry, ssid):
    obj = registry.get_object(_OID_SERVER)
    for iid in obj.iids() if obj else ():
        if registry.get((_OID_SERVER, iid, _RES_SSID)) == ssid:
            return iid
    return None


def muted(registry, ssid):
    iid = server_iid(registry, ssid)
    if iid is None:
        return True
    return registry.get((_OID_SERVER, iid, _RES_MUTE_SEND), True) is not False


def build_send(registry, paths, ssid, now_s=None, ct=N.FMT_SENML_CBOR):
    """Read `paths` locally and build the Send request; SendMuted when not allowed."""
    if muted(registry, ssid):
        raise SendMuted(ssid)
    records = []
    for p in paths:
        for rec in registry.read(tuple(p), server=False):
            records.append((rec[0], rec[1], now_s) if now_s is not None else rec)
    if not records:
        raise M.Error(M.NOT_FOUND, "nothing to send")
    try:
        payload = M.codec(ct).encode(records, (), registry.type_of)
    finally:
        M.release_codecs()
    return RdRequest("send", N.POST, ["dp"], [], payload, ct)

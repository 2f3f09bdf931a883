"""SmdpApi over an SGP.22 ES9+ ASN.1 endpoint: anything with `handle(der) -> der` taking a
RemoteProfileProvisioningRequest ([2] 'A2' around BF39/BF3B/BF3A/BF3D/BF41) — the in-process
host_tools.smdp SmDp, or its HTTPS client.

ESipa and ES9+ carry the same signed objects, so the adapter moves raw bytes and re-frames:
  - InitiateAuthenticationRequestEsipa minus eimTransactionId ([2], an eIM-side field) is an ES9+
    InitiateAuthenticationRequest; the ES9+ answer's alternatives ([0] ok / [1] error) sit on the
    same tags as the ESipa ones.
  - AuthenticateClient, GetBoundProfilePackage and CancelSession requests/answers match ESipa's
    layout on the wire for the fields the IPA sends (SGP.32 6.3.2.x mirrors SGP.22 6.5.2.x).
  - HandleNotification: ES9+ wants BF3D { [0] PendingNotification }.
No re-encoding anywhere: the eUICC's and SM-DP+'s signatures cover these bytes."""

from . import codec
from .smdp_api import SmdpApi

_WRAP = b"\xa2"
_TAG_EIM_TRANSACTION_ID = b"\x82"


class Es9PlusAdapter(SmdpApi):
    def __init__(self, es9):
        self.es9 = es9

    def _call(self, request_tlv):
        answer = self.es9.handle(codec.tlv_encode(_WRAP, request_tlv))
        if not answer:
            return b""
        tag, voff, vlen = codec.tlv_header(answer)
        return bytes(answer[voff:voff + vlen]) if tag == _WRAP else bytes(answer)

    def initiate_authentication(self, req_der):
        tag, voff, vlen = codec.tlv_header(req_der)
        body = b"".join(bytes(req_der[start:v + n])
                        for t, start, v, n in codec.tlv_children(req_der, voff, voff + vlen)
                        if t != _TAG_EIM_TRANSACTION_ID)
        return self._call(codec.tlv_encode(tag, body))

    def authenticate_client(self, req_der):
        return self._call(bytes(req_der))

    def get_bound_profile_package(self, req_der):
        return self._call(bytes(req_der))

    def cancel_session(self, req_der):
        return self._call(bytes(req_der))

    def handle_notification(self, notification_der):
        self._call(codec.tlv_encode(b"\xbf\x3d", codec.tlv_encode(b"\xa0", notification_der)))


def make_eim_adapter(pki_dir):
    """`serve --smdp host_tools.eim.smdp_adapter` factory: an in-process test SM-DP+ with one
    default order ("" matching id), sharing the eIM's PKI directory."""
    from host_tools import pki as _pki
    from host_tools.smdp.core import SmDp
    dp = SmDp(_pki.make(pki_dir))
    dp.add_order("")
    return Es9PlusAdapter(dp)

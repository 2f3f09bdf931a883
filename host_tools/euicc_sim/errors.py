"""Errors the ISD-R raises at APDU level (turned into status words by card.py)."""

from host_tools import sgp32_oracle as oracle
from host_tools.euicc_sim import tlv


class Es10Error(Exception):
    """A command the ISD-R rejects at APDU level; `sw` is the status word to return."""

    def __init__(self, sw, message):
        super().__init__("SW %04X: %s" % (sw, message))
        self.sw = sw


def decode_signed(type_name, der, signed_tag=0x30):
    """Decode a request and return (value, raw bytes of its signed part) -- signatures are
    checked over the bytes as received. Undecodable input is 6A80 (wrong data)."""
    try:
        return oracle.decode(type_name, der), tlv.child(der, signed_tag)
    except (oracle.OracleError, tlv.TlvError) as exc:
        raise Es10Error(0x6A80, "%s: %s" % (type_name, exc)) from None

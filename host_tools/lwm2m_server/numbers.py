"""Numbers from the registries the server speaks: CoAP content formats (IANA, OMA-TS Core 1.1
Table 7.4-1 / 1.2 for LwM2M CBOR) and LwM2M protocol parameters kept in one place."""

TEXT = 0
LINK_FORMAT = 40
OPAQUE = 42
CBOR = 60
SENML_JSON = 110
SENML_CBOR = 112
TLV = 11542
LWM2M_JSON = 11543
LWM2M_CBOR = 11544

NAMES = {
    TEXT: "text", LINK_FORMAT: "link", OPAQUE: "opaque", CBOR: "cbor", SENML_JSON: "senml-json",
    SENML_CBOR: "senml-cbor", TLV: "tlv", LWM2M_JSON: "lwm2m-json", LWM2M_CBOR: "lwm2m-cbor",
}
BY_NAME = {name: number for number, name in NAMES.items()}

# Core 1.1 §6.2.1 default lifetime when the client omits lt.
DEFAULT_LIFETIME_S = 86400
# Core 1.1 §6.4.1 (queue mode): the server assumes the client listens for this long after it was
# heard from, which is CoAP MAX_TRANSMIT_WAIT (RFC 7252 §4.8.2).
DEFAULT_AWAKE_S = 93
SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2")


def content_format(value):
    """Accept a number, a numeric string or one of NAMES' values."""
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    try:
        return BY_NAME[value]
    except KeyError:
        raise ValueError("unknown content format %r (known: %s)" % (value, ", ".join(BY_NAME))) from None

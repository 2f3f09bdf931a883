"""CoAP registries (RFC 7252 §12, RFC 7959, RFC 7641, OMA LwM2M 1.1 content formats) and the
RFC 7252 §4.8 transmission parameters. Every other module takes its numbers from here."""

from micropython import const

# --- message types (RFC 7252 §3) ---
CON = const(0)
NON = const(1)
ACK = const(2)
RST = const(3)

TYPE_NAMES = ("CON", "NON", "ACK", "RST")

# --- codes: class << 5 | detail (RFC 7252 §12.1) ---
EMPTY = const(0)
GET = const(1)
POST = const(2)
PUT = const(3)
DELETE = const(4)
FETCH = const(5)
PATCH = const(6)
IPATCH = const(7)

CREATED = const(65)  # 2.01
DELETED = const(66)  # 2.02
VALID = const(67)  # 2.03
CHANGED = const(68)  # 2.04
CONTENT = const(69)  # 2.05
CONTINUE = const(95)  # 2.31

BAD_REQUEST = const(128)  # 4.00
UNAUTHORIZED = const(129)  # 4.01
BAD_OPTION = const(130)  # 4.02
FORBIDDEN = const(131)  # 4.03
NOT_FOUND = const(132)  # 4.04
METHOD_NOT_ALLOWED = const(133)  # 4.05
NOT_ACCEPTABLE = const(134)  # 4.06
REQUEST_ENTITY_INCOMPLETE = const(136)  # 4.08
CONFLICT = const(137)  # 4.09
PRECONDITION_FAILED = const(140)  # 4.12
REQUEST_ENTITY_TOO_LARGE = const(141)  # 4.13
UNSUPPORTED_CONTENT_FORMAT = const(143)  # 4.15
UNPROCESSABLE_ENTITY = const(150)  # 4.22

INTERNAL_SERVER_ERROR = const(160)  # 5.00
NOT_IMPLEMENTED = const(161)  # 5.01
BAD_GATEWAY = const(162)  # 5.02
SERVICE_UNAVAILABLE = const(163)  # 5.03
GATEWAY_TIMEOUT = const(164)  # 5.04
PROXYING_NOT_SUPPORTED = const(165)  # 5.05


def code_class(code):
    return code >> 5


def code_str(code):
    """Dotted form used in logs and error texts, e.g. 69 -> "2.05"."""
    return "%d.%02d" % (code >> 5, code & 0x1F)


def is_request_code(code):
    return 1 <= code <= 31


def is_response_code(code):
    return 64 <= code <= 191


# --- option numbers (RFC 7252 §12.2, RFC 7641, RFC 7959, RFC 8613) ---
IF_MATCH = const(1)
URI_HOST = const(3)
ETAG = const(4)
IF_NONE_MATCH = const(5)
OBSERVE = const(6)
URI_PORT = const(7)
LOCATION_PATH = const(8)
OSCORE = const(9)
URI_PATH = const(11)
CONTENT_FORMAT = const(12)
MAX_AGE = const(14)
URI_QUERY = const(15)
ACCEPT = const(17)
LOCATION_QUERY = const(20)
BLOCK2 = const(23)
BLOCK1 = const(27)
SIZE2 = const(28)
PROXY_URI = const(35)
PROXY_SCHEME = const(39)
SIZE1 = const(60)
NO_RESPONSE = const(258)

# --- content formats (RFC 7252 §12.3, RFC 8428, OMA LwM2M 1.1 §7.4/§7.5) ---
FMT_TEXT = const(0)
FMT_LINK_FORMAT = const(40)
FMT_XML = const(41)
FMT_OCTET_STREAM = const(42)
FMT_EXI = const(47)
FMT_JSON = const(50)
FMT_CBOR = const(60)
FMT_SENML_JSON = const(110)
FMT_SENML_CBOR = const(112)
FMT_LWM2M_TLV = const(11542)
FMT_LWM2M_JSON = const(11543)
FMT_LWM2M_CBOR = const(11544)

# --- transmission parameters (RFC 7252 §4.8, §4.8.2), in ms; the only place they are set ---
ACK_TIMEOUT_MS = const(2000)
# ACK_RANDOM_FACTOR 1.5 is kept as a ratio of integers so no float is needed on the device.
ACK_RANDOM_FACTOR_NUM = const(3)
ACK_RANDOM_FACTOR_DEN = const(2)
MAX_RETRANSMIT = const(4)
NSTART = const(1)
DEFAULT_LEISURE_MS = const(5000)
PROBING_RATE_BPS = const(1)
MAX_LATENCY_MS = const(100000)
PROCESSING_DELAY_MS = const(2000)  # = ACK_TIMEOUT
# ACK_TIMEOUT * (2**MAX_RETRANSMIT - 1) * ACK_RANDOM_FACTOR = 45 s
MAX_TRANSMIT_SPAN_MS = const(45000)
# ACK_TIMEOUT * (2**(MAX_RETRANSMIT + 1) - 1) * ACK_RANDOM_FACTOR = 93 s
MAX_TRANSMIT_WAIT_MS = const(93000)
# MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY + PROCESSING_DELAY = 247 s
EXCHANGE_LIFETIME_MS = const(247000)
# MAX_TRANSMIT_SPAN + MAX_LATENCY = 145 s
NON_LIFETIME_MS = const(145000)

# RFC 7641 §4.5: a CON notification at least once in this interval, so a vanished client is noticed.
OBSERVE_CON_INTERVAL_MS = const(86400000)
# RFC 7641 §4.4: sequence numbers are 24-bit and compared in a 2**23 window.
OBSERVE_SEQ_MODULO = const(0x1000000)

# RFC 7959 §2.2: block sizes 2**(SZX+4), SZX 7 reserved.
BLOCK_SZX_MAX = const(6)

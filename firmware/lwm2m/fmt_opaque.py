"""application/octet-stream, content-format 42 (OMA-TS-LightweightM2M_Core-V1_1 §7.4.2).

  encode(records, base_path, type_of=None) -> bytes   one Opaque value, else 4.06
  decode(data, base_path, type_of) -> [(base_path, bytes)]   4.00 unless the resource is Opaque
Large values (firmware images) are better streamed by the engine straight from the block-wise
transfer; this codec is the small-value path.
"""

from micropython import const

from lwm2m import model
from lwm2m.model import Error, BAD_REQUEST, NOT_ACCEPTABLE

CT = const(42)


def encode(records, base_path, type_of=None):
    if len(records) != 1 or not isinstance(records[0][1], (bytes, bytearray, memoryview)):
        raise Error(NOT_ACCEPTABLE, "octet-stream carries one opaque value")
    return bytes(records[0][1])


def decode(data, base_path, type_of):
    if len(base_path) < 3 or type_of(base_path) != model.T_OPAQUE:
        raise Error(BAD_REQUEST, "octet-stream for non-opaque %s" % model.path_str(base_path))
    return [(tuple(base_path), bytes(data))]

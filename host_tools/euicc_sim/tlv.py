"""Just enough BER-TLV walking to get the exact bytes a signature covers.

Signatures in SGP.22/32 are over the received encoding of a sub-structure (e.g. euiccPackageSigned
inside BF51), so the simulator must not re-encode before verifying; the ASN.1 codec (asn1play's
pycrate modules) does the decoding, this module only locates byte ranges.
"""


class TlvError(ValueError):
    pass


def header(buf, pos=0):
    """(tag as int of its identifier octets, value_start, value_end) of the TLV at pos."""
    start = pos
    try:
        pos += 1
        if buf[start] & 0x1F == 0x1F:
            while buf[pos] & 0x80:
                pos += 1
            pos += 1
        tag = int.from_bytes(buf[start:pos], "big")
        first = buf[pos]
        pos += 1
        if first < 0x80:
            length = first
        elif first == 0x80 or first > 0x84:
            raise TlvError("unsupported length octet %02X at %d" % (first, pos - 1))
        else:
            n = first & 0x7F
            length = int.from_bytes(buf[pos:pos + n], "big")
            pos += n
    except IndexError:
        raise TlvError("truncated TLV header at %d" % start) from None
    if pos + length > len(buf):
        raise TlvError("TLV %X at %d: length %d exceeds buffer" % (tag, start, length))
    return tag, pos, pos + length


def children(buf, start=0, end=None):
    """Yield (tag, raw_tlv_bytes, value_bytes) for each TLV in buf[start:end]."""
    end = len(buf) if end is None else end
    pos = start
    while pos < end:
        tag, vs, ve = header(buf, pos)
        yield tag, bytes(buf[pos:ve]), bytes(buf[vs:ve])
        pos = ve


def child(buf, tag):
    """Raw TLV of the first direct child with `tag` inside the constructed TLV `buf`, or None."""
    _, vs, ve = header(buf, 0)
    for t, raw, _ in children(buf, vs, ve):
        if t == tag:
            return raw
    return None


def length_octets(n):
    """DER length field for a value of n bytes."""
    if n < 0x80:
        return bytes([n])
    size = (n.bit_length() + 7) // 8
    return bytes([0x80 | size]) + n.to_bytes(size, "big")


def encode(tag, value):
    """One TLV with DER length; tag given as int of its identifier octets (e.g. 0x5F37)."""
    value = bytes(value)
    return tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big") + length_octets(len(value)) + value


def der_integer(tag, n):
    """DER INTEGER content with an implicit tag (e.g. associationToken [4] -> tag 0x84)."""
    length = max(1, (n.bit_length() + 8) // 8)
    return encode(tag, n.to_bytes(length, "big", signed=True))

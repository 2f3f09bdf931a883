"""A host-side ISD-R client over a Card (or anything with transmit(apdu) -> data+SW):
opens a logical channel, selects the ISD-R, sends ES10 commands with STORE DATA chaining
(P1 11/91, block numbers in P2, 255-byte blocks) and collects 61xx responses with GET RESPONSE.
For tests and host tools; the device has its own hand-written IPAd."""

_BLOCK = 255


class SwError(Exception):
    def __init__(self, sw, what):
        super().__init__("%s -> SW %04X" % (what, sw))
        self.sw = sw


def _split(rsp):
    return rsp[:-2], int.from_bytes(rsp[-2:], "big")


class IsdrClient:
    def __init__(self, card, aid=bytes.fromhex("A0000005591010FFFFFFFF8900000100")):
        self.card = card
        self.aid = aid
        self.channel = None
        self.apdus = 0

    def _cla(self, base):
        ch = self.channel or 0
        if ch < 4:
            return base | ch
        return (base & 0x80) | 0x40 | (ch - 4)

    def transmit(self, apdu):
        self.apdus += 1
        return self.card.transmit(bytes(apdu))

    def open(self):
        data, sw = _split(self.transmit(b"\x00\x70\x00\x00\x01"))
        if sw != 0x9000:
            raise SwError(sw, "MANAGE CHANNEL open")
        self.channel = data[0]
        data, sw = _split(self.transmit(bytes([self._cla(0x00), 0xA4, 0x04, 0x00, len(self.aid)])
                                        + self.aid + b"\x00"))
        data = self._collect(data, sw, "SELECT ISD-R")
        return data

    def close(self):
        if self.channel:
            _, sw = _split(self.transmit(bytes([0x00, 0x70, 0x80, self.channel])))
            self.channel = None
            if sw != 0x9000:
                raise SwError(sw, "MANAGE CHANNEL close")

    def store_data_raw(self, payload, block=_BLOCK):
        """Send one ES10 command; returns (data, sw) of the final block after GET RESPONSE."""
        payload = bytes(payload)
        blocks = [payload[i:i + block] for i in range(0, len(payload), block)] or [b""]
        for n, chunk in enumerate(blocks):
            last = n == len(blocks) - 1
            apdu = bytes([self._cla(0x80), 0xE2, 0x91 if last else 0x11, n & 0xFF, len(chunk)])
            apdu += chunk + (b"\x00" if last else b"")
            data, sw = _split(self.transmit(apdu))
            if not last and sw != 0x9000:
                return data, sw
        return data, sw

    def es10(self, payload, block=_BLOCK):
        data, sw = self.store_data_raw(payload, block)
        return self._collect(data, sw, "STORE DATA %s" % bytes(payload[:3]).hex())

    def _collect(self, data, sw, what):
        out = bytearray(data)
        while sw >> 8 == 0x61:
            le = sw & 0xFF
            more, sw = _split(self.transmit(bytes([self._cla(0x00), 0xC0, 0, 0, le])))
            out += more
        if sw != 0x9000:
            raise SwError(sw, what)
        return bytes(out)


def bpp_segments(bpp):
    """Split a BoundProfilePackage (BF36) into the STORE DATA segments of SGP.22 2.5.5:
    BF36 header + ISC; A0 header + its '87'; A1 header; each '88'; A2 header + its '87' (if any);
    A3 header; each '86'."""
    from host_tools.euicc_sim import tlv
    bpp = bytes(bpp)
    _, vs, ve = tlv.header(bpp)
    segs = []
    parts = list(tlv.children(bpp, vs, ve))
    isc_tag, isc_raw, _ = parts[0]
    assert isc_tag == 0xBF23, "BPP must start with InitialiseSecureChannel"
    segs.append(bpp[:vs] + isc_raw)
    for tag, raw, value in parts[1:]:
        head = raw[:len(raw) - len(value)]
        inner = [r for _, r, _ in tlv.children(value)]
        if tag in (0xA0, 0xA2):
            segs.append(head + b"".join(inner))
        else:
            segs.append(head)
            segs.extend(inner)
    return segs

"""Streaming Bound Profile Package splitter (SGP.22 §5.7.6 ES10b.LoadBoundProfilePackage, as used
by SGP.32 indirect download). The BPP is parsed as it arrives, chunk by chunk, and cut into the
segments the eUICC expects, each sent as its own STORE DATA sequence (block numbers from 00):

  1. BF36 tag+length together with the whole InitialiseSecureChannelRequest (BF23) TLV
  2. the whole firstSequenceOf87 (A0) TLV
  3. the sequenceOf88 (A1) tag+length alone, then 4. each 88 TLV
  5. the whole secondSequenceOf87 (A2) TLV, when present
  6. the sequenceOf86 (A3) tag+length alone, then 7. each 86 TLV

Nothing larger than one 255-byte block and one TLV header is ever held, so the heap used does
not depend on the profile size. The input may be the bare BF36 or the whole ESipa
GetBoundProfilePackageResponse (BF3A) so the network body can be fed straight in."""

from micropython import const

from ipa import apdu, tlv

# Parser states.
_S_ENVELOPE = const(0)    # reading BF3A header
_S_CHOICE = const(1)      # reading A0 (ok) / 81 (error) header inside BF3A
_S_ENV_FIELD = const(2)   # reading a field header inside getBoundProfilePackageOkEsipa
_S_ENV_SKIP = const(3)    # collecting a small envelope value (transactionId, error code)
_S_BPP = const(4)         # reading the BF36 header
_S_CHILD = const(5)       # reading a BF36 child header
_S_SUB = const(6)         # reading an 88/86 header inside A1/A3
_S_VALUE = const(7)       # streaming segment value bytes
_S_DONE = const(8)

_HDR_MAX = const(7)       # 3 tag bytes + 4 length bytes
_SMALL_MAX = const(32)    # transactionId / error code from the envelope

_ORDER = {0xBF23: 0, 0xA0: 1, 0xA1: 2, 0xA2: 3, 0xA3: 4}


class BppError(ValueError):
    """The BPP stream is not a BoundProfilePackage as §5.7.6 segments it; .tag and .offset
    (bytes into the stream) say where."""

    def __init__(self, msg, tag=None, offset=0):
        self.tag = tag
        self.offset = offset
        super().__init__("%s (tag %s at stream offset %d)"
                            % (msg, "-" if tag is None else "%X" % tag, offset))


class BppSplitter:
    def __init__(self, sd, envelope=False):
        self.sd = sd
        self.state = _S_ENVELOPE if envelope else _S_BPP
        self.hdr = bytearray(_HDR_MAX)
        self.hlen = 0
        self.small = bytearray(_SMALL_MAX)
        self.slen = 0
        self.small_left = 0
        self.small_tag = 0
        self.pos = 0              # bytes consumed from the stream
        self.env_left = -1        # bytes left inside the A0 envelope
        self.bpp_hdr = bytearray(_HDR_MAX)
        self.bpp_hlen = 0
        self.bpp_left = 0         # bytes left inside BF36
        self.sub_left = 0         # bytes left inside A1/A3
        self.sub_tag = 0
        self.last_order = -1
        self.seg = None           # StoreDataStream of the segment being sent
        self.seg_tag = 0
        self.segments = 0
        self.transaction_id = None
        self.error = None         # ESipa getBoundProfilePackageErrorEsipa code
        self.result = None        # ProfileInstallationResult bytes from the eUICC
        self.done = False

    # Header bytes are gathered one at a time so a header split across chunks costs nothing.
    def _hdr_complete(self):
        h, n = self.hdr, self.hlen
        i = 1
        if h[0] & 0x1F == 0x1F:
            while True:
                if i >= n:
                    return False
                b = h[i]
                i += 1
                if not b & 0x80:
                    break
                if i >= 3:
                    return True    # over-long tag: tlv.read_tag reports it
        if i >= n:
            return False
        b = h[i]
        if b < 0x80 or b == 0x80 or b > 0x83:
            return True            # short form, or malformed: tlv.read_len reports which
        return n >= i + 1 + (b & 0x7F)

    def _take_hdr(self, mv, off, end):
        """Consume header bytes; return (offset, (tag, length) or None if more bytes needed)."""
        while off < end:
            if self.hlen >= _HDR_MAX:
                raise BppError("TLV header too long", None, self.pos)
            self.hdr[self.hlen] = mv[off]
            self.hlen += 1
            off += 1
            self.pos += 1
            if self._hdr_complete():
                try:
                    tag, p = tlv.read_tag(self.hdr, 0, self.hlen)
                    length, p = tlv.read_len(self.hdr, p, self.hlen, tag)
                except tlv.TlvError as e:
                    raise BppError(e.args[0], e.tag, self.pos)
                return off, (tag, length)
        return off, None

    def _start_segment(self, total):
        self.seg = apdu.StoreDataStream(self.sd, total)
        self.segments += 1

    def _account(self, n):
        """n bytes of BF36 content consumed (headers or values)."""
        self.bpp_left -= n
        if self.sub_left:
            self.sub_left -= n

    def feed(self, chunk):
        """Generator: consume one chunk of the stream, yielding STORE DATA APDUs; send() each
        one's (data, sw) back. Stops early once the eUICC has returned its result (self.done)."""
        mv = memoryview(chunk)
        end = len(chunk)
        off = 0
        while off < end and not self.done:
            st = self.state
            if st == _S_VALUE:
                seg = self.seg
                n = min(end - off, seg.left)
                self.pos += n
                self._account(n)
                for blk in seg.feed(mv, off, off + n):
                    resp = yield blk
                    yield from self._after_block(resp)
                    if self.done:
                        return
                off += n
                if seg.left == 0:
                    self._segment_done()
                continue
            if st == _S_ENV_SKIP:
                n = min(end - off, self.small_left)
                self.small[self.slen:self.slen + n] = mv[off:off + n]
                self.slen += n
                self.small_left -= n
                self.pos += n
                self.env_left -= n
                off += n
                if self.small_left == 0:
                    self._small_done()
                continue
            if st == _S_DONE:
                raise BppError("bytes after the BoundProfilePackage", None, self.pos)
            start = self.pos
            off, h = self._take_hdr(mv, off, end)
            if h is None:
                continue
            tag, length = h
            hl = self.hlen
            self.hlen = 0
            if st == _S_ENVELOPE:
                if tag != 0xBF3A:
                    raise BppError("not a GetBoundProfilePackageResponse", tag, start)
                self.state = _S_CHOICE
            elif st == _S_CHOICE:
                if tag == 0xA0:
                    self.env_left = length
                    self.state = _S_ENV_FIELD
                elif tag == 0x81:
                    self._small_start(tag, length)
                else:
                    raise BppError("unexpected GetBoundProfilePackageResponse alternative",
                                   tag, start)
            elif st == _S_ENV_FIELD:
                self.env_left -= hl
                if tag == 0xBF36:
                    self._bpp_header(tag, length, hl)
                elif tag == 0x80:
                    self._small_start(tag, length)
                else:
                    raise BppError("unexpected field in getBoundProfilePackageOkEsipa", tag, start)
            elif st == _S_BPP:
                if tag != 0xBF36:
                    raise BppError("not a BoundProfilePackage", tag, start)
                self._bpp_header(tag, length, hl)
            elif st == _S_CHILD:
                yield from self._child(tag, length, hl, start)
            elif st == _S_SUB:
                want = 0x88 if self.sub_tag == 0xA1 else 0x86
                if tag != want:
                    raise BppError("expected %X inside %X" % (want, self.sub_tag), tag, start)
                self._account(hl)
                if length > self.sub_left:
                    raise BppError("TLV overruns its sequence", tag, start)
                self._start_segment(hl + length)
                self.seg_tag = tag
                yield from self._segment_header(hl, length)

    def _small_start(self, tag, length):
        if length > _SMALL_MAX:
            raise BppError("envelope field too long", tag, self.pos)
        self.small_tag = tag
        self.small_left = length
        self.slen = 0
        self.state = _S_ENV_SKIP
        if length == 0:
            self._small_done()

    def _small_done(self):
        v = bytes(self.small[:self.slen])
        if self.small_tag == 0x81:
            self.error = tlv.uint(v, 0, len(v), 0x81) if v else 127
            self.done = True
            self.state = _S_DONE
        else:
            self.transaction_id = v
            self.state = _S_ENV_FIELD

    def _bpp_header(self, tag, length, hl):
        self.bpp_hdr[:hl] = self.hdr[:hl]
        self.bpp_hlen = hl
        self.bpp_left = length
        self.state = _S_CHILD
        if self.env_left >= 0:
            self.env_left -= length

    def _child(self, tag, length, hl, start):
        order = _ORDER.get(tag)
        if order is None or order <= self.last_order:
            raise BppError("BoundProfilePackage element out of place", tag, start)
        if order != self.last_order + 1 and not (order == 4 and self.last_order == 2):
            raise BppError("BoundProfilePackage element missing before", tag, start)
        self.last_order = order
        self._account(hl)
        if length > self.bpp_left:
            raise BppError("TLV overruns the BoundProfilePackage", tag, start)
        self.seg_tag = tag
        if tag == 0xA1 or tag == 0xA3:
            # The sequence header is a segment of its own; its elements follow one by one.
            self._start_segment(hl)
            yield from self._seg_feed(self.hdr, hl)
            if self.done:
                return
            self.sub_tag = tag
            self.sub_left = length
            self.state = _S_SUB if length else _S_CHILD
            if length == 0:
                self._after_container()
            return
        total = hl + length
        if tag == 0xBF23:
            total += self.bpp_hlen
        self._start_segment(total)
        if tag == 0xBF23:
            # Segment 1 opens with the BF36 header itself (SGP.22 §5.7.6).
            yield from self._seg_feed(self.bpp_hdr, self.bpp_hlen)
            if self.done:
                return
        yield from self._segment_header(hl, length)

    def _segment_header(self, hl, length):
        """Send a segment's TLV header, then stream its value (an empty one ends it here)."""
        yield from self._seg_feed(self.hdr, hl)
        if self.done:
            return
        self.state = _S_VALUE
        if length == 0:
            self._segment_done()

    def _seg_feed(self, buf, n):
        for blk in self.seg.feed(buf, 0, n):
            resp = yield blk
            yield from self._after_block(resp)

    def _after_block(self, resp):
        """Check the eUICC's answer to one block; on a segment's last block pick up any result."""
        data, sw = resp
        seg = self.seg
        if not seg.last_sent:
            if sw != apdu.SW_OK:
                raise apdu.ApduError(sw, 0xE2, seg.number - 1)
            return
        data = yield from apdu.collect(self.sd.channel, data, sw, seg.number - 1)
        if data:
            # A ProfileInstallationResult: either the end of the BPP or an early error.
            self.result = data
            self.done = True
            self.state = _S_DONE

    def _segment_done(self):
        self.seg = None
        if self.state == _S_DONE:
            return
        if self.sub_tag and self.seg_tag in (0x88, 0x86):
            if self.sub_left == 0:
                self._after_container()
            else:
                self.state = _S_SUB
            return
        self.state = _S_CHILD
        self._check_end()

    def _after_container(self):
        self.sub_tag = 0
        self.state = _S_CHILD
        self._check_end()

    def _check_end(self):
        if self.bpp_left == 0:
            if self.last_order < 4:
                raise BppError("BoundProfilePackage ended without sequenceOf86", None, self.pos)
            self.state = _S_DONE

    def finish(self):
        """Call at end of stream: the profile is installed only if the eUICC said so."""
        if self.error is not None or self.result is not None:
            return
        if self.state != _S_DONE:
            raise BppError("BPP stream ended early", None, self.pos)
        raise BppError("eUICC returned no ProfileInstallationResult", 0xBF37, self.pos)

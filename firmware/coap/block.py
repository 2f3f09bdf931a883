"""Block-wise transfers (RFC 7959), both directions, client and server side. Sans-I/O.

Bodies stream through two small interfaces and are never held whole in RAM:
  reader: read_into(offset, buf) -> n  (n < len(buf) only at the end); optional `.size`
  sink:   write(offset, mv)            (called with consecutive offsets)
BytesReader/BufferSink adapt in-memory bodies to them for small payloads."""

from micropython import const

from coap import error as E
from coap import numbers as N
from coap import options as O
from coap.ticks import ticks_diff

# Block1 uploads a server keeps apart at once; a new one evicts the oldest (RFC 7959 §2.5
# lets a server drop state; the client then gets 4.08 and restarts).
UPLOADS_MAX = const(2)
UPLOAD_IDLE_MS = const(60000)
# A body assembled in RAM (no streaming sink offered by the handler) may not exceed this.
ASSEMBLE_MAX = const(4096)


class BytesReader:
    def __init__(self, data):
        self._mv = memoryview(data)
        self.size = len(data)

    def read_into(self, offset, buf):
        n = min(len(buf), self.size - offset)
        if n <= 0:
            return 0
        buf[:n] = self._mv[offset:offset + n]
        return n


class BufferSink:
    """Collects a body in one bytearray, refusing more than `limit` bytes (4.13)."""

    def __init__(self, limit=ASSEMBLE_MAX):
        self.data = bytearray()
        self.limit = limit

    def write(self, offset, mv):
        if offset != len(self.data):
            raise E.RequestEntityIncomplete("offset %d, have %d" % (offset, len(self.data)))
        if offset + len(mv) > self.limit:
            raise E.RequestEntityTooLarge("body over %d bytes" % self.limit)
        self.data.extend(mv)


def read_block(reader, offset, size, buf):
    """Read block [offset, offset+size) into buf -> (n, more). buf must hold size + 1 bytes when
    the reader has no `.size` (one extra byte tells whether more follows)."""
    total = getattr(reader, "size", None)
    if total is not None:
        n = reader.read_into(offset, memoryview(buf)[:size]) if offset < total else 0
        return n, offset + n < total
    n = reader.read_into(offset, memoryview(buf)[:size + 1])
    if n > size:
        return size, True
    return n, False


# --- server side ---

def block2_params(request, body_len, max_szx):
    """(num, szx) to serve for `request`, or None when the body fits one message unasked."""
    opt = request.opt(N.BLOCK2)
    if opt is None:
        if body_len is not None and body_len <= O.szx_to_size(max_szx):
            return None
        return 0, max_szx
    num, _, szx = O.block_decode(opt)
    if szx > N.BLOCK_SZX_MAX:
        raise E.BadRequest("Block2 SZX 7")
    if szx > max_szx:
        # A client asking for a larger block than we use gets our size; the block holding its
        # requested offset is served (RFC 7959 §2.4: the server may pick a smaller SZX).
        num = (num << (szx - max_szx))
        szx = max_szx
    return num, szx


def serve_block2(response, reader, num, szx, buf):
    """Fill `response` with block `num` of `reader`: payload, Block2 and (first block) Size2.
    Raises BadOption when the block lies beyond the body (RFC 7959 §2.2)."""
    size = O.szx_to_size(szx)
    offset = num * size
    n, more = read_block(reader, offset, size, buf)
    if n == 0 and num > 0:
        raise E.BadOption("Block2 %d beyond body" % num)
    response.payload = bytes(memoryview(buf)[:n])
    response.set_option(N.BLOCK2, O.block_encode(num, more, szx))
    total = getattr(reader, "size", None)
    if num == 0 and total is not None:
        response.set_option(N.SIZE2, total)
    return response


class _Upload:
    def __init__(self, sink, now):
        self.sink = sink
        self.next = 0
        self.touched = now


class UploadTable:
    """Server-side Block1 state, keyed by (remote, path): ordering, size negotiation, sinks."""

    def __init__(self, max_szx=N.BLOCK_SZX_MAX, limit=UPLOADS_MAX):
        self.max_szx = max_szx
        self.limit = limit
        self._ups = {}

    def block(self, key, request, open_sink, now):
        """Feed one Block1 request. Returns (done, upload, block1_value_for_response, taken).

        open_sink() is called on block 0 to get the sink. Raises CoapError (4.08/4.13/4.00)."""
        num, more, szx_c = O.block_decode(request.opt(N.BLOCK1))
        if szx_c > N.BLOCK_SZX_MAX:
            raise E.BadRequest("Block1 SZX 7")
        szx = min(szx_c, self.max_szx)
        offset = num * O.szx_to_size(szx_c)
        up = self._ups.get(key)
        if num == 0:
            if up is None and len(self._ups) >= self.limit:
                self._evict()
            up = _Upload(open_sink(), now)
            self._ups[key] = up
        elif up is None or up.next != offset:
            self._ups.pop(key, None)
            raise E.RequestEntityIncomplete("Block1 %d at offset %d unexpected" % (num, offset))
        data = request.payload
        if more and len(data) != O.szx_to_size(szx_c):
            self._ups.pop(key, None)
            raise E.BadRequest("Block1 %d: %d bytes, SZX says %d" % (num, len(data), O.szx_to_size(szx_c)))
        try:
            up.sink.write(offset, data)
        except Exception:
            self._ups.pop(key, None)
            raise
        up.next = offset + len(data)
        up.touched = now
        if not more:
            self._ups.pop(key, None)
        # The whole block is taken; NUM echoes the request and SZX is the size wanted from now
        # on, so the client continues at offset + len(data) (RFC 7959 §2.3, §2.5 Figure 6).
        return (not more), up, O.block_encode(num, more, szx), len(data)

    def expire(self, now):
        for key in list(self._ups):
            if ticks_diff(now, self._ups[key].touched) > UPLOAD_IDLE_MS:
                del self._ups[key]

    def _evict(self):
        oldest = None
        for key, up in self._ups.items():
            if oldest is None or ticks_diff(up.touched, self._ups[oldest].touched) < 0:
                oldest = key
        self._ups.pop(oldest, None)

    def __len__(self):
        return len(self._ups)


# --- client side ---

class Block1Sender:
    """Drives a Block1 upload: next_block() fills the request, on_response() moves on."""

    def __init__(self, reader, szx, buf):
        self.reader = reader
        self.szx = szx
        self.buf = buf
        self.offset = 0
        self._sent = 0
        self.more = True

    def next_block(self, request):
        size = O.szx_to_size(self.szx)
        n, more = read_block(self.reader, self.offset, size, self.buf)
        self._sent = n
        self.more = more
        request.payload = bytes(memoryview(self.buf)[:n])
        request.set_option(N.BLOCK1, O.block_encode(self.offset // size, more, self.szx))
        total = getattr(self.reader, "size", None)
        if self.offset == 0 and total is not None:
            request.set_option(N.SIZE1, total)
        return request

    def on_response(self, response):
        """True when another block must be sent; False when `response` is the final one."""
        if response.code != N.CONTINUE:
            return False
        # The block was taken whole; a smaller SZX in the answer applies to the next blocks
        # (RFC 7959 §2.5), and offset + sent is a multiple of any smaller size.
        self.offset += self._sent
        opt = response.opt(N.BLOCK1)
        if opt is not None:
            szx = opt & 7
            if szx < self.szx:
                self.szx = szx
        return self.more


class Block2Receiver:
    """Consumes Block2 responses into a sink; next_num() tells which block to ask for next."""

    def __init__(self, sink):
        self.sink = sink
        self.offset = 0
        self.etag = None
        self.szx = None
        self.done = False

    def on_response(self, response):
        opt = response.opt(N.BLOCK2)
        pl = response.payload
        if opt is None:
            if self.offset != 0:
                raise E.ResponseError(response, "Block2 missing mid-transfer")
            if pl:
                self.sink.write(0, pl)
            self.offset = len(pl)
            self.done = True
            return
        num, more, szx = O.block_decode(opt)
        off = num * O.szx_to_size(szx)
        if off != self.offset:
            raise E.ResponseError(response, "Block2 %d at offset %d, expected %d" % (num, off, self.offset))
        etag = response.opt(N.ETAG)
        if self.offset == 0:
            self.etag = etag
        elif etag != self.etag:
            raise E.ResponseError(response, "representation changed (ETag) mid-transfer")
        if pl:
            self.sink.write(off, pl)
        self.offset = off + len(pl)
        self.szx = szx
        self.done = not more
        if more and len(pl) != O.szx_to_size(szx):
            raise E.ResponseError(response, "Block2 %d short (%d bytes)" % (num, len(pl)))

    def next_option(self):
        size = O.szx_to_size(self.szx)
        return O.block_encode(self.offset // size, False, self.szx)

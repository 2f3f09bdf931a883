"""ES10x transport framing (SGP.22 §5.7.2, GlobalPlatform STORE DATA): one ES10x command is cut
into STORE DATA blocks of at most 255 bytes (CLA 80|channel, INS E2, P1 11 = more blocks,
P1 91 = last block, P2 = block number from 00 per command); the response comes back on the last
block, continued with GET RESPONSE while the status word is 61xx. Sans-I/O: the generators here
yield APDUs and are sent (data, sw) tuples back by whoever owns the card channel."""

from micropython import const

_INS_STORE_DATA = const(0xE2)
_INS_GET_RESPONSE = const(0xC0)
_P1_MORE = const(0x11)
_P1_LAST = const(0x91)
MAX_BLOCK = const(255)
SW_OK = const(0x9000)


class ApduError(Exception):
    """Unexpected status word; .sw, .ins and .block say which APDU failed."""

    def __init__(self, sw, ins=_INS_STORE_DATA, block=0):
        self.sw = sw
        self.ins = ins
        self.block = block
        super().__init__("SW %04X on INS %02X block %d" % (sw, ins, block))


def cla_for(channel):
    # ETSI TS 102 221 §10.1.1: channels 0-3 in the low two bits, 4-19 in the further-interindustry
    # coding; bit 8 set marks the GlobalPlatform proprietary class either way.
    if channel < 4:
        return 0x80 | channel
    if channel < 20:
        return 0xC0 | (channel - 4)
    raise ValueError("logical channel %d out of range" % channel)


def get_response(channel, le):
    return bytes((cla_for(channel) & 0x7F, _INS_GET_RESPONSE, 0, 0, le & 0xFF))


class StoreData:
    """One 5+255 byte buffer reused for every block; the memoryviews it hands out are valid
    until the next block is built."""

    def __init__(self, channel=0, block_size=MAX_BLOCK):
        if not 1 <= block_size <= MAX_BLOCK:
            raise ValueError("STORE DATA block of %d bytes" % block_size)
        self.channel = channel
        self.block_size = block_size
        self.buf = bytearray(5 + block_size)
        self.mv = memoryview(self.buf)
        self.blocks_sent = 0

    def build(self, data, off, n, last, number):
        """APDU for data[off:off+n] as block `number`; no Le (ES10x responses are fetched on
        the last block's 61xx/9000, GP case 3/4 left to the terminal)."""
        b = self.buf
        b[0] = cla_for(self.channel)
        b[1] = _INS_STORE_DATA
        b[2] = _P1_LAST if last else _P1_MORE
        b[3] = number & 0xFF
        b[4] = n
        self.mv[5:5 + n] = memoryview(data)[off:off + n]
        self.blocks_sent += 1
        return self.mv[:5 + n]

    def block_count(self, total):
        return max(1, (total + self.block_size - 1) // self.block_size)


def transact(sd, command):
    """Generator: send one ES10x command, return its response bytes (empty when the eUICC
    answers 9000 without data). Yields APDUs, expects (data, sw) for each."""
    total = len(command)
    count = sd.block_count(total)
    off = 0
    data, sw = b"", SW_OK
    for number in range(count):
        n = min(sd.block_size, total - off)
        last = number == count - 1
        data, sw = yield sd.build(command, off, n, last, number)
        off += n
        if not last and sw != SW_OK:
            raise ApduError(sw, _INS_STORE_DATA, number)
    return (yield from collect(sd.channel, data, sw, count - 1))


def collect(channel, data, sw, block=0):
    """Generator: finish a response whose first part is (data, sw), following 61xx with
    GET RESPONSE. Returns the response bytes."""
    if sw & 0xFF00 != 0x6100:
        if sw != SW_OK:
            raise ApduError(sw, _INS_STORE_DATA, block)
        return bytes(data)
    resp = bytearray(data)
    while sw & 0xFF00 == 0x6100:
        data, sw = yield get_response(channel, sw & 0xFF)
        resp.extend(data)
    if sw != SW_OK:
        raise ApduError(sw, _INS_GET_RESPONSE, block)
    return bytes(resp)


class StoreDataStream:
    """STORE DATA for one command whose total length is known up front but whose bytes arrive
    in pieces (a BPP segment): feed() yields each block as soon as it is full, the last one
    with P1 91 once `total` bytes went through. Holds at most one block."""

    def __init__(self, sd, total):
        self.sd = sd
        self.left = total
        self.fill = 0
        self.number = 0
        self.last_sent = False

    def feed(self, chunk, off=0, end=None):
        """Generator over the APDUs completed by chunk[off:end]; each must be transmitted before
        the next is taken. Returns (through StopIteration) nothing; bytes beyond the command's
        total are an error for the caller to avoid."""
        if end is None:
            end = len(chunk)
        sd = self.sd
        src = memoryview(chunk)
        bs = sd.block_size
        while off < end:
            if self.left == 0:
                raise ValueError("data beyond the announced STORE DATA length")
            n = min(bs - self.fill, end - off, self.left)
            sd.mv[5 + self.fill:5 + self.fill + n] = src[off:off + n]
            self.fill += n
            self.left -= n
            off += n
            if self.fill == bs or self.left == 0:
                yield self._emit()

    def _emit(self):
        sd = self.sd
        b = sd.buf
        last = self.left == 0
        b[0] = cla_for(sd.channel)
        b[1] = _INS_STORE_DATA
        b[2] = _P1_LAST if last else _P1_MORE
        b[3] = self.number & 0xFF
        b[4] = self.fill
        n = self.fill
        self.fill = 0
        self.number += 1
        sd.blocks_sent += 1
        self.last_sent = last
        return sd.mv[:5 + n]

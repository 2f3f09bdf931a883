"""Drives the IPAd's sans-I/O procedures in tests: ES10b commands go through ipa.apdu STORE DATA
framing to a card (the eUICC simulator or a canned script), ESipa messages to a fake eIM that
decodes every request with the independent SGP.32 codec before answering."""

from host_tools import sgp32_oracle as oracle
from ipa import apdu, procedures, tlv


class PowerLoss(Exception):
    """Raised by the rig to simulate a reset at a chosen step."""


def split(rsp):
    return bytes(rsp[:-2]), int.from_bytes(rsp[-2:], "big")


class CardLink:
    """Logical channel to the ISD-R of a host_tools.euicc_sim Card."""

    AID = bytes.fromhex("A0000005591010FFFFFFFF8900000100")

    def __init__(self, card):
        self.card = card
        card.power_on()
        data, sw = split(card.transmit(b"\x00\x70\x00\x00\x01"))
        assert sw == 0x9000, hex(sw)
        self.channel = data[0]
        data, sw = split(card.transmit(bytes([self.channel, 0xA4, 0x04, 0x00, len(self.AID)])
                                       + self.AID + b"\x00"))
        assert sw in (0x9000,) or sw >> 8 == 0x61, hex(sw)
        self.apdus = []

    def transmit(self, a):
        a = bytes(a)
        self.apdus.append(a)
        return split(self.card.transmit(a))


class Rig:
    """handler(action) for procedures.drive()."""

    def __init__(self, link, eim, sd=None, chunk=512):
        self.link = link
        self.eim = eim
        self.sd = sd or apdu.StoreData(link.channel)
        self.chunk = chunk
        self.es10b = []       # (command bytes, response bytes)
        self.esipa = []       # request messages
        self.fail_on = None   # callable(kind, payload) -> exception to raise instead
        self._stream = None

    def _es10b(self, cmd):
        g = apdu.transact(self.sd, cmd)
        a = next(g)
        while True:
            try:
                a = g.send(self.link.transmit(a))
            except StopIteration as e:
                return e.value

    def __call__(self, action):
        kind = next(iter(action))
        payload = action[kind]
        if self.fail_on is not None:
            exc = self.fail_on(kind, payload)
            if exc is not None:
                raise exc
        if kind == "es10b":
            resp = self._es10b(payload)
            self.es10b.append((bytes(payload), resp))
            return resp
        if kind == "apdu":
            return self.link.transmit(payload)
        if kind == "esipa":
            self.esipa.append(bytes(payload))
            return self.eim(bytes(payload))
        if kind == "esipa_stream":
            self.esipa.append(bytes(payload))
            body = self.eim(bytes(payload))
            self._stream = [body[i:i + self.chunk] for i in range(0, len(body), self.chunk)]
            return self._stream.pop(0)
        if kind == "more":
            return self._stream.pop(0) if self._stream else b""
        raise AssertionError("unknown action %r" % (action,))

    def run(self, gen):
        return procedures.drive(gen, self)


class FakeEim:
    """Answers ESipa requests from a queue of packages; records decoded requests."""

    def __init__(self, version="v1.2"):
        self.packages = []       # EsipaMessageFromEimToIpa values for GetEimPackage
        self.results = []        # decoded ProvideEimPackageResult values
        self.notifications = []  # decoded HandleNotification values
        self.acks = None         # callable(result value) -> list of seq numbers to ack
        self.reachable = True
        self.log = []
        self.handlers = {}       # message name -> callable(value) -> response bytes

    def __call__(self, msg):
        name, value = oracle.decode("EsipaMessageFromIpaToEim", msg)
        self.log.append(name)
        if not self.reachable:
            raise procedures.EimUnreachable(name)
        if name in self.handlers:
            return self.handlers[name](value)
        if name == "getEimPackageRequest":
            if self.packages:
                return oracle.encode("EsipaMessageFromEimToIpa",
                                     ("getEimPackageResponse", self.packages.pop(0)))
            return oracle.encode("EsipaMessageFromEimToIpa",
                                 ("getEimPackageResponse", ("eimPackageError", 1)))
        if name == "provideEimPackageResult":
            self.results.append(value)
            acks = self.acks(value) if self.acks else []
            if not acks:
                return oracle.encode("EsipaMessageFromEimToIpa", (
                    "provideEimPackageResultResponse", ("emptyResponse", {})))
            return oracle.encode("EsipaMessageFromEimToIpa", (
                "provideEimPackageResultResponse", ("eimAcknowledgements", acks)))
        if name == "handleNotificationEsipa":
            self.notifications.append(value)
            return b""
        raise AssertionError("fake eIM has no answer for " + name)


def seqs_in_result(value):
    """Every seqNumber in a ProvideEimPackageResult (EPR and notifications)."""
    out = []

    def walk(v, key=None):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "seqNumber" and isinstance(x, int):
                    out.append(x)
                else:
                    walk(x, k)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
    walk(value)
    return sorted(set(out))


class RelayEim(FakeEim):
    """ESipa -> ES9+ relay: the download messages share their encoding with ES9+ apart from the
    ESipa-only eimTransactionId, so the eIM forwards raw bytes (signatures stay intact)."""

    def __init__(self, smdp):
        super().__init__()
        self.smdp = smdp
        self.tamper = None
        self.acks = seqs_in_result
        self.raw = None
        for name in ("initiateAuthenticationRequestEsipa", "authenticateClientRequestEsipa",
                     "getBoundProfilePackageRequestEsipa", "cancelSessionRequestEsipa"):
            self.handlers[name] = lambda value: self._forward(self.raw)

    def __call__(self, msg):
        self.raw = msg
        return super().__call__(msg)

    def _forward(self, msg):
        tag, voff, vend = tlv.header(msg)
        if tag == 0xBF39:
            # Drop the ESipa-only eimTransactionId [2] before it goes to the SM-DP+.
            kids = [bytes(msg[s:e]) for t, s, _, e in tlv.elements(msg, voff, vend) if t != 0x82]
            msg = tlv.encode(0xBF39, b"".join(kids))
        out = self.smdp.handle(msg)
        t, a, b = tlv.header(out)
        out = bytes(out[a:b]) if t == 0xA2 else out
        return self.tamper(out) if self.tamper else out

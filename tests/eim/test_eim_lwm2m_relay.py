"""ESipa over LwM2M object 3443 through EimLwm2mRelay, against a fake of the LwM2M server's API
(write/read/observe/execute/add_listener) with a fake device whose IPA answers from FakeEuicc."""

import asyncio
import binascii

from eim_fake_euicc import FakeEuicc, ipa_reaction, until
from host_tools.eim import codec, core, crypto, packages
from host_tools.eim.lwm2m_relay import (EimLwm2mRelay, PATH_CLEAR, PATH_EID, PATH_EIM_MESSAGE,
                                        PATH_IPA_MESSAGE, PATH_STATE)

EID = "89049032123451234512345678901235"
EIM_ID = "eim.test.invalid"
EP = "urn:dev:test-1"
ICCID = "8944123456789012345"


class Result:
    def __init__(self, code, value=None):
        self.code = code
        self.value = value

    @property
    def ok(self):
        return self.code.startswith("2.")


class Observation:
    def __init__(self):
        self.queue = asyncio.Queue()
        self.cancelled = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        item = await self.queue.get()
        if item is None:
            raise StopAsyncIteration
        return item

    async def cancel(self):
        self.cancelled = True
        self.queue.put_nowait(None)


class FakeDevice:
    """Object 3443 plus a tiny IPA: answers eIM messages written to /0/2 into /0/3."""

    def __init__(self, card, use_send):
        self.card = card
        self.use_send = use_send
        self.state = 0
        self.ipa_message = b""
        self.acks = []
        self.written = []
        self.cleared = 0
        self.server = None

    def ipa_says(self, alternative, value):
        der = codec.encode("EsipaMessageFromIpaToEim", (alternative, value))
        self.server.device_message(der, self.use_send)

    def on_eim_message(self, der):
        self.written.append(der)
        acks, reply = ipa_reaction(self.card, EID, der)
        self.acks.extend(acks)
        if reply is not None:
            self.ipa_says(*reply)


class FakeServer:
    """The duck type EimLwm2mRelay drives (host_tools.lwm2m_server.LwM2MServer's methods)."""

    def __init__(self, device):
        self.device = device
        device.server = self
        self.listeners = []
        self.observations = []

    def add_listener(self, cb):
        self.listeners.append(cb)

    async def write(self, ep, path, value, content_format=None):
        assert ep == EP and path == PATH_EIM_MESSAGE and content_format == 42
        if self.device.state != 0:
            return Result("4.05")
        self.device.on_eim_message(bytes(value))
        return Result("2.04")

    async def read(self, ep, path):
        if path == PATH_EID:
            return Result("2.05", EID)
        if path == PATH_STATE:
            return Result("2.05", self.device.state)
        if path == PATH_IPA_MESSAGE:
            return Result("2.05", self.device.ipa_message)
        return Result("4.04")

    def observe(self, ep, path):
        assert path == PATH_IPA_MESSAGE
        obs = Observation()
        obs.queue.put_nowait(Result("2.05", self.device.ipa_message))
        self.observations.append(obs)
        return obs

    async def execute(self, ep, path):
        assert path == PATH_CLEAR
        self.device.cleared += 1
        self.device.ipa_message = b""
        for obs in self.observations:
            obs.queue.put_nowait(Result("2.05", b""))
        return Result("2.04")

    def device_message(self, der, use_send):
        self.device.ipa_message = der
        if use_send:
            for cb in self.listeners:
                cb("send", EP, {PATH_IPA_MESSAGE: der})
        else:
            for obs in self.observations:
                obs.queue.put_nowait(Result("2.05", der))


class FakeServerWithoutExecute(FakeServer):
    execute = None


def make(use_send, with_execute=True, auto_push=False):
    key = crypto.generate_key()
    eim = core.EimCore(EIM_ID, key)
    card = FakeEuicc(EID, EIM_ID, key.public_key())
    eim.register_euicc(EID, euicc_cert=card.cert_der)
    device = FakeDevice(card, use_send)
    server = (FakeServer if with_execute else FakeServerWithoutExecute)(device)
    return eim, device, server, EimLwm2mRelay(eim, server, auto_push=auto_push)


async def _retrieve_over_send():
    eim, device, server, relay = make(use_send=True)
    assert await relay.attach(EP, observe=False) == EID  # EID read from /3443/0/1
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": ICCID}]})
    device.ipa_says("getEimPackageRequest", {"eidValue": binascii.unhexlify(EID)})
    await until(lambda: device.acks)
    await relay.close()
    return eim, device, relay


def test_lwm2m_3443_retrieve_mode_over_send_acknowledged():
    eim, device, relay = asyncio.run(_retrieve_over_send())
    assert device.acks == [1]
    assert [codec.decode("EsipaMessageFromEimToIpa", w)[0] for w in device.written] == [
        "getEimPackageResponse", "provideEimPackageResultResponse"]
    assert eim.package_list(EID)[0]["state"] == "acknowledged"
    assert device.cleared == 0  # Send confirms delivery itself
    assert relay.errors == []


async def _inject_over_observe():
    eim, device, server, relay = make(use_send=False)
    await relay.attach(EP)
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "disable", "iccid": ICCID}]})
    pushed = await relay.push(EP)
    await until(lambda: device.acks)
    nothing = await relay.push(EP)
    await relay.close()
    return eim, device, pushed, nothing


def test_lwm2m_3443_inject_mode_over_observe_clears_and_acknowledges():
    eim, device, pushed, nothing = asyncio.run(_inject_over_observe())
    assert codec.decode("EsipaMessageFromEimToIpa", pushed)[1][0] == "euiccPackageRequest"
    assert device.acks == [1]
    assert device.cleared == 1  # /3443/0/4 executed after the notification was consumed
    assert nothing is None
    assert eim.package_list(EID)[0]["state"] == "acknowledged"


async def _push_not_ready():
    eim, device, server, relay = make(use_send=False)
    await relay.attach(EP, observe=False)
    device.state = 1
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "getRAT"}]})
    out = await relay.push(EP)
    await relay.close()
    return eim, device, out


def test_lwm2m_3443_no_write_while_state_not_ready():
    eim, device, out = asyncio.run(_push_not_ready())
    assert out is None and device.written == []
    assert eim.package_list(EID)[0]["state"] == "queued"


async def _repeat_without_clear():
    eim, device, server, relay = make(use_send=False, with_execute=False)
    await relay.attach(EP)
    msg = codec.encode("EsipaMessageFromIpaToEim", ("getEimPackageRequest",
                                                    {"eidValue": binascii.unhexlify(EID)}))
    for _ in range(3):  # e.g. pmax re-notifications of an unchanged /3443/0/3
        server.device_message(msg, use_send=False)
    await until(lambda: device.written)
    await asyncio.sleep(0.1)
    await relay.close()
    return device


def test_lwm2m_3443_repeated_notification_of_same_message_processed_once():
    device = asyncio.run(_repeat_without_clear())
    assert len(device.written) == 1


async def _garbage():
    eim, device, server, relay = make(use_send=True)
    await relay.attach(EP, observe=False)
    server.device_message(b"\x30\x00", use_send=True)
    await until(lambda: relay.errors)
    await relay.close()
    return device, relay


def test_lwm2m_3443_garbage_ipa_message_is_logged_not_answered():
    device, relay = asyncio.run(_garbage())
    assert device.written == [] and "refused" in relay.errors[0][1]


async def _auto_push():
    eim, device, server, relay = make(use_send=False, auto_push=True)
    await relay.attach(EP)
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": ICCID}]})
    await until(lambda: device.acks)
    await relay.close()
    return eim, device


def test_lwm2m_3443_inject_mode_auto_push_when_queued():
    eim, device = asyncio.run(_auto_push())
    assert device.acks == [1]
    assert eim.package_list(EID)[0]["state"] == "acknowledged"

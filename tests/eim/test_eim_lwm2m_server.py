"""EimLwm2mRelay on the real LwM2M server (host_tools.lwm2m_server, aiocoap) against a CoAP
device exposing object 3443 (the lwm2m_server tests' FakeDevice), whose IPA answers eIM
messages from FakeEuicc: retrieve mode with the IPA message delivered by LwM2M Send (SenML CBOR)
and inject mode with /3443/0/3 observed and cleared by executing /3443/0/4."""

import asyncio
import binascii
import contextlib
import importlib.util
import os

import cbor2
from aiocoap import Message
from aiocoap.numbers.codes import Code

from eim_fake_euicc import FakeEuicc, ipa_reaction, until
from host_tools.eim import codec, core, crypto, packages
from host_tools.eim.lwm2m_relay import EimLwm2mRelay

EID = "89049032123451234512345678901235"
EIM_ID = "eim.test.invalid"
ICCID = "8944123456789012345"
OPAQUE = 42
SENML_CBOR = 112
_3443 = ("/3443/0/0", "/3443/0/1", "/3443/0/2", "/3443/0/3", "/3443/0/4")


def _fakedev():
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "lwm2m_server", "lwm2m_server_fakedev.py")
    spec = importlib.util.spec_from_file_location("eim_lwm2m_fakedev", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Ipa:
    """The device side of object 3443: an IPA in front of FakeEuicc."""

    def __init__(self, device, card, use_send, server_port):
        self.device = device
        self.card = card
        self.use_send = use_send
        self.server_port = server_port
        self.acks = []
        self.written = []
        self.cleared = 0
        self.tasks = set()
        device.answer("GET", "/3443/0/0", Code.CONTENT, b"0", 0)
        device.answer("GET", "/3443/0/1", Code.CONTENT, EID.encode(), 0)
        device.answer("GET", "/3443/0/3", Code.CONTENT, b"", OPAQUE)
        device.answers[("PUT", "/3443/0/2")] = self._on_write
        device.answers[("POST", "/3443/0/4")] = self._on_clear

    def _on_write(self, request):
        assert request.opt.content_format == OPAQUE
        der = bytes(request.payload)
        self.written.append(der)
        acks, reply = ipa_reaction(self.card, EID, der)
        self.acks.extend(acks)
        if reply is not None:
            self.say(*reply)
        return Message(code=Code.CHANGED)

    def _on_clear(self, request):
        self.cleared += 1
        self.device.notify("/3443/0/3", b"", OPAQUE)
        return Message(code=Code.CHANGED)

    def say(self, alternative, value):
        der = codec.encode("EsipaMessageFromIpaToEim", (alternative, value))
        if self.use_send:
            payload = cbor2.dumps([{-2: "/3443/0/", 0: "3", 8: der}])
            task = asyncio.get_running_loop().create_task(
                self.device.send(self.server_port, payload, SENML_CBOR))
            self.tasks.add(task)
        else:
            self.device.notify("/3443/0/3", der, OPAQUE)


@contextlib.asynccontextmanager
async def rig(use_send):
    """(eim, device, ipa, relay) around a started LwM2M server with the device registered."""
    fakedev = _fakedev()
    server, device = await fakedev.server_and_device("eim-dev", register=False)
    relay = None
    try:
        for path in _3443:
            device.add_resource(path)
        resp = await device.register(server.port, links=b"</>;rt=\"oma.lwm2m\";ct=110,</3443/0>")
        assert resp.code == Code.CREATED
        await server.wait_registered("eim-dev", 5)
        key = crypto.generate_key()
        eim = core.EimCore(EIM_ID, key)
        card = FakeEuicc(EID, EIM_ID, key.public_key())
        eim.register_euicc(EID, euicc_cert=card.cert_der)
        ipa = Ipa(device, card, use_send, server.port)
        relay = EimLwm2mRelay(eim, server)
        yield eim, device, ipa, relay
    finally:
        if relay is not None:
            await relay.close()
        await fakedev.stop_all(device, server)


async def _retrieve_over_send():
    async with rig(use_send=True) as (eim, device, ipa, relay):
        assert await relay.attach("eim-dev", observe=False) == EID
        eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": ICCID}]})
        ipa.say("getEimPackageRequest", {"eidValue": binascii.unhexlify(EID)})
        await until(lambda: ipa.acks)
    return eim, ipa, relay


def test_lwm2m_server_3443_retrieve_mode_over_send():
    eim, ipa, relay = asyncio.run(asyncio.wait_for(_retrieve_over_send(), 60))
    assert ipa.acks == [1] and relay.errors == []
    assert eim.package_list(EID)[0]["state"] == "acknowledged"


async def _inject_over_observe():
    async with rig(use_send=False) as (eim, device, ipa, relay):
        await relay.attach("eim-dev")
        await until(lambda: device.resource("/3443/0/3").observers() == 1)
        eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "disable", "iccid": ICCID}]})
        assert await relay.push("eim-dev") is not None
        await until(lambda: ipa.acks)
    return eim, ipa, relay


def test_lwm2m_server_3443_inject_mode_over_observe_with_clear():
    eim, ipa, relay = asyncio.run(asyncio.wait_for(_inject_over_observe(), 60))
    assert ipa.acks == [1] and ipa.cleared == 1 and relay.errors == []
    assert eim.package_list(EID)[0]["state"] == "acknowledged"

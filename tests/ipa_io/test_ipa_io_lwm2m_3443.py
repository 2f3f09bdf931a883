"""ESipa over LwM2M object 3443, in-process under CPython: the object's table against the OMA
registry XML; the firmware IPAd (ipa.runner.Ipad + ipa.esipa_lwm2m + objects.obj_esim_iot on
the LwM2M data model) against the eIM's 3443 relay (host_tools.eim.lwm2m_relay + EimCore) and
the eUICC simulator's Card. The LwM2M transport in between is replaced by direct registry calls
(tests/ipa_io/ipa_io_inproc.py): this proves the object and the binding's queue, not CoAP."""

import asyncio
import os
import xml.etree.ElementTree as ET

import pytest

from host_tools import pki as _pki
from host_tools.eim import crypto
from host_tools.eim.core import EimCore
from host_tools.eim.lwm2m_relay import EimLwm2mRelay
from host_tools.eim.store import Store
from host_tools.euicc_sim.card import Card
from ipa import esipa_lwm2m, procedures, runner
from ipa.state import IpaState
from lwm2m import model
from objects import obj_esim_iot

from ipa_io_inproc import CardChannel, RegistryServer

REGISTRY_XML = "/work/shared/reference/lwm2m-registry/3443.xml"
EID = _pki.DEFAULT_EID
OP1 = "8900101000000000017"
OP2 = "8900102000000000025"
_OPS = {"": model.OP_NONE, "R": model.OP_R, "W": model.OP_W, "RW": model.OP_RW, "E": model.OP_E}
_TYPES = {"String": model.T_STRING, "Integer": model.T_INT, "Opaque": model.T_OPAQUE,
          "": model.T_NONE}


def test_object_3443_field_table_matches_registry_xml():
    root = ET.parse(REGISTRY_XML).getroot().find("Object")
    rows = []
    for item in root.find("Resources"):
        text = lambda tag: (item.findtext(tag) or "").strip()  # noqa: E731
        flags = (model.MULTI if text("MultipleInstances") == "Multiple" else 0) | \
                (model.MAND if text("Mandatory") == "Mandatory" else 0)
        rows.append((int(item.get("ID")), _OPS[text("Operations")], _TYPES[text("Type")], flags))
    reg = model.Registry()
    obj = obj_esim_iot.create(reg)
    assert list(obj.fields) == sorted(rows)
    assert obj.oid == int(root.findtext("ObjectID")) == 3443
    assert obj.version == root.findtext("ObjectVersion").strip()
    assert obj.multiple is (root.findtext("MultipleInstances").strip() == "Multiple")
    assert obj.mandatory is (root.findtext("Mandatory").strip() == "Mandatory")


def test_objgen_renders_the_table_in_the_object_file():
    from host_tools.objgen.gen import load, render

    table = render(load(REGISTRY_XML))
    assert table.strip() in open(obj_esim_iot.__file__).read()


def test_3443_write_while_not_ready_refused_405_and_write_only_message():
    reg = model.Registry()
    got = []
    obj = obj_esim_iot.create(reg, "89049032123451234512345678901041", on_message=got.append)
    path = (3443, 0, 2)
    reg.write(path, [(path, b"\xbf\x4f\x00")])
    reg.write(path, [(path, b"\xbf\x4f\x00")])    # same bytes again reach the IPA again
    assert got == [b"\xbf\x4f\x00", b"\xbf\x4f\x00"]
    with pytest.raises(model.Error) as e:
        reg.read(path)
    assert e.value.code == model.METHOD_NOT_ALLOWED
    obj.set_ready(False)
    assert reg.read((3443, 0, 0)) == [((3443, 0, 0), 1)]
    with pytest.raises(model.Error) as e:
        reg.write(path, [(path, b"\xbf\x4f\x00")])
    assert e.value.code == model.METHOD_NOT_ALLOWED
    obj.set_ready(True)
    with pytest.raises(model.Error) as e:
        reg.write(path, [(path, b"\x00" * (obj_esim_iot.MAX_EIM_MESSAGE + 1))])
    assert e.value.code == model.REQUEST_ENTITY_TOO_LARGE
    assert len(got) == 2


def test_3443_clear_execute_empties_ipa_message_and_notifies():
    reg = model.Registry()
    seen = []
    cleared = []
    obj = obj_esim_iot.create(reg, on_clear=lambda: cleared.append(1))
    reg.listeners.append(seen.append)
    obj.put(b"\xbf\x4f\x03\x5a\x01\x00")
    assert reg.read((3443, 0, 3)) == [((3443, 0, 3), b"\xbf\x4f\x03\x5a\x01\x00")]
    reg.execute((3443, 0, 4))
    assert reg.read((3443, 0, 3)) == [((3443, 0, 3), b"")]
    assert seen == [(3443, 0, 3), (3443, 0, 3)] and cleared == [1]


class _Rig:
    def __init__(self, tmp_path, **ipad_kw):
        pki = _pki.make()
        self.card = Card(state_path=str(tmp_path / "euicc.json"), pki=pki)
        self.card.power_on()
        self.core = EimCore("test-eim", crypto.load_private_key(os.path.join(pki.directory,
                                                                             "eim.key")),
                            Store(str(tmp_path / "eim.sqlite")))
        self.core.register_euicc(EID, euicc_cert=pki.euicc_for(EID).cert_der,
                                 association_token=1)
        self.reg = model.Registry()
        self.obj = obj_esim_iot.create(self.reg)
        self.server = RegistryServer(self.reg)
        self.binding = esipa_lwm2m.EsipaLwm2m(self.obj, answer_timeout_ms=3000)
        self.refreshes = 0
        self._refreshed = asyncio.Event()
        self.card.on_refresh = self._on_refresh
        ipa = procedures.Ipa(IpaState(str(tmp_path / "ipa_state.json")), backoff_min_ms=50)
        self.log = []
        self.ipad = runner.Ipad(ipa, lambda: CardChannel.open(self.card), self.binding,
                                refresh=self._refresh, log=self.log.append, poll_floor_ms=10,
                                **ipad_kw)
        self.relay = EimLwm2mRelay(self.core, self.server)

    def _on_refresh(self):
        # what the modem does on REFRESH in UICC-reset mode
        asyncio.get_running_loop().call_soon(self._reset)

    def _reset(self):
        self.card.reset()
        self.refreshes += 1
        self._refreshed.set()

    async def _refresh(self):
        await asyncio.wait_for(self._refreshed.wait(), 5)
        self._refreshed.clear()

    async def start(self):
        await self.ipad.start()
        assert self.reg.get((3443, 0, 1)) == EID
        await self.relay.attach("dev1")

    def enabled(self):
        return self.card.enabled_profile()["iccid"]


async def _test_sgp32_psmo_enable_over_3443_observe_clear_and_answer(tmp_path):
    rig = _Rig(tmp_path)
    await rig.start()
    pid = rig.core.queue(EID, "euiccPackage", {"psmo": [{"op": "enable", "iccid": OP2}]})
    r = await asyncio.wait_for(rig.ipad.poll(), 20)
    handled = r["handled"][0]
    assert handled["results"] == [("enable", 0)] and handled["seqNumber"] in handled["acks"]
    assert rig.enabled() == OP2 and rig.refreshes == 1
    assert "ipa refreshed channel reopened" in rig.log
    row = [p for p in rig.core.package_list(EID) if p["id"] == pid][0]
    assert row["state"] == "acknowledged" and "(verified" in row["result"]
    assert not rig.relay.errors
    # every IPA message went through /3443/0/3 and every answer through /3443/0/2
    assert rig.binding.messages_tx == 3 and rig.binding.messages_rx == 3
    assert rig.reg.get((3443, 0, 0)) == 0
    await rig.relay.close()


async def _test_sgp32_eim_push_transfer_package_over_3443(tmp_path):
    rig = _Rig(tmp_path)
    await rig.start()
    pid = rig.core.queue(EID, "euiccPackage", {"psmo": [{"op": "enable", "iccid": OP2}]})
    pushed = await rig.relay.push("dev1")
    assert pushed[:2] == b"\xbf\x4e"     # TransferEimPackageRequest
    msg = await rig.binding.next_push(2000)
    r = await asyncio.wait_for(rig.ipad.handle_push(msg), 20)
    assert r["package"] == "euiccPackageRequest" and r["result"] == "signed"
    assert rig.enabled() == OP2 and "ipa refreshed channel reopened" in rig.log
    for _ in range(100):
        row = [p for p in rig.core.package_list(EID) if p["id"] == pid][0]
        if row["state"] in ("result", "acknowledged"):
            break
        await asyncio.sleep(0.02)
    assert row["state"] in ("result", "acknowledged") and "(verified" in row["result"]
    assert not rig.relay.errors
    await rig.relay.close()


async def _test_refresh_signal_lost_runner_times_out_reopens_and_reports(tmp_path):
    rig = _Rig(tmp_path)

    async def never():
        await asyncio.sleep(30)

    rig.ipad.refresh = never
    rig.ipad.refresh_timeout_ms = 100
    await rig.start()
    rig.core.queue(EID, "euiccPackage", {"psmo": [{"op": "enable", "iccid": OP2}]})
    r = await asyncio.wait_for(rig.ipad.poll(), 20)
    assert r["handled"][0]["results"] == [("enable", 0)]
    assert "ipa refresh-timeout 100 ms" in rig.log and "ipa refreshed channel reopened" in rig.log
    assert rig.core.package_list(EID)[0]["state"] == "acknowledged"
    await rig.relay.close()


async def _test_3443_no_answer_is_eim_unreachable_with_backoff(tmp_path):
    rig = _Rig(tmp_path)
    await rig.ipad.start()      # no relay attached: nobody collects /3443/0/3
    rig.binding.timeout_ms = 100
    r = await asyncio.wait_for(rig.ipad.poll(), 10)
    assert r["unreachable"] is True and r["retry_ms"] == 50
    assert any(line.startswith("ipa eim-unreachable") and "ESipa LwM2M timeout" in line
               for line in rig.log)
    assert rig.reg.get((3443, 0, 0)) == 0


async def _test_3443_state_busy_while_procedure_works_on_card(tmp_path):
    rig = _Rig(tmp_path)
    states = []

    class Spy(CardChannel):
        async def transmit(self, apdu):
            states.append(rig.reg.get((3443, 0, 0)))
            return await CardChannel.transmit(self, apdu)

    rig.ipad.open_channel = lambda: Spy.open(rig.card)
    await rig.start()
    rig.core.queue(EID, "euiccPackage", {"psmo": [{"op": "getRAT"}]})
    states.clear()
    await asyncio.wait_for(rig.ipad.poll(), 10)
    assert states and all(s == 1 for s in states)
    assert rig.reg.get((3443, 0, 0)) == 0
    await rig.relay.close()


def test_sgp32_psmo_enable_over_3443_observe_clear_and_answer(tmp_path):
    asyncio.run(_test_sgp32_psmo_enable_over_3443_observe_clear_and_answer(tmp_path))


def test_sgp32_eim_push_transfer_package_over_3443(tmp_path):
    asyncio.run(_test_sgp32_eim_push_transfer_package_over_3443(tmp_path))


def test_3443_no_answer_is_eim_unreachable_with_backoff(tmp_path):
    asyncio.run(_test_3443_no_answer_is_eim_unreachable_with_backoff(tmp_path))


def test_3443_state_busy_while_procedure_works_on_card(tmp_path):
    asyncio.run(_test_3443_state_busy_while_procedure_works_on_card(tmp_path))


def test_refresh_signal_lost_runner_times_out_reopens_and_reports(tmp_path):
    asyncio.run(_test_refresh_signal_lost_runner_times_out_reopens_and_reports(tmp_path))


class _StoreDataSpy(CardChannel):
    """Records the Lc of every STORE DATA block (GP INS E2) the IPAd sends."""
    blocks = []

    async def transmit(self, apdu):
        if apdu[1] == 0xE2:
            self.blocks.append(apdu[4])
        return await CardChannel.transmit(self, apdu)


async def _test_store_data_blocks_fit_the_uicc_max_segment(tmp_path):
    # SARA-R5's +CSIM line cap leaves 131 data bytes per APDU (modem.uicc Uicc.max_segment)
    rig = _Rig(tmp_path, max_segment=131)
    _StoreDataSpy.blocks = []
    rig.ipad.open_channel = lambda: _StoreDataSpy.open(rig.card)
    assert rig.ipad.ipa.sd.block_size == 131
    await rig.start()
    rig.core.queue(EID, "euiccPackage", {"psmo": [{"op": "enable", "iccid": OP2}]})
    r = await asyncio.wait_for(rig.ipad.poll(), 20)
    assert r["handled"][0]["results"] == [("enable", 0)] and rig.enabled() == OP2
    # the signed LoadEuiccPackage (> 131 bytes) went in several blocks, none over the cap
    assert max(_StoreDataSpy.blocks) == 131 and min(_StoreDataSpy.blocks) >= 1
    # the runner the IPAd made after the REFRESH still uses the same blocks
    assert rig.ipad.runner.sd is rig.ipad.ipa.sd
    await rig.relay.close()


def test_store_data_blocks_fit_the_uicc_max_segment(tmp_path):
    asyncio.run(_test_store_data_blocks_fit_the_uicc_max_segment(tmp_path))


def test_max_segment_of_255_keeps_the_ipa_blocks(tmp_path):
    async def make():
        return _Rig(tmp_path, max_segment=255)

    rig = asyncio.run(make())
    assert rig.ipad.ipa.sd.block_size == 255


async def _test_ipad_results_bounded_to_the_newest_rounds(tmp_path):
    rig = _Rig(tmp_path, keep_results=3)
    await rig.start()
    got = []
    for i in range(7):
        if i == 5:
            rig.core.queue(EID, "euiccPackage", {"psmo": [{"op": "getRAT"}]})
        got.append(await asyncio.wait_for(rig.ipad.poll(), 10))
    assert rig.ipad.polls == 7 and len(rig.ipad.results) == 3
    assert all(a is b for a, b in zip(rig.ipad.results, got[-3:]))
    assert rig.ipad.results[1]["handled"]       # round 6 carried the package
    await rig.relay.close()


def test_ipad_results_bounded_to_the_newest_rounds(tmp_path):
    asyncio.run(_test_ipad_results_bounded_to_the_newest_rounds(tmp_path))


async def _test_card_command_racing_the_refresh_is_sent_again_on_the_reopened_channel(tmp_path):
    rig = _Rig(tmp_path)
    sws = []

    class Late(CardChannel):
        # the modem's REFRESH handling (card reset) runs before each command reaches the card,
        # as when the REFRESH URC comes after the next +CSIM was already sent
        async def transmit(self, apdu):
            await asyncio.sleep(0)
            out = await CardChannel.transmit(self, apdu)
            sws.append(out[1])
            return out

    rig.ipad.open_channel = lambda: Late.open(rig.card)
    await rig.start()
    rig.core.queue(EID, "euiccPackage", {"psmo": [{"op": "enable", "iccid": OP2}]})
    r = await asyncio.wait_for(rig.ipad.poll(), 20)
    handled = r["handled"][0]
    assert handled["results"] == [("enable", 0)] and handled["seqNumber"] in handled["acks"]
    assert 0x6881 in sws and sws[-1] == 0x9000
    assert rig.log.count("ipa refreshed channel reopened") == 1
    await rig.relay.close()


def test_card_command_racing_the_refresh_is_sent_again_on_the_reopened_channel(tmp_path):
    asyncio.run(_test_card_command_racing_the_refresh_is_sent_again_on_the_reopened_channel(
        tmp_path))

# modem.connmon_source on MicroPython: object 10 writes reach the modem as the exact +CPSMS /
# +CEDRXS lines (a Dialect over the scripted byte stream of modem_fakeline), /10 values are read
# back from +CPSMS? / +CEDRXS?, and SIM identity (ICCID, IMSI, EID) is copied into the objects
# that carry it (a fake dialect object).
# mpy-heapsize: 192K
import asyncio

from lwm2m.model import Registry
from modem.at import AtError
from modem.connmon_source import ModemPower, read_cellconn, sync_identity
from modem.dialect import Dialect
from modem_fakeline import FakeLine
from objects import obj_cellconn, obj_device, obj_esim_iot
from objects.obj_cellconn import MODE_EDRX, MODE_PSM

_EID = "89049032123451234512345678901041"


def _dialect(answers):
    """A base Dialect on a fake line: `answers` maps a command line to its reply lines (OK is
    added), "ERROR" to fail it; anything else is just OK."""
    def respond(line):
        a = answers.get(line)
        if a == "ERROR":
            return b"\r\nERROR\r\n"
        body = b"".join(b"\r\n" + x.encode() for x in (a or ()))
        return body + b"\r\nOK\r\n"

    f = FakeLine(respond)
    return f, Dialect.connect(f, f)


def _sent(f, prefix):
    return [w for w in f.written if isinstance(w, str) and w.startswith(prefix)]


async def test_cellconn_writes_reach_the_modem_as_cpsms_and_cedrxs():
    f, d = _dialect({})
    power = ModemPower(d)
    reg = Registry()
    obj_cellconn.create(reg, apply=power)
    try:
        reg.write((10, 0), [((10, 0, 4), 3600), ((10, 0, 5), 60), ((10, 0, 8), b"\x35"),
                            ((10, 0, 13), MODE_PSM | MODE_EDRX)])
        assert await power.drain(5000)
        assert _sent(f, "AT+CPSMS") == ['AT+CPSMS=1,,,"00000110","00011110"']
        assert _sent(f, "AT+CEDRXS") == ['AT+CEDRXS=2,4,"0101"']
        reg.write((10, 0), [((10, 0, 13), 0)])
        assert await power.drain(5000)
        assert _sent(f, "AT+CPSMS")[-1] == "AT+CPSMS=0"
        assert _sent(f, "AT+CEDRXS")[-1] == "AT+CEDRXS=0,4"
        assert power.done == 4 and list(power.errors) == [] and power.dropped == 0
    finally:
        d.deinit()


async def test_modem_power_keeps_going_after_a_refused_setting():
    f, d = _dialect({'AT+CEDRXS=2,5,"1101"': "ERROR"})
    power = ModemPower(d)
    try:
        power("set_edrx", (True, 5, "1101"))
        power("set_psm", (False,))
        power("disable_radio", (10,))  # nobody to hand it to: recorded, not fatal
        assert await power.drain(5000)
        errs = list(power.errors)
        assert [m for m, _ in errs] == ["set_edrx", "disable_radio"], errs
        assert errs[0][1].command == 'AT+CEDRXS=2,5,"1101"'
        assert power.done == 1 and _sent(f, "AT+CPSMS") == ["AT+CPSMS=0"]
    finally:
        d.deinit()


async def test_modem_power_queue_is_bounded_and_disable_radio_goes_to_the_app():
    f, d = _dialect({})
    offs = []

    async def radio_off(minutes):
        offs.append(minutes)

    power = ModemPower(d, on_disable_radio=radio_off)
    try:
        for i in range(11):
            power("set_psm", (False,))
        power("disable_radio", (45,))
        assert await power.drain(5000)
        # all twelve came in before the task ran: eight held, the last four (with the
        # disable_radio) dropped and counted
        assert power.dropped == 4 and power.done == 8 and offs == []
        power("disable_radio", (45,))
        assert await power.drain(5000) and offs == [45]
    finally:
        d.deinit()


async def test_read_cellconn_from_cpsms_and_cedrxs_queries():
    f, d = _dialect({
        "AT+CPSMS?": ['+CPSMS: 1,,,"10110001","00100010"'],
        "AT+CEDRXS?": ['+CEDRXS: 4,"0101"', '+CEDRXS: 5,"1101"'],
    })
    try:
        v = await read_cellconn(d)
        assert v == {"psm_timer": 1020, "active_timer": 120, "edrx_wb_s1": b"\x05",
                     "edrx_nb_s1": b"\x0d", "active_modes": MODE_PSM | MODE_EDRX}, v
        reg = Registry()
        calls = []
        obj_cellconn.create(reg, apply=lambda m, a: calls.append(m)).update(**v)
        assert reg.get((10, 0, 4)) == 1020 and reg.get((10, 0, 9)) == b"\x0d" and calls == []
    finally:
        d.deinit()


async def test_read_cellconn_psm_off_and_no_edrx():
    f, d = _dialect({"AT+CPSMS?": ["+CPSMS: 0"], "AT+CEDRXS?": []})
    try:
        v = await read_cellconn(d)
        assert v == {"psm_timer": None, "active_timer": None, "active_modes": 0}, v
    finally:
        d.deinit()


class _FakeDialect:
    """What sync_identity uses of a dialect: identity() (or the single reads) and .eid."""

    def __init__(self, fail_imsi=False):
        self.eid = None
        self.fail_imsi = fail_imsi

    async def imei(self):
        return "490154203237518"

    async def imsi(self):
        if self.fail_imsi:
            raise AtError("AT+CIMI", "+CME ERROR", 10)
        return "242016000001234"

    async def iccid(self):
        return "8947080000000000017"

    async def identity(self):
        return {"imei": await self.imei(), "imsi": await self.imsi(), "iccid": await self.iccid(),
                "eid": self.eid}


def _registry():
    reg = Registry()
    obj_device.create(reg)
    esim = obj_esim_iot.create(reg)
    return reg, esim


async def test_sync_identity_copies_eid_into_3443_and_keeps_device_serial():
    reg, esim = _registry()
    serial = reg.get((3, 0, 2))
    d = _FakeDialect()
    ident = await sync_identity(d, reg, eid=_EID)
    assert ident == {"imei": "490154203237518", "imsi": "242016000001234",
                     "iccid": "8947080000000000017", "eid": _EID}
    assert reg.get((3443, 0, 1)) == _EID and d.eid == _EID
    assert reg.get((3, 0, 2)) == serial  # /3 serial number stays the device's


async def test_sync_identity_without_ipa_eid_uses_the_dialects_and_survives_no_imsi():
    reg, esim = _registry()
    d = _FakeDialect(fail_imsi=True)  # no enabled profile: +CIMI fails
    d.eid = _EID  # set earlier by the IPA
    ident = await sync_identity(d, reg)
    assert ident["imsi"] is None and ident["iccid"] == "8947080000000000017"
    assert ident["eid"] == _EID and reg.get((3443, 0, 1)) == _EID


async def test_sync_identity_fills_504_when_registered():
    # object 504 (Remote SIM Provisioning) carries ICCIDs and the eUICC ID: a bare stand-in with
    # its two identity rows shows where they go
    from lwm2m.model import Object

    reg = Registry()
    rsp = Object(504, "1.0", ((11, 1, 0, 3), (12, 1, 0, 0)), multiple=True)
    rsp.instances[0] = {11: {}}
    reg.add(rsp)
    await sync_identity(_FakeDialect(), reg, eid=_EID)
    assert reg.get((504, 0, 11, 0)) == "8947080000000000017" and reg.get((504, 0, 12)) == _EID


async def test_sync_identity_with_no_registry_only_reads():
    d = _FakeDialect()
    ident = await sync_identity(d)
    assert ident["eid"] is None and ident["imsi"] == "242016000001234"
    await asyncio.sleep_ms(0)

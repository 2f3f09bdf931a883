# Object 10 (LwM2M Cellular Connectivity) on MicroPython: server Writes of the PSM/eDRX resources
# reach the modem through the apply callback with TS 24.008 timer bits and +CEDRXS values; a
# refused write changes nothing and calls nothing; update() reflects the modem without applying.
from lwm2m.model import Registry, Error
from lwm2m import fmt_tlv
from objects import obj_cellconn
from objects.obj_cellconn import MODE_EDRX, MODE_PSM


def _setup(supported=MODE_PSM | MODE_EDRX):
    calls = []
    changed = []
    reg = Registry()
    reg.listeners.append(changed.append)
    obj = obj_cellconn.create(reg, apply=lambda m, a: calls.append((m, a)), supported=supported)
    return reg, obj, calls, changed


def _refused(reg, records):
    try:
        reg.write((10, 0), records)
    except Error as e:
        return e
    raise AssertionError("write accepted: %r" % (records,))


def test_cellconn_psm_write_applies_t3412_t3324_bits():
    reg, obj, calls, changed = _setup()
    reg.write((10, 0), [((10, 0, 4), 3600), ((10, 0, 5), 60), ((10, 0, 13), MODE_PSM)])
    # 3600 s = 6 x 10 min (unit 000); 60 s = 30 x 2 s (unit 000 of GPRS Timer 2)
    assert calls == [("set_psm", (True, "00000110", "00011110"))], calls
    assert (10, 0, 4) in changed and (10, 0, 13) in changed
    assert reg.get((10, 0, 4)) == 3600 and reg.get((10, 0, 5)) == 60


def test_cellconn_psm_timer_not_exact_is_stored_as_the_modem_gets_it():
    reg, obj, calls, changed = _setup()
    reg.write((10, 0), [((10, 0, 13), MODE_PSM), ((10, 0, 4), 1000), ((10, 0, 5), 100)])
    # 1000 s: 17 x 1 min = 1020 s is nearest (2 x 10 min = 1200); 100 s: 2 x 1 min = 120 or
    # 50 x 2 s (out of range) -> 120 s (unit 001) beats 0 x 6 min
    assert calls == [("set_psm", (True, "10110001", "00100010"))], calls
    assert reg.get((10, 0, 4)) == 1020 and reg.get((10, 0, 5)) == 120


def test_cellconn_psm_off_and_timer_only_writes():
    reg, obj, calls, changed = _setup()
    reg.write((10, 0, 4), [((10, 0, 4), 7200)])  # PSM not active: the modem is told PSM off
    assert calls == [("set_psm", (False,))]
    del calls[:]
    reg.write((10, 0), [((10, 0, 13), MODE_PSM)])  # active with only TAU known: Active Time default
    assert calls == [("set_psm", (True, "00001100", None))], calls


def test_cellconn_edrx_write_applies_cedrxs_per_access_technology():
    reg, obj, calls, changed = _setup()
    reg.write((10, 0), [((10, 0, 13), MODE_EDRX), ((10, 0, 8), b"\x35"), ((10, 0, 9), b"\x0d")])
    assert ("set_psm", (False,)) in calls
    # octet 3: PTW in bits 8-5, eDRX value in bits 4-1; +CEDRXS AcT 4 = WB-S1, 5 = NB-S1
    assert ("set_edrx", (True, 4, "0101")) in calls and ("set_edrx", (True, 5, "1101")) in calls
    assert len(calls) == 3
    del calls[:]
    reg.write((10, 0), [((10, 0, 13), 0)])
    assert calls == [("set_psm", (False,)), ("set_edrx", (False, 4)), ("set_edrx", (False, 5))]
    del calls[:]
    reg.write((10, 0), [((10, 0, 8), b"\x32")])  # eDRX inactive: the parameter is kept, not sent
    assert calls == [("set_edrx", (False, 4))] and reg.get((10, 0, 8)) == b"\x32"


def test_cellconn_refused_writes_change_and_apply_nothing():
    reg, obj, calls, changed = _setup(supported=MODE_PSM)
    cases = (
        [((10, 0, 13), MODE_EDRX)],             # not a supported mode
        [((10, 0, 5), 11340)],                  # nearer 32 than 31 decihours of T3324
        [((10, 0, 4), 35712000 + 576000)],      # nearer 32 than 31 x 320 h (T3412 ext.)
        [((10, 0, 4), -1)],
        [((10, 0, 8), b"\x01\x02")],            # octet 3 is one byte
        [((10, 0, 14), 4)],                     # RAI bit 3 without bit 2
        [((10, 0, 1), 65536)],                  # disable radio period in minutes, max 65535
        [((10, 0, 13), 256)],
    )
    before = reg.read((10, 0))
    for records in cases:
        e = _refused(reg, records)
        assert e.code == 0x80 and "/10/0/" in e.msg, (records, e.msg)
    assert reg.read((10, 0)) == before and calls == [] and changed == []


def test_cellconn_read_only_and_absent_resources():
    reg, obj, calls, changed = _setup()
    for rid, value in ((12, 1), (11, (11, 0)), (3, (0, 0))):
        try:
            reg.write((10, 0, rid), [((10, 0, rid), value)])
            raise AssertionError("write of /10/0/%d accepted" % rid)
        except Error as e:
            assert e.code in (0x85, 0x80), e
    paths = [r[0] for r in reg.read((10, 0))]
    assert paths == [(10, 0, 12), (10, 0, 13)]  # 11 is mandatory but holds no link yet


def test_cellconn_disable_radio_and_stored_config():
    reg, obj, calls, changed = _setup()
    reg.write((10, 0), [((10, 0, 1), 30), ((10, 0, 0), "+4791000000"), ((10, 0, 2), "*98"),
                        ((10, 0, 14), 6)])
    assert calls == [("disable_radio", (30,))]
    assert reg.get((10, 0, 0)) == "+4791000000" and reg.get((10, 0, 14)) == 6
    del calls[:]
    reg.write((10, 0, 1), [((10, 0, 1), 0)])  # 0: stay connected, nothing to do
    assert calls == []


def test_cellconn_update_reflects_modem_without_applying_and_notifies_changes():
    reg, obj, calls, changed = _setup()
    obj.update(psm_timer=3600, active_timer=60, active_modes=MODE_PSM | MODE_EDRX,
               edrx_wb_s1=b"\x05", profiles=[(11, 0)])
    assert calls == []
    assert (10, 0, 4) in changed and (10, 0, 11) in changed
    assert reg.get((10, 0, 11, 0)) == (11, 0)
    del changed[:]
    obj.update(psm_timer=3600)
    assert changed == []  # unchanged value: no notification
    obj.update(edrx_wb_s1=None)
    assert reg.get((10, 0, 8)) is None and changed == [(10, 0, 8)]
    try:
        obj.update(imsi="x")
        raise AssertionError("unknown name accepted")
    except Error as e:
        assert e.code == 0x80


def test_cellconn_instance_encodes_as_tlv():
    reg, obj, calls, changed = _setup()
    obj.update(psm_timer=3600, edrx_nb_s1=b"\x0d")
    buf = fmt_tlv.encode(reg.read((10, 0)), (10, 0), reg.type_of)
    back = dict(fmt_tlv.decode(buf, (10, 0), reg.type_of))
    assert back[(10, 0, 4)] == 3600 and back[(10, 0, 9)] == b"\x0d" and back[(10, 0, 12)] == 3

"""Object 10 against registry 10.xml (rid, operations, single/multiple, mandatory, type, object
version and multiplicity; the table text is what host_tools.objgen renders), and the TS 24.008
GPRS timer conversions of its PSM resources under hypothesis."""

import os

from hypothesis import given, strategies as st

from lwm2m import model
from objects_extra_registry import check_against_xml
from objects import obj_cellconn

_XML = "/work/shared/reference/lwm2m-registry/10.xml"
# GPRS Timer 3 (§10.5.7.4a) and GPRS Timer 2 (§10.5.7.3): unit bits -> seconds
_T3412 = {0b000: 600, 0b001: 3600, 0b010: 36000, 0b011: 2, 0b100: 30, 0b101: 60, 0b110: 1152000}
_T3324 = {0b000: 2, 0b001: 60, 0b010: 360}


def test_cellconn_field_table_matches_registry_10_xml():
    obj = obj_cellconn.create(model.Registry())
    want = check_against_xml(obj, obj_cellconn, _XML)
    assert want["oid"] == 10


def _decode(bits, units):
    v = int(bits, 2)
    return units[v >> 5] * (v & 31)


@given(st.integers(0, 31 * 1152000))
def test_t3412_extended_bits_nearest_representable(seconds):
    bits, got = obj_cellconn.t3412_bits(seconds)
    assert len(bits) == 8 and _decode(bits, _T3412) == got
    assert obj_cellconn.t3412_seconds(bits) == got
    # no other (unit, count) of the timer is closer
    best = min(abs(u * n - seconds) for u in _T3412.values() for n in range(32))
    assert abs(got - seconds) == best


@given(st.integers(0, 31 * 360))
def test_t3324_bits_nearest_representable(seconds):
    bits, got = obj_cellconn.t3324_bits(seconds)
    assert _decode(bits, _T3324) == got == obj_cellconn.t3324_seconds(bits)
    best = min(abs(u * n - seconds) for u in _T3324.values() for n in range(32))
    assert abs(got - seconds) == best


def test_gprs_timer_exact_values_and_limits():
    assert obj_cellconn.t3412_bits(0) == ("01100000", 0)
    assert obj_cellconn.t3412_bits(62) == ("01111111", 62)        # 31 x 2 s
    assert obj_cellconn.t3412_bits(3600) == ("00000110", 3600)    # finer unit wins the tie
    assert obj_cellconn.t3412_bits(31 * 1152000) == ("11011111", 35712000)
    assert obj_cellconn.t3412_bits(31 * 1152000 + 576000) is None
    assert obj_cellconn.t3324_bits(11160) == ("01011111", 11160)
    assert obj_cellconn.t3324_bits(11340) is None
    assert obj_cellconn.t3324_seconds("11100000") is None          # deactivated
    assert os.path.basename(obj_cellconn.__file__) == "obj_cellconn.py"

"""Object 20 (Event Log) against registry 20.xml: rid, operations, single/multiple, mandatory,
type, object version and multiplicity, and the table text host_tools.objgen renders; the
Execute argument parser of LogStart/LogStop under hypothesis (Core §5.4.5 argument list)."""

from hypothesis import given, strategies as st

from host_tools.objgen.gen import load
from lwm2m import model
from objects_extra_registry import check_against_xml
from objects import obj_event_log

_XML = "/work/shared/reference/lwm2m-registry/20.xml"


def test_event_log_field_table_matches_registry_20_xml():
    obj = obj_event_log.create(model.Registry())
    want = check_against_xml(obj, obj_event_log, _XML)
    assert (want["oid"], want["version"], want["multiple"]) == (20, "2.1", True)


def test_event_log_instance_0_has_every_mandatory_resource():
    want = load(_XML)
    reg = model.Registry()
    obj_event_log.create(reg)
    present = {p[2] for p, _ in reg.read((20, 0), server=False)}
    assert {r["rid"] for r in want["resources"] if r["mandatory"]} <= present
    # LogDataIncremental (no operations) is never offered to a server
    assert 4016 not in {p[2] for p, _ in reg.read((20, 0))}


_VALUE = st.text(alphabet="0123456789abc!-", max_size=6)


@given(st.lists(st.tuples(st.integers(0, 9), st.none() | _VALUE), max_size=5))
def test_execute_argument_0_found_in_any_core_argument_list(args):
    text = ",".join(str(d) if v is None else "%d='%s'" % (d, v) for d, v in args)
    got = obj_event_log._arg0(text.encode())
    first = [v for d, v in args if d == 0]
    assert got == (None if not first else (first[0] if first[0] is not None else ""))


@given(st.binary(max_size=12))
def test_execute_argument_parser_raises_only_value_error(data):
    try:
        obj_event_log._arg0(data)
    except (ValueError, UnicodeError):
        pass

# Data model: transactional writes, operation checks, access rule, create/delete, listeners and
# the objects 0/1/3/4 behaviour, on MicroPython.
from lwm2m import linkformat, model
from lwm2m import path as lpath
from lwm2m_model_fixture import make_registry, raises


def _snapshot(reg, oid):
    obj = reg.get_object(oid)
    return {iid: dict((k, dict(v) if isinstance(v, dict) else v) for k, v in vals.items())
            for iid, vals in obj.instances.items()}


def test_write_invalid_value_leaves_instance_unchanged():
    reg, _ = make_registry()
    seen = []
    reg.listeners.append(seen.append)
    before = _snapshot(reg, 1)
    # Lifetime is fine, binding "X" is refused by the Server object's validate(): nothing changes.
    raises(model.BAD_REQUEST, reg.write, (1, 0), [((1, 0, 1), 600), ((1, 0, 7), "X")])
    assert _snapshot(reg, 1) == before and seen == []
    # Second record of wrong type: the first must not have been applied either.
    raises(model.BAD_REQUEST, reg.write, (1, 0), [((1, 0, 1), 600), ((1, 0, 6), 5)])
    assert _snapshot(reg, 1) == before and seen == []


def test_write_read_only_resource_is_method_not_allowed():
    reg, _ = make_registry()
    before = _snapshot(reg, 1)
    raises(model.METHOD_NOT_ALLOWED, reg.write, (1, 0), [((1, 0, 1), 60), ((1, 0, 0), 7)])
    assert _snapshot(reg, 1) == before


def test_write_unknown_resource_and_instance_not_found():
    reg, _ = make_registry()
    raises(model.NOT_FOUND, reg.write, (1, 0), [((1, 0, 99), 1)])
    raises(model.NOT_FOUND, reg.write, (1, 5), [((1, 5, 1), 1)])
    raises(model.BAD_REQUEST, reg.write, (1, 0), [((1, 1, 1), 1)])


def test_write_commits_and_notifies_changed_paths_only():
    reg, _ = make_registry()
    seen = []
    reg.listeners.append(seen.append)
    reg.write((1, 0), [((1, 0, 1), 600), ((1, 0, 7), "U")])
    assert reg.get((1, 0, 1)) == 600
    assert seen == [(1, 0, 1)]


def test_partial_update_and_replace_of_multiple_resource():
    reg, _ = make_registry()
    reg.write((1, 0), [((1, 0, 24, 0), (11, 0)), ((1, 0, 24, 1), (11, 1))])
    reg.write((1, 0, 24), [((1, 0, 24, 5), (11, 5))])
    assert reg.read((1, 0, 24)) == [((1, 0, 24, 0), (11, 0)), ((1, 0, 24, 1), (11, 1)),
                                    ((1, 0, 24, 5), (11, 5))]
    reg.write((1, 0, 24), [((1, 0, 24, 2), (11, 2))], replace=True)
    assert reg.read((1, 0, 24)) == [((1, 0, 24, 2), (11, 2))]
    reg.write((1, 0, 24), [], replace=True)
    assert reg.read((1, 0, 24)) == []
    reg.write((1, 0, 24), [((1, 0, 24, 0), (11, 0)), ((1, 0, 24, 1), (11, 1))])
    reg.write((1, 0, 24, 1), [((1, 0, 24, 1), (11, 9))], replace=True)
    assert reg.read((1, 0, 24)) == [((1, 0, 24, 0), (11, 0)), ((1, 0, 24, 1), (11, 9))]


def test_replace_instance_drops_optional_writables():
    reg, _ = make_registry()
    reg.write((1, 0), [((1, 0, 2), 5)])
    reg.write((1, 0), [((1, 0, 1), 60), ((1, 0, 6), True), ((1, 0, 7), "UQ")], replace=True)
    assert reg.get((1, 0, 2)) is None and reg.get((1, 0, 0)) == 101 and reg.get((1, 0, 7)) == "UQ"


def test_security_object_never_visible_to_servers():
    reg, _ = make_registry()
    for fn, args in ((reg.read, ((0,),)), (reg.read, ((0, 1, 0),)),
                     (reg.write, ((0, 1), [((0, 1, 0), "coap://x")])),
                     (reg.delete, ((0, 1),)), (reg.create, (0, []))):
        raises(model.UNAUTHORIZED, fn, *args)
    raises(model.UNAUTHORIZED, linkformat_discover_guarded, reg)
    # Local and bootstrap access still work, and a local read sees the non-readable values.
    assert reg.read((0, 1, 0), server=False) == [((0, 1, 0), "coap://lwm2m.example")]
    assert [r[0][2] for r in reg.read((0, 1), server=False)] == [0, 1, 2, 3, 4, 5, 10]
    reg.write((0, 1), [((0, 1, 0), "coap://other")], bootstrap=True)
    assert reg.get((0, 1, 0)) == "coap://other"


def linkformat_discover_guarded(reg):
    reg.access(model.ACC_DISCOVER, (0,))


def test_read_object_lists_readable_resources_only():
    reg, _ = make_registry()
    rids = [r[0][2] for r in reg.read((1,))]
    assert 4 not in rids and 8 not in rids and rids[:2] == [0, 1]
    raises(model.METHOD_NOT_ALLOWED, reg.read, (3, 0, 4))
    raises(model.NOT_FOUND, reg.read, (3, 0, 9))
    raises(model.NOT_FOUND, reg.read, (3, 1))
    raises(model.NOT_FOUND, reg.read, (9,))


def test_execute_checks_operation_and_calls_hook():
    reg, _ = make_registry()
    calls = []
    reg.get_object(1).exec_hooks[8] = lambda iid, arg: calls.append((iid, arg))
    reg.execute((1, 0, 8), b"")
    assert calls == [(0, b"")]
    raises(model.METHOD_NOT_ALLOWED, reg.execute, (1, 0, 1))
    raises(model.METHOD_NOT_ALLOWED, reg.execute, (1, 0, 9))  # no hook installed
    raises(model.NOT_FOUND, reg.execute, (1, 4, 8))


def test_create_and_delete_instance_notify_instance_path():
    reg, _ = make_registry()
    seen = []
    reg.listeners.append(seen.append)
    iid = reg.create(1, [((1, 1, 0), 102), ((1, 1, 1), 60), ((1, 1, 6), False), ((1, 1, 7), "U")],
                     bootstrap=True)
    assert iid == 1 and (1, 1) in seen
    raises(model.BAD_REQUEST, reg.create, 1, [((1, 2, 1), 60)])  # mandatory missing
    assert 2 not in reg.get_object(1).instances
    gone = []
    reg.get_object(1).deleted = lambda iid, values: gone.append((iid, values[0]))
    reg.delete((1, 1))
    assert seen[-1] == (1, 1) and 1 not in reg.get_object(1).instances
    assert gone == [(1, 102)]
    raises(model.METHOD_NOT_ALLOWED, reg.delete, (3, 0))
    raises(model.METHOD_NOT_ALLOWED, reg.create, 3, [])


def test_bootstrap_delete_all_keeps_bootstrap_account_and_device():
    reg, _ = make_registry()
    reg.delete((), bootstrap=True)
    assert reg.get_object(0).iids() == [0] and reg.get_object(1).iids() == []
    assert reg.get_object(3).iids() == [0]


def test_device_error_codes_and_reset():
    reg, _ = make_registry()
    dev = reg.get_object(3)
    dev.add_error(2)
    dev.add_error(7)
    assert [r[1] for r in reg.read((3, 0, 11))] == [2, 7]
    dev.clear_error(2)
    assert [r[1] for r in reg.read((3, 0, 11))] == [7]
    reg.execute((3, 0, 12))
    assert reg.read((3, 0, 11)) == [((3, 0, 11, 0), 0)]


def test_device_current_time_write_sets_clock_and_memory_from_heap():
    import gc

    reg, clock = make_registry()
    reg.write((3, 0), [((3, 0, 13), 1700000000)])
    clock.advance(5000)
    assert reg.get((3, 0, 13)) == 1700000005
    gc.collect()
    free = reg.get((3, 0, 10))
    assert 0 < free <= reg.get((3, 0, 21))
    raises(model.METHOD_NOT_ALLOWED, reg.write, (3, 0), [((3, 0, 10), 1)])


def test_device_reboot_executes_hook():
    from objects import obj_device

    reg = model.Registry()
    hits = []
    obj_device.create(reg, reboot=lambda: hits.append("reboot"),
                      factory_reset=lambda: hits.append("factory"))
    reg.execute((3, 0, 4))
    reg.execute((3, 0, 5))
    assert hits == ["reboot", "factory"]


def test_connmon_setter_notifies_on_change_only():
    reg, _ = make_registry()
    cm = reg.get_object(4)
    seen = []
    reg.listeners.append(seen.append)
    cm.update(rssi=-93, cell_id=0x1A2B, apns=["iot.example"])
    cm.update(rssi=-93)
    assert sorted(seen) == [(4, 0, 2), (4, 0, 7), (4, 0, 8)]
    assert reg.get((4, 0, 2)) == -93 and reg.read((4, 0, 7)) == [((4, 0, 7, 0), "iot.example")]
    cm.update(cell_id=None)
    raises(model.NOT_FOUND, reg.read, (4, 0, 8))
    raises(model.BAD_REQUEST, cm.update, rsrp=-100)


def test_registration_payload_and_discover():
    reg, _ = make_registry()
    assert linkformat.registration(reg, 11543) == (
        b'</>;rt="oma.lwm2m";ct=11543,</1>;ver=1.2,</1/0>,</3>;ver=1.2,</3/0>,</4>;ver=1.3,</4/0>')
    assert linkformat.registration(reg) == b"</1>;ver=1.2,</1/0>,</3>;ver=1.2,</3/0>,</4>;ver=1.3,</4/0>"
    from lwm2m.attrs import AttrStore

    st = AttrStore()
    st.write((4, 0, 2), [("pmin", "10"), ("gt", "-80")], True)
    st.write((4,), [("pmax", "60")])
    assert linkformat.discover(reg, (4, 0, 2), st) == b"</4/0/2>;pmin=10;gt=-80"
    assert linkformat.discover(reg, (4, 0), st) == b"</4/0>,</4/0/0>,</4/0/1>;dim=2,</4/0/2>;pmin=10;gt=-80,</4/0/4>;dim=1"
    assert linkformat.discover(reg, (4,), st, 1) == b"</4>;ver=1.3;pmax=60,</4/0>"
    assert linkformat.discover(reg, (4, 0, 1), None, 1) == b"</4/0/1>;dim=2,</4/0/1/0>,</4/0/1/1>"


def test_bootstrap_discover_lists_accounts():
    reg, _ = make_registry()
    got = linkformat.bootstrap_discover(reg)
    assert got.startswith(b'</>;lwm2m=1.1,</0>;ver=1.2,</0/0>;uri="coap://bs.example",'
                          b'</0/1>;ssid=101;uri="coap://lwm2m.example",</1>;ver=1.2,</1/0>;ssid=101')


def test_link_format_parse_roundtrip():
    links = linkformat.parse(b'</>;rt="oma.lwm2m";ct="60 110",</1/0>,</3>;ver=1.2;x')
    assert links == [("/", {"rt": "oma.lwm2m", "ct": "60 110"}), ("/1/0", {}),
                     ("/3", {"ver": "1.2", "x": None})]
    raises(model.BAD_REQUEST, linkformat.parse, b'</1>;rt="x')
    raises(model.BAD_REQUEST, linkformat.parse, b"/1")


def test_path_parse_and_errors_name_the_field():
    assert lpath.parse("/3/0/11/2") == (3, 0, 11, 2) and lpath.parse("/") == ()
    assert lpath.fmt((3, 0)) == "/3/0" and lpath.fmt(()) == "/"
    assert lpath.from_segments([b"1", "0"]) == (1, 0)
    assert "iid" in str(raises(model.BAD_REQUEST, lpath.parse, "/3/65535"))
    assert "rid" in str(raises(model.BAD_REQUEST, lpath.parse, "/3/0/x"))
    assert "riid" in str(raises(model.BAD_REQUEST, lpath.parse, "/3/0/1/-1"))
    raises(model.BAD_REQUEST, lpath.parse, "/1/2/3/4/5")
    raises(model.BAD_REQUEST, lpath.parse, "/3//1")


def test_attrs_validation_is_all_or_nothing():
    from lwm2m.attrs import AttrStore

    st = AttrStore()
    st.write((3, 0, 9), [("pmin", "5"), ("gt", "80"), ("lt", "20"), ("st", "10")], True)
    raises(model.BAD_REQUEST, st.write, (3, 0, 9), [("pmin", "1"), ("lt", "75")], True)
    assert st.attached((3, 0, 9)) == {"pmin": 5, "gt": 80.0, "lt": 20.0, "st": 10.0}
    raises(model.BAD_REQUEST, st.write, (3, 0), [("gt", "1")], False)
    raises(model.BAD_REQUEST, st.write, (3, 0, 9), [("pmin", "-1")], True)
    raises(model.BAD_REQUEST, st.write, (3, 0, 9), [("dim", "2")], True)
    st.write((3,), [("pmax", "300")])
    assert st.effective((3, 0, 9), {"pmin": 1, "pmax": 60}) == {
        "pmin": 5, "pmax": 300, "gt": 80.0, "lt": 20.0, "st": 10.0}
    st.write((3, 0, 9), [("gt", None), ("lt", None), ("st", None), ("pmin", None)], True)
    assert st.attached((3, 0, 9)) == {} and st.paths() == [(3,)]


def test_execute_arguments_core_5_4_5():
    from lwm2m.fmt_text import exec_args

    assert exec_args(b"") == []
    assert exec_args(b"0='on',1") == [(0, "on"), (1, None)]
    assert exec_args(b"5='a,b',3=''") == [(5, "a,b"), (3, "")]
    for bad in (b"x", b"0=on", b"0='x", b"0,", b"10", b"0;1"):
        raises(model.BAD_REQUEST, exec_args, bad)

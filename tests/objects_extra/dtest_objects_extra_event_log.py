# Object 20 (Event Log, registry 20.xml v2.1) on MicroPython: entries recorded while running become
# LogData with LogStatus "valid data"; LogStop/LogStart Executes with and without argument 0 keep
# or empty the collection; refused writes name the resource and change nothing; observers see
# each entry; the audit instance survives a server Delete.
from lwm2m.model import Registry, Error
from lwm2m import fmt_tlv
from objects import obj_event_log
from objects.obj_event_log import ST_STOPPED, ST_VALID, ST_ERROR


def _setup():
    changed = []
    reg = Registry()
    reg.listeners.append(changed.append)
    log = obj_event_log.create(reg)
    return reg, log, changed


def _code(fn, *args):
    try:
        fn(*args)
    except Error as e:
        return e.code
    raise AssertionError("accepted: %r" % (args,))


def test_event_log_record_sets_logdata_and_valid_bit():
    reg, log, changed = _setup()
    assert log.running() and reg.get((20, 0, 4013)) == 0
    assert log.record(b'{"seq": 1}')
    assert reg.get((20, 0, 4014)) == b'{"seq": 1}'
    assert reg.get((20, 0, 4013)) == ST_VALID
    assert (20, 0, 4014) in changed and (20, 0, 4013) in changed
    # the newest entry replaces the previous one: one entry per Send upstream
    assert log.record(bytearray(b'{"seq": 2}'))
    assert reg.read((20, 0, 4014)) == [((20, 0, 4014), b'{"seq": 2}')]


def test_event_log_logstop_keeps_data_and_refuses_entries():
    reg, log, changed = _setup()
    log.record(b"a")
    reg.execute((20, 0, 4012))
    assert not log.running()
    assert reg.get((20, 0, 4013)) == ST_STOPPED | ST_VALID
    assert not log.record(b"b")
    assert reg.get((20, 0, 4014)) == b"a"


def test_event_log_logstop_arg0_1_empties_collection():
    reg, log, changed = _setup()
    log.record(b"a")
    reg.execute((20, 0, 4012), b"0='1'")
    assert reg.get((20, 0, 4014)) == b"" and reg.get((20, 0, 4013)) == ST_STOPPED


def test_event_log_logstart_empties_by_default_extends_with_arg0_1():
    reg, log, changed = _setup()
    log.record(b"a")
    log.fail()
    reg.execute((20, 0, 4012))
    reg.execute((20, 0, 4011), b"0='1'")
    # extend: the collection stays, running again, the error bit cleared with the restart
    assert reg.get((20, 0, 4014)) == b"a" and reg.get((20, 0, 4013)) == ST_VALID
    reg.execute((20, 0, 4012))
    reg.execute((20, 0, 4011))
    assert reg.get((20, 0, 4014)) == b"" and reg.get((20, 0, 4013)) == 0
    assert log.record(b"c") and reg.get((20, 0, 4013)) == ST_VALID


def test_event_log_execute_bad_argument_is_4_00_and_changes_nothing():
    reg, log, changed = _setup()
    log.record(b"a")
    for arg in (b"0='2'", b"x", b"0=1", b"0='1',,", b"\xff"):
        assert _code(reg.execute, (20, 0, 4012), arg) == 0x80, arg
    assert log.running() and reg.get((20, 0, 4014)) == b"a"
    # LogStatus is not executable; LogData not writable
    assert _code(reg.execute, (20, 0, 4013)) == 0x85
    assert _code(reg.write, (20, 0, 4014), [((20, 0, 4014), b"x")]) == 0x85


def test_event_log_writes_checked_transactionally():
    reg, log, changed = _setup()
    reg.write((20, 0), [((20, 0, 4010), 2), ((20, 0, 4015), 0), ((20, 0, 4017), 0)])
    assert reg.get((20, 0, 4010)) == 2
    for recs in ([((20, 0, 4010), 256)], [((20, 0, 4010), 1), ((20, 0, 4015), 3)],
                 [((20, 0, 4017), 60)]):
        assert _code(reg.write, (20, 0), recs) == 0x80, recs
    assert reg.get((20, 0, 4010)) == 2 and reg.get((20, 0, 4015)) == 0


def test_event_log_read_instance_encodes_in_tlv():
    reg, log, changed = _setup()
    log.record(b"\x01\x02")
    recs = reg.read((20, 0))
    assert [p[2] for p, _ in recs] == [4010, 4013, 4014, 4015]
    back = fmt_tlv.decode(fmt_tlv.encode(recs, (20, 0)), (20, 0), reg.type_of)
    assert [(tuple(r[0]), r[1]) for r in back] == [(tuple(p), v) for p, v in recs]


def test_event_log_server_instances_start_stopped_and_audit_instance_kept():
    reg, log, changed = _setup()
    iid = reg.create(20, [((20, 1, 4010), 1)], iid=1)
    assert iid == 1 and not log.running(1) and reg.get((20, 1, 4014)) == b""
    assert not log.record(b"x", 1)
    reg.execute((20, 1, 4011))
    assert log.record(b"x", 1) and reg.get((20, 1, 4014)) == b"x"
    reg.delete((20, 1))
    assert _code(reg.delete, (20, 0)) == 0x85
    assert log.running()


def test_event_log_audit_instance_back_at_once_after_bootstrap_delete():
    reg, log, changed = _setup()
    log.record(b"old")
    reg.execute((20, 0, 4012))
    reg.delete((20, 0), bootstrap=True)    # Bootstrap-Delete "/" removes every instance
    # back before anything else runs: the Register after the bootstrap lists /20/0
    assert 0 in log.instances and log.running() and reg.get((20, 0, 4014)) == b""
    assert (20, 0) in changed and reg.get((20, 0, 4010)) == obj_event_log.CLASS_EVENT
    assert log.record(b"next") and reg.get((20, 0, 4014)) == b"next"

# Registration state machine (OMA-TS-LightweightM2M_Core-V1_1 §6.2) with a fake clock, on MicroPython.
# mpy-heapsize: 128K
from lwm2m import rd_client as rd
from coap.numbers import CHANGED, CREATED, DELETED, FORBIDDEN, INTERNAL_SERVER_ERROR, NOT_FOUND, POST, DELETE

LINKS = b'</1/0>,</3/0>'


def _client(**kw):
    events = []
    kw.setdefault("links", lambda: LINKS)
    c = rd.RdClient("dev1", kw.pop("lifetime", 60), on_event=lambda e, d: events.append(e), **kw)
    return c, events


def _register(c, now=0):
    c.start(now)
    req = c.step(now)
    c.on_response(now, CREATED, ["rd", "a1"])
    return req


def test_register_request_query_and_payload():
    c, ev = _client()
    c.start(0)
    req = c.step(0)
    assert req.kind == "register" and req.method == POST
    assert req.path == ["rd"]
    assert req.query == ["ep=dev1", "lt=60", "lwm2m=1.1", "b=U"], req.query
    assert req.payload == LINKS and req.content_format == 40
    assert c.step(0) is None  # only one exchange in flight
    c.on_response(5, CREATED, ["rd", "a1"])
    assert c.state == rd.S_REGISTERED and c.location == ["rd", "a1"]
    assert ev == ["registered"]


def test_register_queue_mode_11_uses_Q_parameter():
    c, _ = _client(queue=True)
    c.start(0)
    assert c.step(0).query[-2:] == ["b=U", "Q"]
    c2, _ = _client(queue=True, legacy_queue=True)
    c2.start(0)
    assert c2.step(0).query[-1] == "b=UQ"


def test_initial_registration_delay_timer():
    c, _ = _client(initial_delay_s=5)
    c.start(1000)
    assert c.step(5999) is None
    assert c.next_time(1000) == 6000
    assert c.step(6000).kind == "register"


def test_update_before_lifetime_expires():
    c, _ = _client(lifetime=60)
    _register(c, 0)
    due = c.next_time(0)
    # lt 60 s: half the lifetime (< MAX_TRANSMIT_WAIT) is kept as margin.
    assert due == 30000, due
    assert c.step(due - 1) is None
    req = c.step(due)
    assert req.kind == "update" and req.path == ["rd", "a1"]
    assert req.query == [] and req.payload == b""  # empty Update: nothing changed
    c.on_response(due + 10, CHANGED)
    assert c.state == rd.S_REGISTERED and c.next_time(0) == due + 10 + 30000


def test_update_interval_long_lifetime_90_percent():
    c, _ = _client(lifetime=86400)
    assert c.update_interval_ms() == 86400000 * 9 // 10
    c2, _ = _client(lifetime=300)
    assert c2.update_interval_ms() == 300000 - 93000


def test_update_trigger_and_changed_parameters_only():
    c, _ = _client()
    _register(c, 0)
    c.set_lifetime(120, 100)
    req = c.step(100)
    assert req.query == ["lt=120"] and req.payload == b""
    c.on_response(110, CHANGED)
    c.links_changed(200)
    req = c.step(200)
    assert req.query == [] and req.payload == LINKS and req.content_format == 40
    c.on_response(210, CHANGED)
    c.trigger_update(300)  # /1/x/8
    assert c.step(300).kind == "update"


def test_change_during_inflight_update_is_sent_next():
    c, _ = _client()
    _register(c, 0)
    c.trigger_update(10)
    c.step(10)
    c.links_changed(11)  # arrives while the first Update is in flight
    c.on_response(20, CHANGED)
    req = c.step(20)
    assert req is not None and req.payload == LINKS


def test_update_404_reregisters():
    c, ev = _client()
    _register(c, 0)
    c.trigger_update(10)
    c.step(10)
    c.on_response(20, NOT_FOUND)
    assert c.state == rd.S_REGISTER and c.location is None
    assert c.step(20).kind == "register"


def test_deregister():
    c, ev = _client()
    _register(c, 0)
    c.deregister(50)
    req = c.step(50)
    assert req.kind == "deregister" and req.method == DELETE and req.path == ["rd", "a1"]
    c.on_response(60, DELETED)
    assert c.state == rd.S_DEREGISTERED and c.next_time(60) is None


def test_retry_backoff_then_sequence_delay_then_bootstrap():
    policy = rd.RetryPolicy(count=3, timer_s=2, seq_delay_s=30, seq_count=2)
    c, ev = _client(retry=policy)
    c.start(0)
    now = 0
    waits = []
    for _ in range(6):
        req = c.step(now)
        assert req is not None and req.kind == "register", c.state
        c.on_failure(now, "timeout")
        if c.state != rd.S_BACKOFF:
            break
        waits.append(c.next_time(now) - now)
        now = c.next_time(now)
    # attempts wait 2 s * 2**(n-1); after the 3rd attempt the sequence delay; 2 sequences in all.
    assert waits == [2000, 4000, 30000, 2000, 4000], waits
    assert c.state == rd.S_BOOTSTRAP
    assert ev[-1] == "bootstrap-needed"


def test_retry_exhausted_without_bootstrap_fails():
    c, ev = _client(retry=rd.RetryPolicy(count=1, timer_s=1, seq_count=1), bootstrap_on_failure=False)
    c.start(0)
    c.step(0)
    c.on_response(1, INTERNAL_SERVER_ERROR)  # 5.00 is a failed attempt, not a rejection
    assert c.state == rd.S_FAILED and ev[-1] == "registration-failed"


def test_explicit_rejection_bootstraps():
    c, ev = _client()
    c.start(0)
    c.step(0)
    c.on_response(1, FORBIDDEN)
    assert c.state == rd.S_BOOTSTRAP and c.rejected_code == FORBIDDEN


def test_explicit_rejection_without_bootstrap_keeps_retrying():
    c, ev = _client(retry=rd.RetryPolicy(count=2, timer_s=1), bootstrap_on_failure=False)
    c.start(0)
    c.step(0)
    c.on_response(1, FORBIDDEN)
    assert c.state == rd.S_BACKOFF and c.next_time(1) == 1001


def test_sequence_delay_max_value_means_no_more_sequences():
    c, ev = _client(retry=rd.RetryPolicy(count=1, timer_s=1, seq_delay_s=rd.SEQ_DELAY_NEVER, seq_count=3),
                    bootstrap_on_failure=False)
    c.start(0)
    c.step(0)
    c.on_failure(1)
    assert c.state == rd.S_FAILED


def test_ticks_wraparound_safe():
    from time import ticks_add
    start = ticks_add(0, -5000)  # just before the ticks counter wraps
    c, _ = _client(lifetime=60)
    _register(c, start)
    due = c.next_time(start)
    assert c.step(ticks_add(due, -1)) is None
    assert c.step(due).kind == "update"


def test_resume_after_reset_updates_old_location():
    c, ev = _client()
    c.resume(["rd", "old"], 0)
    req = c.step(0)
    assert req.kind == "update" and req.path == ["rd", "old"]
    assert req.query == ["lt=60"] and req.payload == LINKS
    c.on_response(5, NOT_FOUND)  # the server forgot it meanwhile
    assert c.step(5).kind == "register"

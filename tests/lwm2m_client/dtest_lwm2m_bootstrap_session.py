# Client side of the Bootstrap interface (OMA-TS-LightweightM2M_Core-V1_1 §5.2) on MicroPython:
# Bootstrap-Request, -Write/-Delete/-Discover/-Read and an atomic Bootstrap-Finish.
# mpy-heapsize: 256K
from coap import numbers as N
from lwm2m import fmt_tlv
from lwm2m import model as M
from lwm2m.bootstrap import (BS_DONE, BS_FAILED, BS_REQUEST_DUE, BS_WAIT_FINISH, BootstrapClient,
                             server_accounts)
from lwm2m.rd_client import RetryPolicy
from lwm2m_client_fixtures import request
from objects import obj_device, obj_security, obj_server

BS_URI = "coap://bs.example:5783"


def _registry(with_server=True):
    reg = M.Registry()
    obj_security.create(reg)
    obj_server.create(reg)
    obj_device.create(reg, manufacturer="t")
    obj_security.add_account(reg, 0, BS_URI, bootstrap=True)
    if with_server:
        obj_security.add_account(reg, 1, "coap://old:5683", ssid=1)
        obj_server.add_account(reg, 0, 1, lifetime=30)
    return reg


def _snapshot(reg):
    # deep copies compared with ==: MicroPython dicts do not promise an iteration order
    return [(o.oid, dict((i, dict((k, dict(v) if isinstance(v, dict) else v) for k, v in vals.items()))
                         for i, vals in o.instances.items())) for o in reg.objects()]


def _write(bs, reg, path, records):
    base = tuple(int(x) for x in path.strip("/").split("/"))
    body = fmt_tlv.encode(records, base, reg.type_of)
    return bs.handle(request(N.PUT, path, body, N.FMT_LWM2M_TLV), 0)


def _good_config(bs, reg):
    assert _write(bs, reg, "/0/5", [((0, 5, 0), "coap://new:5683"), ((0, 5, 1), False),
                                    ((0, 5, 2), 3), ((0, 5, 10), 7)]).code == N.CHANGED
    assert _write(bs, reg, "/1/3", [((1, 3, 0), 7), ((1, 3, 1), 120), ((1, 3, 7), "U")]).code == N.CHANGED


def test_bootstrap_request_message_and_accept():
    reg = _registry()
    bs = BootstrapClient(reg, "dev1", pct=112)
    bs.start(0, hold_off=False)
    req = bs.step(0)
    assert req.method == N.POST and req.path == ["bs"] and req.query == ["ep=dev1", "pct=112"]
    bs.on_response(5, N.CHANGED)
    assert bs.state == BS_WAIT_FINISH


def test_full_session_commits_on_finish():
    reg = _registry()
    commits = []
    bs = BootstrapClient(reg, "dev1", on_commit=lambda: commits.append(1))
    bs.server_initiated(0)
    assert bs.handle(request(N.DELETE, "/"), 0).code == N.DELETED
    # the bootstrap account and the Device object survive a Delete of "/"
    assert list(reg.get_object(0).instances) == [0] and reg.get_object(3).instances
    assert reg.get_object(1).instances == {}
    _good_config(bs, reg)
    disc = bs.handle(request(N.GET, "/", accept=N.FMT_LINK_FORMAT), 0)
    assert disc.code == N.CONTENT
    assert disc.payload.startswith(b"</>;lwm2m=1.1,") and b'</0/5>;ssid=7;uri="coap://new:5683"' in disc.payload, disc.payload
    assert bs.handle(request(N.GET, "/1", accept=N.FMT_LWM2M_TLV), 0).code == N.CONTENT
    r = bs.handle(request(N.POST, "/bs"), 0)
    assert r.code == N.CHANGED and bs.state == BS_DONE and commits == [1]
    assert [a[0] for a in server_accounts(reg)] == [7]


def test_finish_without_server_account_406_restores_old_config():
    reg = _registry()
    before = _snapshot(reg)
    bs = BootstrapClient(reg, "dev1")
    bs.server_initiated(0)
    assert bs.handle(request(N.DELETE, "/1"), 0).code == N.DELETED
    # a Security instance whose Server instance is missing: not a usable account
    assert _write(bs, reg, "/0/5", [((0, 5, 0), "coap://new:5683"), ((0, 5, 1), False),
                                    ((0, 5, 10), 9)]).code == N.CHANGED
    r = bs.handle(request(N.POST, "/bs"), 0)
    assert r.code == N.NOT_ACCEPTABLE and bs.state == BS_FAILED
    assert _snapshot(reg) == before


def test_finish_with_only_bootstrap_account_406():
    reg = _registry(with_server=False)
    bs = BootstrapClient(reg, "dev1")
    bs.server_initiated(0)
    assert bs.handle(request(N.POST, "/bs"), 0).code == N.NOT_ACCEPTABLE


def test_unsupported_security_mode_is_not_usable():
    reg = _registry()
    bs = BootstrapClient(reg, "dev1")
    bs.server_initiated(0)
    bs.handle(request(N.DELETE, "/"), 0)
    _good_config(bs, reg)
    _write(bs, reg, "/0/5", [((0, 5, 2), 2)])  # certificate mode: this client does NoSec only
    assert bs.handle(request(N.POST, "/bs"), 0).code == N.NOT_ACCEPTABLE


def test_delete_bootstrap_account_refused():
    reg = _registry()
    bs = BootstrapClient(reg, "dev1")
    bs.server_initiated(0)
    assert bs.handle(request(N.DELETE, "/0/0"), 0).code == N.BAD_REQUEST
    assert 0 in reg.get_object(0).instances


def test_bootstrap_read_only_server_object():
    reg = _registry()
    bs = BootstrapClient(reg, "dev1")
    bs.server_initiated(0)
    assert bs.handle(request(N.GET, "/0"), 0).code == N.UNAUTHORIZED
    assert bs.handle(request(N.GET, "/3/0"), 0).code == N.UNAUTHORIZED
    assert bs.handle(request(N.GET, "/1/0", accept=N.FMT_TEXT), 0).code == N.NOT_ACCEPTABLE


def test_bad_bootstrap_write_changes_nothing():
    reg = _registry()
    before = _snapshot(reg)
    bs = BootstrapClient(reg, "dev1")
    bs.server_initiated(0)
    r = _write(bs, reg, "/1/0", [((1, 0, 0), 0)])  # short server id 0 is out of range
    assert r.code == N.BAD_REQUEST
    r = bs.handle(request(N.PUT, "/1/0", b"\x01\x02\x03", N.FMT_LWM2M_TLV), 0)
    assert r.code == N.BAD_REQUEST
    assert _snapshot(reg) == before


def test_no_finish_times_out_rolls_back_and_retries():
    reg = _registry()
    before = _snapshot(reg)
    bs = BootstrapClient(reg, "dev1", retry=RetryPolicy(count=2, timer_s=1), finish_timeout_s=10)
    bs.start(0, hold_off=False)
    bs.step(0)
    bs.on_response(1, N.CHANGED)
    bs.handle(request(N.DELETE, "/"), 2)
    assert bs.next_time(2) == 10002
    assert bs.step(10002) is None
    assert _snapshot(reg) == before
    assert bs.state == BS_REQUEST_DUE and bs.next_time(10002) == 11002


def test_request_rejected_retries_then_fails():
    reg = _registry()
    bs = BootstrapClient(reg, "dev1", retry=RetryPolicy(count=2, timer_s=1, seq_count=1))
    bs.start(0, hold_off=False)
    bs.step(0)
    bs.on_response(1, N.BAD_REQUEST)
    assert bs.state == BS_REQUEST_DUE
    bs.step(1001)
    bs.on_failure(1002, "timeout")
    assert bs.state == BS_FAILED

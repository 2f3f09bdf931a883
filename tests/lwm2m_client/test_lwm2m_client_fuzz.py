"""Hypothesis properties of the sans-I/O cores under CPython: the DM request mapper answers every
request with a defined CoAP code and leaves the data model unchanged whenever it answers an error;
the registration state machine never has more than one exchange in flight whatever happens."""

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from coap import numbers as N
from coap.message import Message
from lwm2m import model as M
from lwm2m.dm import DeviceManager
from lwm2m.attrs import AttrStore
from lwm2m import rd_client as rd
from lwm2m.client import make_registry
from lwm2m_client_fixtures import request

ALLOWED = {N.CONTENT, N.CHANGED, N.CREATED, N.DELETED, N.BAD_REQUEST, N.UNAUTHORIZED, N.NOT_FOUND,
           N.METHOD_NOT_ALLOWED, N.NOT_ACCEPTABLE, N.REQUEST_ENTITY_TOO_LARGE,
           N.UNSUPPORTED_CONTENT_FORMAT, N.INTERNAL_SERVER_ERROR}
PATHS = ["/", "/0/0", "/1", "/1/0", "/1/0/1", "/1/0/7", "/1/0/8", "/3", "/3/0", "/3/0/0", "/3/0/11",
         "/3/0/11/0", "/4/0", "/4/0/1", "/4/0/2", "/9/9", "/1/65534", "/1/0/99"]
FORMATS = [None, 0, 40, 42, 60, 110, 112, 11542, 11543, 11544, 7]


def _state(reg):
    # /3/0 reads the live heap and clock; everything stored is compared
    return copy.deepcopy([(o.oid, o.instances) for o in reg.objects()])


def _request(method, path, payload, cf, accept, queries):
    return request(method, path, payload, cf=cf, accept=accept, query=queries)


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from([N.GET, N.PUT, N.POST, N.DELETE, N.FETCH, N.IPATCH, N.PATCH]),
       path=st.sampled_from(PATHS), payload=st.binary(max_size=64),
       cf=st.sampled_from(FORMATS), accept=st.sampled_from(FORMATS),
       queries=st.lists(st.sampled_from(["pmin=1", "pmax=0", "gt=5", "lt=9", "st=-1", "x", "depth=7",
                                         "epmin=2", "pmin"]), max_size=3))
def test_dm_any_request_defined_code_and_no_change_on_error(method, path, payload, cf, accept, queries):
    reg = make_registry()
    reg.get_object(1).instances[0] = {0: 101, 1: 60, 6: True, 7: "U", 4: None, 8: None, 9: None}
    dm = DeviceManager(reg, AttrStore(), execute_cb=lambda p, a: False)
    before = _state(reg)
    resp = dm.handle(_request(method, path, payload, cf, accept, queries), 101)
    assert resp.code in ALLOWED, N.code_str(resp.code)
    if resp.code >> 5 != 2:
        assert _state(reg) == before


@settings(max_examples=200, deadline=None)
@given(events=st.lists(st.tuples(st.sampled_from(["step", "ok", "created", "404", "403", "500",
                                                  "fail", "update", "links", "lt", "dereg",
                                                  "rereg"]),
                                 st.integers(0, 200000)), max_size=40))
def test_rd_state_machine_one_exchange_in_flight(events):
    c = rd.RdClient("ep", 60, lambda: b"</1/0>", retry=rd.RetryPolicy(count=2, timer_s=1, seq_delay_s=3))
    c.start(0)
    now = 0
    in_flight = None
    for kind, dt in events:
        now += dt
        if kind == "step":
            req = c.step(now)
            if req is not None:
                assert in_flight is None, (in_flight, req)
                in_flight = req
        elif kind in ("ok", "created", "404", "403", "500") and in_flight is not None:
            code = {"ok": N.CHANGED, "created": N.CREATED, "404": N.NOT_FOUND, "403": N.FORBIDDEN,
                    "500": N.INTERNAL_SERVER_ERROR}[kind]
            if code == N.CREATED:
                c.on_response(now, code, ["rd", "x"])
            else:
                c.on_response(now, code)
            in_flight = None
        elif kind == "fail" and in_flight is not None:
            c.on_failure(now)
            in_flight = None
        elif kind == "update":
            c.trigger_update(now)
        elif kind == "links":
            c.links_changed(now)
        elif kind == "lt":
            c.set_lifetime(30 + dt % 100, now)
        elif kind == "dereg" and in_flight is None:
            c.deregister(now)
        elif kind == "rereg" and in_flight is None:
            c.reregister(now)
        if c.is_registered():
            assert c.location is not None


BS_OPS = st.lists(st.tuples(
    st.sampled_from(["put", "delete", "get", "discover"]),
    st.sampled_from(["/", "/0", "/0/0", "/0/1", "/0/5", "/1", "/1/0", "/1/3", "/3", "/3/0", "/4/0",
                     "/0/5/0", "/1/3/1", "/9"]),
    st.sampled_from([None, 0, 11542, 112, 110, 11544]),
    st.binary(max_size=40)), max_size=8)


@settings(max_examples=200, deadline=None)
@given(ops=BS_OPS, good=st.booleans())
def test_bootstrap_finish_commits_usable_config_or_restores_old(ops, good):
    """Whatever the bootstrap server does, Finish either answers 2.04 with a usable server account
    in place, or 4.06 with the configuration exactly as before the session."""
    from lwm2m import fmt_tlv
    from lwm2m.bootstrap import BootstrapClient
    from lwm2m.rd_client import server_accounts
    from objects import obj_security, obj_server

    reg = make_registry()
    obj_security.add_account(reg, 0, "coap://bs", bootstrap=True)
    obj_security.add_account(reg, 1, "coap://old", ssid=1)
    obj_server.add_account(reg, 0, 1)
    before = _state(reg)
    bs = BootstrapClient(reg, "ep")
    for op, path, cf, payload in ops:
        method = {"put": N.PUT, "delete": N.DELETE, "get": N.GET, "discover": N.GET}[op]
        req = _request(method, path, payload, cf if op == "put" else None,
                       N.FMT_LINK_FORMAT if op == "discover" else None, [])
        assert bs.handle(req, 0).code in ALLOWED
    if good:
        body = fmt_tlv.encode([((0, 7, 0), "coap://new"), ((0, 7, 1), False), ((0, 7, 2), 3),
                               ((0, 7, 10), 9)], (0, 7), reg.type_of)
        bs.handle(_request(N.PUT, "/0/7", body, 11542, None, []), 0)
        body = fmt_tlv.encode([((1, 7, 0), 9), ((1, 7, 1), 30), ((1, 7, 6), True), ((1, 7, 7), "U")],
                              (1, 7), reg.type_of)
        bs.handle(_request(N.PUT, "/1/7", body, 11542, None, []), 0)
    resp = bs.handle(_request(N.POST, "/bs", b"", None, None, []), 0)
    if resp.code == N.CHANGED:
        assert server_accounts(reg)
    else:
        assert resp.code == N.NOT_ACCEPTABLE, N.code_str(resp.code)
        assert _state(reg) == before

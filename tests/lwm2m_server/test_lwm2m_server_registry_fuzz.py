"""The registration logic (registry.py, sans I/O) under arbitrary queries and payloads: it
accepts or refuses with a CoAP code, never crashes, and expiry follows lifetime + grace."""

from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools.lwm2m_server import registry

_param = st.one_of(
    st.sampled_from(["ep=a", "ep=", "lt=60", "lt=0", "lt=x", "lwm2m=1.1", "lwm2m=2.0", "b=U", "b=UQ",
                     "b=?", "Q", "sms=123", "ep"]),
    st.text(max_size=12))
_payload = st.one_of(st.sampled_from([b"</1/0>,</3/0>", b'</>;rt="oma.lwm2m"', b"<", b"</1/0>;ver=\"", b""]),
                     st.binary(max_size=40))


@settings(max_examples=400, deadline=None)
@given(st.lists(_param, max_size=6), _payload, st.lists(_param, max_size=4), _payload)
def test_registry_register_update_accept_or_refuse_with_code(query, payload, query2, payload2):
    directory = registry.Directory(grace=1)
    try:
        reg, _ = directory.register(query, payload, "coap://127.0.0.1:1", now=100.0)
    except registry.RegistrationError as exc:
        assert exc.code in ("4.00", "4.12")
        return
    assert reg.endpoint and reg.lifetime > 0
    before = reg.to_dict()
    try:
        directory.update(reg.reg_id, query2, payload2, "coap://127.0.0.1:2", now=101.0)
        last = 101.0
    except registry.RegistrationError as exc:
        assert exc.code == "4.00" and reg.to_dict() == before  # a refused Update changes nothing
        last = 100.0
    assert directory.expired(last + reg.lifetime + 1) == []
    assert directory.expired(last + reg.lifetime + 1.01) == [reg]


def test_registry_update_moves_remote_and_refreshes_time():
    directory = registry.Directory(grace=0)
    reg, _ = directory.register(["ep=a", "lt=10"], b"</1/0>", "coap://127.0.0.1:1", now=0.0)
    directory.update(reg.reg_id, [], b"", "coap://127.0.0.1:9", now=5.0)
    assert reg.remote_uri == "coap://127.0.0.1:9" and directory.by_remote("coap://127.0.0.1:9") is reg
    assert directory.expired(14.9) == [] and directory.expired(15.1) == [reg]

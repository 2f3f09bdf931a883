# Device Management operations (OMA-TS-LightweightM2M_Core-V1_1 §6.3/§6.4) mapped from CoAP requests
# onto the data model, with the exact response codes, on MicroPython. Bad input never changes state.
# mpy-heapsize: 256K
from coap import numbers as N
from lwm2m import cbor, fmt_tlv
from lwm2m import model as M
from lwm2m.dm import DeviceManager
from lwm2m_client_fixtures import SENSOR, registry, request


def _dm():
    reg = registry()
    return DeviceManager(reg), reg


def _inst(reg):
    return dict(reg.get_object(SENSOR).instances[0])


def test_read_single_resource_text():
    dm, _ = _dm()
    r = dm.handle(request(N.GET, "/3303/0/5700"))
    assert r.code == N.CONTENT and r.content_format() == N.FMT_TEXT
    assert r.payload == b"21.5", r.payload


def test_read_instance_default_tlv_roundtrip():
    dm, reg = _dm()
    r = dm.handle(request(N.GET, "/3303/0"))
    assert r.code == N.CONTENT and r.content_format() == N.FMT_LWM2M_TLV
    recs = fmt_tlv.decode(r.payload, (SENSOR, 0), reg.type_of)
    assert ((SENSOR, 0, 5700), 21.5) in recs and ((SENSOR, 0, 5800, 1), 2) in recs


def test_read_accept_senml_cbor():
    dm, _ = _dm()
    r = dm.handle(request(N.GET, "/3303/0/5700", accept=N.FMT_SENML_CBOR))
    assert r.code == N.CONTENT and r.content_format() == N.FMT_SENML_CBOR
    doc = cbor.loads(r.payload)
    assert doc[0][-2] == "/3303/0/5700" and doc[0][2] == 21.5


def test_read_unsupported_accept_406():
    dm, _ = _dm()
    assert dm.handle(request(N.GET, "/3303/0", accept=N.FMT_TEXT)).code == N.NOT_ACCEPTABLE
    assert dm.handle(request(N.GET, "/3303/0/5700", accept=41)).code == N.NOT_ACCEPTABLE


def test_read_unknown_object_instance_resource_404():
    dm, _ = _dm()
    for p in ("/9999", "/3303/7", "/3303/0/1", "/3303/0/5750"):
        assert dm.handle(request(N.GET, p)).code == N.NOT_FOUND, p


def test_security_object_any_access_401():
    dm, _ = _dm()
    assert dm.handle(request(N.GET, "/0/0")).code == N.UNAUTHORIZED
    assert dm.handle(request(N.PUT, "/0/0/0", b"coap://x", N.FMT_TEXT)).code == N.UNAUTHORIZED
    assert dm.handle(request(N.DELETE, "/0/0")).code == N.UNAUTHORIZED
    assert dm.handle(request(N.POST, "/0", b"")).code == N.UNAUTHORIZED


def test_write_replace_text():
    dm, reg = _dm()
    r = dm.handle(request(N.PUT, "/3303/0/5750", b"boiler", N.FMT_TEXT))
    assert r.code == N.CHANGED
    assert reg.get((SENSOR, 0, 5750)) == "boiler"


def test_write_read_only_405_unchanged():
    dm, reg = _dm()
    before = _inst(reg)
    assert dm.handle(request(N.PUT, "/3303/0/5700", b"1.0", N.FMT_TEXT)).code == N.METHOD_NOT_ALLOWED
    assert _inst(reg) == before


def test_write_bad_value_400_unchanged():
    dm, reg = _dm()
    before = _inst(reg)
    assert dm.handle(request(N.PUT, "/3303/0/5850", b"maybe", N.FMT_TEXT)).code == N.BAD_REQUEST
    assert dm.handle(request(N.PUT, "/3303/0/5750", b"x" * 17, N.FMT_TEXT)).code == N.BAD_REQUEST
    assert _inst(reg) == before


def test_write_unsupported_content_format_415():
    dm, _ = _dm()
    assert dm.handle(request(N.PUT, "/3303/0/5750", b"x", 9999)).code == N.UNSUPPORTED_CONTENT_FORMAT
    assert dm.handle(request(N.PUT, "/3303/0/5750", b"x")).code == N.UNSUPPORTED_CONTENT_FORMAT


def test_malformed_tlv_senml_cbor_400_unchanged():
    dm, reg = _dm()
    before = _inst(reg)
    for cf, body in ((N.FMT_LWM2M_TLV, b"\xc8\x00"), (N.FMT_LWM2M_TLV, b"\xff\xff\xff"),
                     (N.FMT_SENML_CBOR, b"\x9f\x01"), (N.FMT_SENML_CBOR, b"\xa1\x00"),
                     (N.FMT_SENML_JSON, b'[{"n":'), (N.FMT_SENML_JSON, b'[{"bn":"/3303/0/","n":"5750","v":1}]')):
        r = dm.handle(request(N.POST, "/3303/0", body, cf))
        assert r.code == N.BAD_REQUEST, (cf, body, r)
    assert _inst(reg) == before


def test_oversize_payload_413():
    dm, _ = _dm()
    r = dm.handle(request(N.PUT, "/3303/0/5900", b"\x00" * 5000, N.FMT_OCTET_STREAM))
    assert r.code == N.REQUEST_ENTITY_TOO_LARGE


def test_partial_update_tlv():
    dm, reg = _dm()
    body = fmt_tlv.encode([((SENSOR, 0, 5750), "pump")], (SENSOR, 0), reg.type_of)
    assert dm.handle(request(N.POST, "/3303/0", body, N.FMT_LWM2M_TLV)).code == N.CHANGED
    assert reg.get((SENSOR, 0, 5750)) == "pump" and reg.get((SENSOR, 0, 5701)) == "Cel"


def test_execute_with_arguments():
    dm, reg = _dm()
    r = dm.handle(request(N.POST, "/3303/0/5605", b"0='now',1"))
    assert r.code == N.CHANGED
    assert reg.get_object(SENSOR).resets == [(0, b"0='now',1")]
    assert dm.handle(request(N.POST, "/3303/0/5700")).code == N.METHOD_NOT_ALLOWED


def test_create_and_delete():
    dm, reg = _dm()
    body = fmt_tlv.encode([((SENSOR, 3, 5701), "K")], (SENSOR,), reg.type_of)
    r = dm.handle(request(N.POST, "/3303", body, N.FMT_LWM2M_TLV))
    assert r.code == N.CREATED and r.location_path() == ["3303", "3"], r
    assert reg.get((SENSOR, 3, 5701)) == "K"
    # read-only resources cannot be set by Create
    body = fmt_tlv.encode([((SENSOR, 4, 5700), 5.0)], (SENSOR,), reg.type_of)
    assert dm.handle(request(N.POST, "/3303", body, N.FMT_LWM2M_TLV)).code == N.METHOD_NOT_ALLOWED
    assert dm.handle(request(N.DELETE, "/3303/3")).code == N.DELETED
    assert dm.handle(request(N.DELETE, "/3303/3")).code == N.NOT_FOUND
    assert dm.handle(request(N.DELETE, "/3303/0/5700")).code == N.METHOD_NOT_ALLOWED


def test_read_composite_senml_cbor():
    dm, _ = _dm()
    body = cbor.dumps([{0: "/3303/0/5700"}, {0: "/3303/0/5701"}])
    r = dm.handle(request(N.FETCH, "/", body, N.FMT_SENML_CBOR, accept=N.FMT_SENML_CBOR))
    assert r.code == N.CONTENT and r.content_format() == N.FMT_SENML_CBOR, r
    doc = cbor.loads(r.payload)
    assert [(e.get(-2), e.get(0), e.get(2, e.get(3))) for e in doc] == [
        ("/3303/0/", "5700", 21.5), (None, "5701", "Cel")], doc


def test_write_composite_all_or_nothing():
    dm, reg = _dm()
    good = cbor.dumps([{-2: "/3303/0/", 0: "5750", 3: "a"}, {0: "5701", 3: "F"}])
    assert dm.handle(request(N.IPATCH, "/", good, N.FMT_SENML_CBOR)).code == N.CHANGED
    assert reg.get((SENSOR, 0, 5750)) == "a" and reg.get((SENSOR, 0, 5701)) == "F"
    reg.get_object(SENSOR).instances[1] = {5700: 1.0}
    before0, before1 = _inst(reg), dict(reg.get_object(SENSOR).instances[1])
    bad = cbor.dumps([{0: "/3303/0/5750", 3: "b"}, {0: "/3303/1/5700", 2: 3.0}])  # 5700 read-only
    assert dm.handle(request(N.IPATCH, "/", bad, N.FMT_SENML_CBOR)).code == N.METHOD_NOT_ALLOWED
    assert _inst(reg) == before0 and reg.get_object(SENSOR).instances[1] == before1


def test_observe_and_cancel_reach_the_engine():
    seen = []
    reg = registry()
    dm = DeviceManager(reg, observe_cb=lambda kind, key, paths, req, ssid: seen.append((kind, key, paths, ssid)))
    assert dm.handle(request(N.GET, "/3303/0/5700", observe=0), ssid=101).code == N.CONTENT
    assert dm.handle(request(N.GET, "/3303/0/5700", observe=1), ssid=101).code == N.CONTENT
    assert seen == [("observe", "/3303/0/5700", [(SENSOR, 0, 5700)], 101),
                    ("cancel", "/3303/0/5700", [(SENSOR, 0, 5700)], 101)]
    # a failed read registers nothing
    assert dm.handle(request(N.GET, "/3303/9/5700", observe=0)).code == N.NOT_FOUND
    assert len(seen) == 2


def test_bad_path_400_and_unknown_method_405():
    dm, _ = _dm()
    assert dm.handle(request(N.GET, "/abc")).code == N.BAD_REQUEST
    assert dm.handle(request(N.GET, "/70000")).code == N.BAD_REQUEST
    assert dm.handle(request(N.PATCH, "/3303/0", b"x", N.FMT_TEXT)).code == N.METHOD_NOT_ALLOWED

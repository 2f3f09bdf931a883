"""The firmware's codecs against the host LwM2M server's own codecs (host_tools.lwm2m_server,
written independently): what the device encodes the server decodes to the same values, and what
the server encodes for a Write the device decodes to the same records."""

import pytest

from host_tools.lwm2m_server import codecs as server_codecs
from lwm2m import model
from lwm2m import path as lpath
import lwm2m_model_fixture as F

_FORMATS = [11542, 110, 112, 11544]


def _as_dict(records):
    return {lpath.fmt(r[0]): r[1] for r in records}


def _populated_registry():
    reg, _ = F.make_registry()
    conn = reg.get_object(4)
    conn.update(rssi=-87, link_quality=12, apns=["iot.example", "backup"], cell_id=0x1A2B3C,
                smnc=1, smcc=262)
    reg.write((1, 0), [((1, 0, 2), 5), ((1, 0, 3), 600), ((1, 0, 10), (11, 0)),
                       ((1, 0, 24, 0), (11, 1)), ((1, 0, 24, 3), (11, 4))])
    reg.get_object(3).add_error(3)
    return reg


@pytest.mark.parametrize("ct", _FORMATS)
@pytest.mark.parametrize("path", [(1, 0), (3, 0), (4, 0), (4,), (3, 0, 11), (1, 0, 24, 3), (4, 0, 2)])
def test_device_read_payload_decoded_by_server_codecs(ct, path):
    reg = _populated_registry()
    records = reg.read(path)
    payload = model.codec(ct).encode(records, path, reg.type_of)
    # The server's schema stops at Server object 1.1; /1/x/24 (1.2) is an Objlnk.
    got = server_codecs.decode(ct, payload, lpath.fmt(path), types={(1, 24): "l"})
    assert got == _as_dict(records)


@pytest.mark.parametrize("ct", _FORMATS)
def test_server_write_payload_decoded_by_device(ct):
    reg = _populated_registry()
    values = {"/1/0/1": 120, "/1/0/6": True, "/1/0/7": "UQ",
              "/1/0/10": server_codecs.ObjLnk(11, 2), "/1/0/24/0": server_codecs.ObjLnk(11, 7)}
    payload = server_codecs.encode(ct, values, "/1/0")
    records = model.codec(ct).decode(payload, (1, 0), reg.type_of)
    assert _as_dict(records) == values
    reg.write((1, 0), records)
    assert reg.get((1, 0, 1)) == 120 and reg.get((1, 0, 10)) == (11, 2)


def test_text_single_values_both_ways():
    reg = _populated_registry()
    for path in ((1, 0, 1), (1, 0, 6), (1, 0, 7), (1, 0, 10), (4, 0, 2)):
        records = reg.read(path)
        payload = model.codec(0).encode(records, path)
        assert server_codecs.decode(0, payload, lpath.fmt(path)) == _as_dict(records)


def test_registration_links_parsed_by_server():
    reg = _populated_registry()
    from lwm2m import linkformat

    links = server_codecs.decode(40, linkformat.registration(reg, 11543))
    assert set(links) == {"/", "/1", "/1/0", "/3", "/3/0", "/4", "/4/0"}
    assert links["/1"].get("ver") == "1.2" and links["/"].get("rt") == "oma.lwm2m"

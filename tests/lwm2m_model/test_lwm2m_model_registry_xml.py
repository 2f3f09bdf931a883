"""Objects 0/1/3/4: every field table matches the OMA registry XML exactly (rid, operations,
single/multiple, mandatory, type), and the object definitions (id, version, multiplicity)."""

import os
import xml.etree.ElementTree as ET

import pytest

from lwm2m import model
from objects import obj_connmon, obj_device, obj_security, obj_server

REGISTRY = "/work/shared/reference/lwm2m-registry"
_OPS = {"": model.OP_NONE, "R": model.OP_R, "W": model.OP_W, "RW": model.OP_RW, "E": model.OP_E}
_TYPES = {"String": model.T_STRING, "Integer": model.T_INT, "Unsigned Integer": model.T_UINT,
          "Float": model.T_FLOAT, "Boolean": model.T_BOOL, "Opaque": model.T_OPAQUE,
          "Time": model.T_TIME, "Objlnk": model.T_OBJLNK, "Corelnk": model.T_CORELNK, "": model.T_NONE}


def _xml_object(oid):
    obj = ET.parse(os.path.join(REGISTRY, "%d.xml" % oid)).getroot().find("Object")
    rows = []
    for item in obj.find("Resources"):
        text = lambda tag: (item.findtext(tag) or "").strip()  # noqa: E731
        flags = (model.MULTI if text("MultipleInstances") == "Multiple" else 0) | \
                (model.MAND if text("Mandatory") == "Mandatory" else 0)
        rows.append((int(item.get("ID")), _OPS[text("Operations")], _TYPES[text("Type")], flags))
    return {
        "version": obj.findtext("ObjectVersion").strip(),
        "multiple": obj.findtext("MultipleInstances").strip() == "Multiple",
        "mandatory": obj.findtext("Mandatory").strip() == "Mandatory",
        "rows": sorted(rows),
    }


def _objects():
    reg = model.Registry()
    obj_security.create(reg)
    obj_server.create(reg)
    obj_device.create(reg)
    obj_connmon.create(reg)
    return {o.oid: o for o in reg.objects()}


@pytest.mark.parametrize("oid", [0, 1, 3, 4])
def test_object_field_table_matches_registry_xml(oid):
    want = _xml_object(oid)
    obj = _objects()[oid]
    assert list(obj.fields) == sorted(obj.fields), "field table must be sorted by rid"
    assert [tuple(f) for f in obj.fields] == want["rows"]
    assert obj.version == want["version"]
    assert obj.multiple == want["multiple"] and obj.mandatory == want["mandatory"]


def test_objgen_renders_the_tables_in_the_object_files():
    from host_tools.objgen.gen import load, render

    src = {0: obj_security, 1: obj_server, 3: obj_device, 4: obj_connmon}
    for oid, mod in src.items():
        text = open(mod.__file__).read()
        table = render(load(os.path.join(REGISTRY, "%d.xml" % oid)))
        rows = [line for line in table.splitlines() if line.startswith("    (_RES_")]
        assert rows and all(r.replace("_RES_LWM2M_SERVER_URI,", "_RES_URI,") in text for r in rows)


@pytest.mark.parametrize("xml", sorted(f for f in os.listdir(REGISTRY) if f.endswith(".xml")))
def test_objgen_module_skeleton_imports_and_matches_xml(xml, tmp_path):
    """Every registry object: the generated module compiles for MicroPython (mpy-cross) and,
    imported under CPython, registers an object whose table equals the XML."""
    import importlib.util
    import subprocess

    import harness
    from host_tools.objgen.gen import load, render_module

    oid = int(xml[:-4])
    src = tmp_path / ("obj_gen_%d.py" % oid)
    src.write_text(render_module(load(os.path.join(REGISTRY, xml))))
    mpy_cross = os.path.join(os.path.dirname(harness.MICROPYTHON), "mpy-cross")
    subprocess.run([mpy_cross, "-o", str(tmp_path / "x.mpy"), str(src)], check=True, timeout=60)
    spec = importlib.util.spec_from_file_location("obj_gen_%d" % oid, src)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    reg = model.Registry()
    obj = mod.create(reg)
    want = _xml_object(oid)
    assert [tuple(f) for f in obj.fields] == want["rows"]
    assert (obj.oid, obj.version, obj.multiple) == (oid, want["version"], want["multiple"])

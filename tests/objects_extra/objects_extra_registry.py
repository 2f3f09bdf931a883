"""Check of a firmware object module against its OMA registry XML (DDF): the field table row by
row (rid, operations, type, single/multiple, mandatory), the object's version and multiplicity,
and that the module carries the constant and table lines host_tools.objgen renders."""

from host_tools.objgen.gen import MODEL_VALUES, OPS, TYPES, load, render
from lwm2m import model


def check_against_xml(obj, module, xml_path):
    """Asserts; returns the loaded XML definition for further checks."""
    want = load(xml_path)
    rows = [(r["rid"], MODEL_VALUES[OPS[r["ops"]]], MODEL_VALUES[TYPES[r["type"]]],
             (model.MULTI if r["multiple"] else 0) | (model.MAND if r["mandatory"] else 0))
            for r in want["resources"]]
    assert [tuple(f) for f in obj.fields] == rows == sorted(rows)
    assert (obj.oid, obj.version, obj.multiple, obj.mandatory) == (
        want["oid"], want["version"], want["multiple"], want["mandatory"])
    with open(module.__file__) as f:
        text = f.read()
    for line in render(want).splitlines():
        if line.startswith(("    (_RES_", "_RES_", "_OID", "_VERSION")):
            assert line in text, line
    return want

"""The control plane's command line drives a device through a committed switch: the same flow as
the API, through `python -m host_tools.control_plane` as a separate process."""

import json
import types

import harness
from host_tools.demo import rig

OP2 = "8900102000000000025"
EP = "ops-cli"


def _answer(proc, key, timeout):
    m = proc.expect(r'^\{.*"%s"' % key, timeout)
    return json.loads(m.string)


def test_control_plane_cli_switch_committed_and_audit_read(tmp_path, processes):
    modem, port = rig.start_modem(str(tmp_path))
    processes.append(modem)
    cp = harness.start_python("host_tools.control_plane", ["--run-dir", str(tmp_path / "cp")],
                              name="control_plane")
    processes.append(cp)
    addr = _answer(cp, "bootstrap", 30)
    plane = types.SimpleNamespace(eim_url=addr["eim"], ca_der_path=addr["ca"],
                                  bootstrap_uri=addr["bootstrap"], lwm2m_uri=addr["lwm2m"])
    dev = rig.start_device(plane, str(tmp_path), port, EP)
    processes.append(dev)
    cp.send_line("wait " + EP)
    assert _answer(cp, "registered", 60)["registered"] == EP
    dev.expect(r"lwm2m (registered|updated)", 30)
    cp.send_line("switch %s %s https 60" % (EP, OP2))
    out = _answer(cp, "outcome", 90)
    assert out["outcome"] == "committed", (out, dev.output())
    assert out["steps"][0] == "issued" and out["steps"][-1] == "committed"
    assert out["server_confirmed"] is True
    cp.send_line("read %s /4/0/8" % EP)
    assert _answer(cp, "code", 30)["code"] == "2.05"
    cp.send_line("audit " + EP)
    steps = [e["step"] for e in _answer(cp, "audit", 30)["audit"]]
    assert steps[0] == "adopted" and "committed" in steps
    cp.send_line("quit")
    assert cp.wait(20) == 0

"""LwM2M data model and codecs on MicroPython: heap taken by objects 0/1/3/4 (gc.mem_alloc delta)
and, for a Read of /3/0, the payload size and encode/decode time of every content format.

Three runs: the modules compiled with mpy-cross and loaded as files on the Unix port; the same
modules frozen into the Unix image (as on a device: bytecode in flash); and the frozen QEMU
Cortex-M3 image (MCU heap, no clock, so sizes and heap only). The frozen runs use the images as
last built. Run: python -m host_tools.bench lwm2m_codec"""

import os
import shutil
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = os.path.join(ROOT, "build", "bin", "micropython")
MPY_CROSS = os.path.join(ROOT, "build", "bin", "mpy-cross")
MODULES = ["lwm2m/model.py", "lwm2m/path.py", "lwm2m/cbor.py", "lwm2m/fmt_text.py",
           "lwm2m/fmt_opaque.py", "lwm2m/fmt_tlv.py", "lwm2m/fmt_senml.py",
           "lwm2m/fmt_senml_json.py", "lwm2m/fmt_senml_cbor.py", "lwm2m/fmt_lwm2m_cbor.py",
           "lwm2m/linkformat.py", "lwm2m/attrs.py", "objects/__init__.py",
           "objects/obj_security.py", "objects/obj_server.py", "objects/obj_device.py",
           "objects/obj_connmon.py", "hal/__init__.py", "hal/clock.py"]
HEAP = "256K"
ROUNDS = 200

_SCRIPT = r"""
import gc
try:
    import time
    _us, _diff = time.ticks_us, time.ticks_diff
except ImportError:  # the bare QEMU image has no clock: sizes and heap only
    _us, _diff = (lambda: 0), (lambda a, b: -ROUNDS)
gc.collect()
m0 = gc.mem_alloc()
from lwm2m import model, linkformat, fmt_tlv, fmt_senml_json, fmt_senml_cbor, fmt_lwm2m_cbor, fmt_text
from objects import obj_security, obj_server, obj_device, obj_connmon
gc.collect()
m1 = gc.mem_alloc()


class _Clock:
    def time(self):
        return 1700000000

    def set_time(self, t):
        pass


reg = model.Registry()
obj_security.create(reg)
obj_server.create(reg)
obj_device.create(reg, clock=_Clock(), manufacturer="Open Mobile Alliance",
                  model="Lightweight M2M Client", serial="345000123", firmware_version="1.0")
obj_connmon.create(reg, ip_addresses=["10.0.0.2"])
obj_security.add_account(reg, 0, "coaps://bootstrap.example:5684", True, mode=0,
                         identity=b"dev1", secret=bytes(16), hold_off=10)
obj_security.add_account(reg, 1, "coaps://lwm2m.example:5684", mode=0, ssid=101,
                         identity=b"dev1", secret=bytes(16))
obj_server.add_account(reg, 0, 101, lifetime=300)
gc.collect()
m2 = gc.mem_alloc()
print("heap_imports_bytes", m1 - m0)
print("heap_objects_0_1_3_4_bytes", m2 - m1)
recs = reg.read((3, 0))
print("records_3_0", len(recs))
for name, mod in (("tlv", fmt_tlv), ("senml_json", fmt_senml_json), ("senml_cbor", fmt_senml_cbor),
                  ("lwm2m_cbor", fmt_lwm2m_cbor)):
    data = mod.encode(recs, (3, 0), reg.type_of)
    t0 = _us()
    for _ in range(ROUNDS):
        mod.encode(recs, (3, 0), reg.type_of)
    t1 = _us()
    for _ in range(ROUNDS):
        mod.decode(data, (3, 0), reg.type_of)
    t2 = _us()
    gc.collect()
    a0 = gc.mem_alloc()
    x = mod.encode(recs, (3, 0), reg.type_of)
    a1 = gc.mem_alloc()
    print("fmt", name, len(data), _diff(t1, t0) // ROUNDS, _diff(t2, t1) // ROUNDS, a1 - a0)
print("fmt text_single", len(fmt_text.encode(reg.read((3, 0, 0)), (3, 0, 0))), 0, 0, 0)
print("links_register_bytes", len(linkformat.registration(reg, 11543)))
""".replace("ROUNDS", str(ROUNDS))


def _run(argv, env, cwd):
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError("micropython failed:\n" + proc.stdout + proc.stderr)
    return proc.stdout.splitlines()


def measure_mpy():
    """Modules compiled with mpy-cross and loaded from files (bytecode lands on the heap)."""
    tmp = tempfile.mkdtemp(prefix="bench_lwm2m_codec_")
    try:
        for rel in MODULES:
            out = os.path.join(tmp, rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            subprocess.run([MPY_CROSS, "-o", out, os.path.join(ROOT, "firmware", rel)],
                           check=True, timeout=60)
        env = dict(os.environ, MICROPYPATH=tmp + os.pathsep + os.path.join(ROOT, ".frozen"))
        return _run([MICROPYTHON, "-X", "heapsize=" + HEAP, "-c", _SCRIPT], env, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure_frozen():
    """The modules frozen into the Unix image as last built (bytecode stays out of the heap)."""
    env = dict(os.environ, MICROPYPATH=".frozen")
    return _run([MICROPYTHON, "-X", "heapsize=" + HEAP, "-c", _SCRIPT], env, "/")


def measure_qemu():
    """The frozen image on the QEMU Cortex-M3 (MCU heap, single-precision floats)."""
    import sys

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import harness

    fd, script = tempfile.mkstemp(suffix=".py", prefix="bench_lwm2m_codec_")
    with os.fdopen(fd, "w") as f:
        f.write(_SCRIPT)
    try:
        out, rc = harness.run_on_qemu(script, timeout=120)
    finally:
        os.unlink(script)
    if rc != 0:
        raise RuntimeError("qemu run failed (rc=%s):\n%s" % (rc, out))
    return [line for line in out.splitlines() if line and line.split()[0] in
            ("fmt", "heap_imports_bytes", "heap_objects_0_1_3_4_bytes", "records_3_0",
             "links_register_bytes")]


def report(title, lines):
    print(title)
    fmts = []
    for line in lines:
        parts = line.split()
        if parts[0] == "fmt":
            fmts.append(parts[1:])
        else:
            print("  %-28s %s" % (parts[0], parts[1]))
    print("  Read /3/0 payload per content format (mean of %d runs; -1: no clock):" % ROUNDS)
    print("  %-12s %8s %10s %10s %12s" % ("format", "bytes", "enc_us", "dec_us", "enc_heap_B"))
    for name, size, enc, dec, heap in fmts:
        print("  %-12s %8s %10s %10s %12s" % (name, size, enc, dec, heap))


def main():
    report("LwM2M data model on MicroPython (Unix port, heap %s, modules as .mpy files)" % HEAP,
           measure_mpy())
    for title, fn in (("Unix port, heap %s, modules frozen in the image" % HEAP, measure_frozen),
                      ("QEMU MPS2-AN385 Cortex-M3, frozen image", measure_qemu)):
        try:
            lines = fn()
        except Exception as exc:  # an image without these modules: say so, keep the figures above
            print("%s: not measured (%s)" % (title, str(exc).splitlines()[0]))
            continue
        report(title, lines)


if __name__ == "__main__":
    main()

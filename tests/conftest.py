"""pytest is the single entry point. Besides ordinary CPython tests this collects
dtest_*.py files: each file is run inside the MicroPython Unix port (one process per file; heap
from a `# mpy-heapsize: N` line) and each of its test_* functions becomes a pytest item with its
own pass/fail and MicroPython traceback. A `# mpy-targets: unix qemu` line also runs the file on
the QEMU Cortex-M3 image (MCU-class heap, firmware frozen; no asyncio there)."""

import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "cpython_shim"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "firmware"))
sys.path.insert(0, os.path.dirname(HERE))

import harness  # noqa: E402

_FILE_TIMEOUT_S = 240


def pytest_report_header(config):
    if not os.path.exists(harness.MICROPYTHON):
        return "micropython: not built (run `make mpy`)"
    version, variant = harness.micropython_version()
    return "micropython: %s (variant %s, build id %s) at %s" % (
        version, variant, harness.build_id(harness.MICROPYTHON), harness.MICROPYTHON)


def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".py" and file_path.name.startswith("dtest_"):
        return DeviceTestFile.from_parent(parent, path=file_path)
    return None


def pytest_pycollect_makemodule(module_path, parent):
    # A dtest file named on the command line would also be imported by pytest's Python collector
    # and run under CPython; it is a MicroPython file, collected by pytest_collect_file above.
    if module_path.name.startswith("dtest_"):
        return _NoCPythonItems.from_parent(parent, path=module_path)
    return None


class _NoCPythonItems(pytest.File):
    def collect(self):
        return []


class DeviceTestFailure(Exception):
    pass


class DeviceTestFile(pytest.File):
    """One dtest_*.py file; run once per worker and target on MicroPython, results cached."""

    def collect(self):
        source = self.path.read_text()
        tree = ast.parse(source)
        names = sorted(
            node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
        )
        m = re.search(r"^# mpy-heapsize: (\S+)", source, re.M)
        self.heapsize = m.group(1) if m else None
        m = re.search(r"^# mpy-targets: (.+)$", source, re.M)
        targets = m.group(1).split() if m else ["unix"]
        self._results = {}
        for target in targets:
            for name in names:
                item_name = name if target == "unix" else "%s[%s]" % (name, target)
                yield DeviceTestItem.from_parent(self, name=item_name, test_name=name, target=target)

    def results(self, target):
        if target not in self._results:
            self._results[target] = self._run_unix() if target == "unix" else self._run_qemu()
        return self._results[target]

    def _run_qemu(self):
        runner = os.path.join(HERE, "on_device", "device_runner.py")
        script = self.path.with_name(".qemu_" + self.path.name)
        with open(runner) as f:
            runner_source = f.read()
        script.write_text(self.path.read_text() + "\n" + runner_source + "\nrun_tests(globals(), ())\n")
        try:
            out, rc = harness.run_on_qemu(str(script), timeout=_FILE_TIMEOUT_S)
        finally:
            script.unlink()
        return harness.parse_device_results(out, rc)

    def _run_unix(self):
        argv = [harness.MICROPYTHON]
        if self.heapsize:
            argv += ["-X", "heapsize=" + self.heapsize]
        argv += [os.path.join(HERE, "on_device", "device_runner.py"), self.path.stem]
        env = harness.micropython_env([str(self.path.parent)])
        env["DTEST_TMPDIR"] = scratch = tempfile.mkdtemp(prefix="dtest-%s-" % self.path.stem)
        try:
            proc = subprocess.run(argv, env=env, cwd=harness.ROOT, capture_output=True,
                                  text=True, timeout=_FILE_TIMEOUT_S)
            out, rc = proc.stdout + proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            rc = "timeout after %ss" % _FILE_TIMEOUT_S
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return harness.parse_device_results(out, rc)


class DeviceTestItem(pytest.Item):
    def __init__(self, *, test_name, target, **kwargs):
        super().__init__(**kwargs)
        self.test_name = test_name
        self.target = target

    def runtest(self):
        results = self.parent.results(self.target)
        if self.test_name not in results:
            raise DeviceTestFailure("test did not run on MicroPython (rc=%s); output:\n%s"
                                    % (results["@@rc"], results["@@output"][-3000:]))
        if results[self.test_name] is not None:
            raise DeviceTestFailure(results[self.test_name])

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, DeviceTestFailure):
            return "MicroPython (%s): %s" % (self.target, excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, "%s [micropython %s]" % (self.test_name, self.target)


@pytest.fixture
def processes():
    """Start processes through this list (harness.start_*); all are stopped at teardown."""
    started = []
    yield started
    for proc in reversed(started):
        proc.stop()

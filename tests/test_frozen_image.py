"""The shipped image: every package named in firmware/manifest.py is frozen into the Unix-port
binary and imports from the frozen copy alone (no source tree on the path)."""

import os
import re
import subprocess

import harness


def _manifest_packages():
    with open(os.path.join(harness.FIRMWARE, "manifest.py")) as f:
        return re.findall(r'^package\("([a-z_0-9]+)"', f.read(), re.M)


def test_every_manifest_package_is_frozen(tmp_path):
    packages = _manifest_packages()
    assert "coap" in packages
    env = dict(os.environ, MICROPYPATH=".frozen")
    script = "import sys\nfor p in %r:\n    m = __import__(p)\n    print(p, m.__file__)\n" % (packages,)
    # An empty working directory and only ".frozen" on the path: nothing can come from source.
    out = subprocess.run([harness.MICROPYTHON, "-c", script], env=env, capture_output=True,
                         text=True, timeout=30, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    for p in packages:
        assert re.search(r"^%s %s/__init__\.py$" % (p, p), out.stdout, re.M), out.stdout

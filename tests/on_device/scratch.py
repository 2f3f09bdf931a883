# A scratch directory for one on-device test file. The harness gives every dtest process its own
# directory in DTEST_TMPDIR (removed afterwards), so two checkouts or two runs on one machine never
# share a state file; run by hand without it, the file falls back to /tmp.
import os


def scratch_dir(name):
    base = os.getenv("DTEST_TMPDIR") or "/tmp"
    path = base + "/" + name
    try:
        os.mkdir(path)
    except OSError:  # already there (fallback /tmp, or a second call in the same file)
        pass
    return path

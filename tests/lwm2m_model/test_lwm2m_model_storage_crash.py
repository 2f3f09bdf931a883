"""hal.storage under random sequences of puts, each possibly cut by a reset at a random step:
get() always returns a value that was put, never an older one than a value it already returned,
and an uninterrupted put is always what get() returns next."""

import os
import shutil
import tempfile

from hypothesis import given, settings, strategies as st

from hal.storage import Store
from lwm2m_model_crashfs import Crash, CrashFs

_SEQ = st.lists(st.tuples(st.binary(max_size=40), st.one_of(st.none(), st.integers(1, 8))),
                min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(_SEQ)
def test_storage_random_puts_with_resets(seq):
    d = tempfile.mkdtemp(prefix="lwm2m_model_store_")
    try:
        history = []  # every value handed to put, in order
        last_seen = -1  # index in history of the value get() returned last
        for value, crash_at in seq:
            history.append(value)
            try:
                Store(d, CrashFs(crash_at)).put("k", value)
                finished = True
            except Crash:
                finished = False
            got = Store(d).get("k")
            if finished:
                assert got == value
            assert got is not None or last_seen < 0
            if got is not None:
                # the newest index holding this value that is not older than what we saw
                idx = max(i for i, v in enumerate(history) if v == got)
                assert idx >= last_seen, (history, got)
                last_seen = idx
        assert set(os.listdir(d)) <= {"k", "k.tmp", "k.bak"}
    finally:
        shutil.rmtree(d)

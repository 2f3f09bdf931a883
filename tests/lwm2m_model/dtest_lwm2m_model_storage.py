# hal.storage: atomic records survive a reset at any step of a put (torn writes included), and a
# corrupt file falls back to the previous good copy; hal.clock fake clock. On MicroPython.
from hal.clock import FakeClock
from hal.storage import Store, StorageError
from lwm2m_model_crashfs import Crash, CrashFs, rmtree, tmpdir


def _put_crashing(d, key, value, crash_at):
    """put(value) with a reset at step crash_at; True if the reset happened."""
    fs = CrashFs(crash_at)
    try:
        Store(d, fs).put(key, value)
    except Crash:
        return True
    return False


def test_storage_put_get_json_and_keys():
    d = tmpdir("st1")
    try:
        s = Store(d)
        assert s.get("reg") is None and s.get_json("reg", {}) == {}
        s.put_json("reg", {"loc": "/rd/5a", "ssid": 101})
        s.put("bs", b"\x00\x01")
        assert Store(d).get_json("reg") == {"loc": "/rd/5a", "ssid": 101}
        assert s.keys() == ["bs", "reg"]
        s.delete("bs")
        assert s.keys() == ["reg"]
        try:
            s.put("../x", b"")
            raise AssertionError("bad key accepted")
        except StorageError:
            pass
    finally:
        rmtree(d)


def test_storage_reset_at_every_step_of_put_keeps_old_or_new():
    steps = 0
    crashed = True
    while crashed:
        steps += 1
        d = tmpdir("st2")
        try:
            Store(d).put("k", b"old-value")
            crashed = _put_crashing(d, "k", b"new-value-longer", steps)
            got = Store(d).get("k")
            assert got in (b"old-value", b"new-value-longer"), (steps, got)
            if not crashed:
                assert got == b"new-value-longer"
        finally:
            rmtree(d)
    assert steps > 4  # tmp open, write, flush, renames: every one was crashed once


def test_storage_two_interrupted_puts_never_go_back():
    # A value get() has returned once must not be lost by a later interrupted put.
    for first in range(1, 9):
        for second in range(1, 9):
            d = tmpdir("st3")
            try:
                Store(d).put("k", b"v1")
                _put_crashing(d, "k", b"v2", first)
                seen = Store(d).get("k")
                _put_crashing(d, "k", b"v3", second)
                got = Store(d).get("k")
                assert got in (seen, b"v3"), (first, second, seen, got)
            finally:
                rmtree(d)


def test_storage_corrupt_main_file_falls_back_to_previous_copy():
    d = tmpdir("st4")
    try:
        s = Store(d)
        s.put("k", b"first")
        s.put("k", b"second")
        with open(d + "/k", "r+b") as f:
            f.seek(18)
            f.write(b"X")
        assert Store(d).get("k") == b"first"
        with open(d + "/k", "wb") as f:
            f.write(b"LS1")
        assert Store(d).get("k") == b"first"
    finally:
        rmtree(d)


def test_fake_clock_ticks_and_wall_time():
    c = FakeClock(ms=1000, unix=1700000000)
    t0 = c.ticks_ms()
    c.advance(2500)
    assert c.ticks_diff(c.ticks_ms(), t0) == 2500 and c.time() == 1700000003
    c.set_time(1800000000)
    c.advance(1000)
    assert c.time() == 1800000001 and c.ticks_add(t0, 10) == 1010


def test_storage_crc_fallback_matches_binascii():
    import binascii

    import hal.storage as hs

    class _NoCrc:  # a port built without binascii.crc32
        pass

    data = b"123456789" * 3
    want = binascii.crc32(data) & 0xFFFFFFFF
    hs.binascii = _NoCrc()
    try:
        assert hs._crc(data) == want
        assert hs._crc(b"123456789") == 0xCBF43926  # the CRC-32 check value
    finally:
        hs.binascii = binascii

# The IPAd procedures run on MicroPython: canned eUICC and eIM answers, exact ESipa bytes out,
# persisted state written atomically and read back after a "reset".
# mpy-heapsize: 256K
import os
from binascii import unhexlify as h

from ipa import apdu, esipa, procedures
from ipa.state import IpaState
from scratch import scratch_dir

EID = h("89049032123451234512345678901235")
EPR = h("bf5120a01e3011800465696d3181010583010930038301005f37082222222222222222")
RNL = h("bf2b18a016a114bf2f0a80010a810204400c01655f370433333333")
GEPR = h("bf4f3bbf5138302b800465696d315a1000000000000000000000000000000000810105a00ea30c5a0a"
         "000000000000000000005f37084444444444444444")
ACKS = h("bf5009bf530680010980010a")
PROVIDE = h("bf504f5a1089049032123451234512345678901235303bbf5120a01e3011800465696d31810105830109"
            "30038301005f37082222222222222222a016a114bf2f0a80010a810204400c01655f370433333333")
NO_PACKAGE = h("bf4f03020101")
SCRATCH = scratch_dir("ipa_procedures")
PATH = SCRATCH + "/state.json"


def _fresh():
    for p in (PATH, PATH + ".tmp"):
        try:
            os.remove(p)
        except OSError:
            pass
    return IpaState(PATH)


class Canned:
    def __init__(self, eim):
        self.eim = list(eim)
        self.sent = []
        self.cmds = []

    def __call__(self, action):
        if "es10b" in action:
            cmd = bytes(action["es10b"])
            self.cmds.append(cmd[:2])
            if cmd[:2] == b"\xbf\x3e":
                return b"\xbf\x3e\x12\x5a\x10" + EID
            if cmd[:2] == b"\xbf\x51":
                return EPR
            if cmd[:2] == b"\xbf\x2b":
                return RNL
            if cmd[:2] == b"\xbf\x30":
                return h("bf3003800100")
            raise AssertionError("unexpected ES10b " + cmd[:2].hex())
        self.sent.append(bytes(action["esipa"]))
        return self.eim.pop(0)


def test_poll_no_package_backs_off_and_persists():
    st = _fresh()
    ipa = procedures.Ipa(st, backoff_min_ms=500, backoff_max_ms=1500)
    c = Canned([NO_PACKAGE] * 3)
    got = [procedures.drive(ipa.poll(), c)["retry_ms"] for _ in range(3)]
    assert got == [500, 1000, 1500]
    assert c.sent[0] == esipa.get_eim_package(EID)
    assert IpaState(PATH)["backoff_ms"] == 1500


def test_euicc_package_flow_exact_esipa_bytes():
    st = _fresh()
    ipa = procedures.Ipa(st)
    c = Canned([GEPR, ACKS, NO_PACKAGE])
    r = procedures.drive(ipa.poll(), c)
    assert r["handled"][0]["result"] == "signed"
    assert r["handled"][0]["acks"] == [9, 10]
    assert c.sent[1] == PROVIDE
    # GetEUICCData, LoadEuiccPackage, RetrieveNotificationsList, then one
    # RemoveNotificationFromList per acknowledged sequence number.
    assert c.cmds == [b"\xbf\x3e", b"\xbf\x51", b"\xbf\x2b", b"\xbf\x30", b"\xbf\x30"]
    assert IpaState(PATH)["counters"] == {"eim1": 5}
    assert IpaState(PATH).pending() == []


def test_undelivered_result_survives_reset():
    st = _fresh()
    ipa = procedures.Ipa(st)
    c = Canned([GEPR])

    def handler(action):
        if "esipa" in action and bytes(action["esipa"][:2]) == b"\xbf\x50":
            raise procedures.EimUnreachable("link down")
        return c(action)
    r = procedures.drive(ipa.poll(), handler)
    assert r["unreachable"] is True
    st2 = IpaState(PATH)             # after a reset
    assert [p["seq"] for p in st2.pending()] == [9]
    ipa2 = procedures.Ipa(st2)
    c2 = Canned([h("bf50023000"), NO_PACKAGE])
    r = procedures.drive(ipa2.poll(), c2)
    assert r["handled"][0] == {"package": "pending", "delivered": 1}
    assert c2.sent[0] == esipa.provide_eim_package_result(EPR, eid=EID)
    assert IpaState(PATH).pending() == []


def test_state_write_is_atomic_rename():
    st = _fresh()
    st.set("last_good_iccid", "98001032547698103214")
    assert "state.json.tmp" not in os.listdir(SCRATCH)
    assert IpaState(PATH)["last_good_iccid"] == "98001032547698103214"
    # A torn temp file from a reset mid-write is ignored: the old state stays authoritative.
    with open(PATH + ".tmp", "w") as f:
        f.write('{"eid": "tor')
    assert IpaState(PATH)["last_good_iccid"] == "98001032547698103214"
    os.remove(PATH + ".tmp")
    os.remove(PATH)


def test_store_data_blocks_for_long_command():
    sd = apdu.StoreData(channel=2)
    g = apdu.transact(sd, bytes(1000))
    n = 1
    a = next(g)
    while a[2] == 0x11:
        a = g.send((b"", 0x9000))
        n += 1
    assert n == 4 and a[0] == 0x82 and a[3] == 3 and a[4] == 1000 - 3 * 255


class _Channel:
    """Fake ISD-R channel: reassembles STORE DATA blocks and answers like Canned does."""

    def __init__(self, canned):
        self.canned = canned
        self.buf = bytearray()

    async def transmit(self, a):
        self.buf.extend(a[5:5 + a[4]])
        if a[2] == 0x11:
            return b"", 0x9000
        cmd = bytes(self.buf)
        self.buf = bytearray()
        return self.canned({"es10b": cmd}), 0x9000


class _Eim:
    def __init__(self, answers, fail=False):
        self.answers = list(answers)
        self.fail = fail
        self.sent = []

    async def exchange(self, msg):
        self.sent.append(bytes(msg))
        if self.fail:
            raise OSError(113)     # EHOSTUNREACH
        return self.answers.pop(0)


async def test_asyncio_runner_drives_poll():
    from ipa.runner import Runner
    st = _fresh()
    c = Canned([])
    eim = _Eim([GEPR, ACKS, NO_PACKAGE])
    r = await Runner(_Channel(c), eim).run(procedures.Ipa(st).poll())
    assert r["handled"][0]["acks"] == [9, 10]
    assert eim.sent[1] == PROVIDE


async def test_asyncio_runner_maps_oserror_to_eim_unreachable():
    from ipa.runner import Runner
    st = _fresh()
    r = await Runner(_Channel(Canned([])), _Eim([], fail=True)).run(
        procedures.Ipa(st, backoff_min_ms=700).poll())
    assert r["unreachable"] is True and r["retry_ms"] == 700


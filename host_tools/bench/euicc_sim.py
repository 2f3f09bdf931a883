"""eUICC simulator + test SM-DP+ figures (host side, CPython): cost of the ISD-R init sequence,
of an eIM-signed PSMO round trip, and of a full indirect download for several profile sizes
(APDU count, bytes over the card interface, wall time). Prints; never asserts."""

import os
import tempfile
import time

from host_tools import pki as _pki
from host_tools.euicc_sim import package
from host_tools.euicc_sim.card import Card
from host_tools.euicc_sim.client import IsdrClient
from host_tools.euicc_sim.state import iccid_to_bytes
from host_tools.smdp.core import SmDp
from host_tools.smdp.relay import indirect_download


class _Counting:
    """Wraps a card to count APDUs and bytes each way."""

    def __init__(self, card):
        self.card = card
        self.apdus = self.up = self.down = 0

    def transmit(self, apdu):
        rsp = self.card.transmit(apdu)
        self.apdus += 1
        self.up += len(apdu)
        self.down += len(rsp)
        return rsp


def _fresh(directory, pki, name):
    card = Card(state_path=os.path.join(directory, name + ".json"), pki=pki)
    card.power_on()
    counting = _Counting(card)
    return card, counting, IsdrClient(counting)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        pki = _pki.make(os.path.join(tmp, "pki"))
        card, counting, client = _fresh(tmp, pki, "init")
        t0 = time.perf_counter()
        client.open()
        client.es10(bytes.fromhex("BF3E035C015A"))
        client.es10(bytes.fromhex("BF5500"))
        client.es10(bytes.fromhex("BF2B00"))
        client.close()
        dt = time.perf_counter() - t0
        print("init sequence: %d APDUs, %d B up, %d B down, %.1f ms"
              % (counting.apdus, counting.up, counting.down, dt * 1e3))

        card, counting, client = _fresh(tmp, pki, "psmo")
        client.open()
        n = 20
        t0 = time.perf_counter()
        for i in range(n):
            iccid = "8900102000000000025" if i % 2 == 0 else "8900101000000000017"
            psmo = ("enable", {"iccid": iccid_to_bytes(iccid)})
            req = package.build_request(pki.eim.key, "test-eim", card.state.eid, i + 1,
                                        ("psmoList", [psmo]), association_token=1)
            package.verify_result(client.es10(req), card.isdr.euicc.cert.public_key(), 1)
        dt = (time.perf_counter() - t0) / n
        print("signed enable PSMO round trip (sign, verify both ways): %.1f ms, %d APDUs each"
              % (dt * 1e3, (counting.apdus - 2) // n))

        for size in (4 * 1024, 64 * 1024, 256 * 1024):
            card, counting, client = _fresh(tmp, pki, "dl%d" % size)
            client.open()
            smdp = SmDp(pki, profile_size=size)
            smdp.add_order("")
            before = counting.apdus
            t0 = time.perf_counter()
            _, pir = indirect_download(client, smdp)
            dt = time.perf_counter() - t0
            ok = pir["profileInstallationResultData"]["finalResult"][0]
            print("indirect download %3d KB profile: %s, %d APDUs, %d B up, %d B down, %.0f ms"
                  % (size // 1024, ok, counting.apdus - before, counting.up, counting.down,
                     dt * 1e3))


if __name__ == "__main__":
    main()

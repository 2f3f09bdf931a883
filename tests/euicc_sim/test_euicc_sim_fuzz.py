"""Robustness of the card interface: arbitrary APDUs and arbitrary ES10 payloads always get a
status word back (the simulator must never raise into the modem simulator)."""

from hypothesis import HealthCheck, given, settings, strategies as st

from host_tools.euicc_sim.card import Card
from host_tools.euicc_sim.client import IsdrClient

_SETTINGS = settings(max_examples=300, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
_TAGS = [0xBF3E, 0xBF20, 0xBF22, 0xBF2E, 0xBF2D, 0xBF2B, 0xBF30, 0xBF3C, 0xBF52, 0xBF55, 0xBF56,
         0xBF57, 0xBF58, 0xBF59, 0xBF5A, 0xBF64, 0xBF65, 0xBF51, 0xBF38, 0xBF21, 0xBF41, 0xBF36]


def _valid_sw(rsp):
    sw1 = rsp[-2]
    return len(rsp) >= 2 and sw1 in (0x90, 0x61, 0x62, 0x63, 0x67, 0x68, 0x69, 0x6A, 0x6C, 0x6D,
                                     0x6E, 0x6F)


@_SETTINGS
@given(apdus=st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=8))
def test_random_apdus_always_answered_with_sw(test_pki, apdus):
    card = Card(pki=test_pki)
    card.power_on()
    for apdu in apdus:
        assert _valid_sw(card.transmit(apdu))


@_SETTINGS
@given(tag=st.sampled_from(_TAGS), body=st.binary(max_size=200))
def test_random_es10_payloads_always_answered_with_sw(test_pki, tag, body):
    card = Card(pki=test_pki)
    client = IsdrClient(card)
    client.open()
    payload = tag.to_bytes(2, "big") + bytes([len(body)]) + body if len(body) < 128 else \
        tag.to_bytes(2, "big") + bytes([0x81, len(body)]) + body
    data, sw = client.store_data_raw(payload)
    assert sw >> 8 in (0x90, 0x61, 0x69, 0x6A), hex(sw)
    # the channel still works afterwards
    assert client.es10(bytes.fromhex("BF3E035C015A"))[:3] == b"\xBF\x3E\x12"

"""APDU layer of the eUICC simulator: ISO 7816-4 channels, SELECT, GP STORE DATA chaining
(SGP.22 5.7.1: P1 11/91, P2 block number), 61xx/GET RESPONSE and error status words."""

from host_tools import sgp32_oracle as oracle
from host_tools.euicc_sim.card import ISDR_AID

SELECT_ISDR = bytes.fromhex("00A4040010") + ISDR_AID + b"\x00"


def sw(rsp):
    return rsp[-2:].hex().upper()


def test_atr_has_valid_tck(card):
    atr = card.power_on()
    assert atr[0] == 0x3B
    x = 0
    for b in atr[1:]:
        x ^= b
    assert x == 0


def test_isdr_init_sequence(card):
    """TERMINAL CAPABILITY, open channel, SELECT ISD-R, GetEID, GetEimConfigurationData,
    RetrieveNotificationsList, close -- the sequence an IPAd runs at start."""
    card.power_on()
    assert sw(card.transmit(bytes.fromhex("80AA000005A903830107"))) == "9000"
    rsp = card.transmit(bytes.fromhex("0070000001"))
    assert sw(rsp) == "9000" and len(rsp) == 3
    ch = rsp[0]
    assert 1 <= ch <= 3
    rsp = card.transmit(bytes([ch]) + SELECT_ISDR[1:])
    assert sw(rsp) == "9000"
    assert rsp[0] == 0x6F and ISDR_AID in rsp
    rsp = card.transmit(bytes([0x80 | ch]) + bytes.fromhex("E2910006BF3E035C015A00"))
    assert sw(rsp) == "9000"
    assert oracle.decode("GetEuiccDataResponse", rsp[:-2])["eidValue"].hex() == card.state.eid
    rsp = card.transmit(bytes([0x80 | ch]) + bytes.fromhex("E2910003BF550000"))
    assert sw(rsp) == "9000"
    eims = oracle.decode("GetEimConfigurationDataResponse", rsp[:-2])["eimConfigurationDataList"]
    assert [e["eimId"] for e in eims] == ["test-eim"]
    assert "eimPublicKeyData" not in eims[0]
    rsp = card.transmit(bytes([0x80 | ch]) + bytes.fromhex("E2910003BF2B0000"))
    assert sw(rsp) == "9000"
    assert oracle.decode("RetrieveNotificationsListResponse", rsp[:-2]) == ("notificationList", [])
    assert sw(card.transmit(bytes([0x00, 0x70, 0x80, ch]))) == "9000"
    assert sw(card.transmit(bytes([0x80 | ch]) + bytes.fromhex("E2910003BF2B0000"))) == "6881"


def test_store_data_chaining_1B(isdr):
    # the smallest STORE DATA: one byte that is not even a TLV -> 6A80 from the ISD-R,
    # after the chaining layer passed it up in one block
    data, status = isdr.store_data_raw(b"\xBF")
    assert status == 0x6A80


def _profile_list_request(total):
    """ProfileInfoList with a tagList of repeated 5A (ICCID) tags, `total` bytes long."""
    for n in range(1, 4000):
        der = oracle.encode("ProfileInfoListRequest", {"tagList": b"\x5A" * n})
        if len(der) == total:
            return der
    raise AssertionError(total)


def _iccids(rsp):
    kind, infos = oracle.decode("ProfileInfoListResponse", rsp)
    assert kind == "profileInfoListOk"
    assert all(set(i) == {"iccid"} for i in infos)
    return len(infos)


def test_store_data_chaining_120B(isdr):
    der = _profile_list_request(120)
    before = isdr.apdus
    assert _iccids(isdr.es10(der)) == 2
    assert isdr.apdus - before == 1


def test_store_data_chaining_255B(isdr):
    der = _profile_list_request(255)
    before = isdr.apdus
    assert _iccids(isdr.es10(der)) == 2
    assert isdr.apdus - before == 1


def test_store_data_chaining_600B(isdr):
    der = _profile_list_request(600)
    before = isdr.apdus
    assert _iccids(isdr.es10(der)) == 2
    assert isdr.apdus - before == 3  # 255 + 255 + 90


def test_store_data_block_out_of_sequence_6A86(isdr):
    der = _profile_list_request(300)
    cla = 0x80 | isdr.channel
    assert sw(isdr.transmit(bytes([cla, 0xE2, 0x11, 0x00, 255]) + der[:255])) == "9000"
    assert sw(isdr.transmit(bytes([cla, 0xE2, 0x91, 0x02, 45]) + der[255:] + b"\x00")) == "6A86"
    # the chain was dropped: a fresh command starts at block 0 again
    assert sw(isdr.transmit(bytes([cla]) + bytes.fromhex("E2910006BF3E035C015A00"))) == "9000"


def test_store_data_bad_p1_6A86(isdr):
    assert sw(isdr.transmit(bytes([0x80 | isdr.channel]) + bytes.fromhex("E2010006BF3E035C015A"))) \
        == "6A86"


def test_get_response_6100_split(isdr):
    """A response of >= 256 bytes is announced as 6100; GET RESPONSE with Le=00 takes 256 and the
    rest follows with 61xx; asking for more than is left gives 6Cxx."""
    cla = 0x80 | isdr.channel
    # ProfileInfoList of the two seeded profiles plus the eUICC certificates via GetCerts
    req = oracle.encode("GetCertsRequest", {"euiccCiPKId": isdr.card.pki.ci_ski})
    rsp = isdr.transmit(bytes([cla, 0xE2, 0x91, 0x00, len(req)]) + req + b"\x00")
    assert rsp == b"\x61\x00"
    ch = isdr.channel
    out, status, checked_6c = b"", b"\x61\x00", False
    while status[0] == 0x61:
        if status[1] and not checked_6c:
            wrong = isdr.transmit(bytes([ch, 0xC0, 0, 0, status[1] + 1]))
            assert wrong == bytes([0x6C, status[1]])
            checked_6c = True
        more = isdr.transmit(bytes([ch, 0xC0, 0, 0, status[1]]))
        if status[1] == 0:
            assert len(more) == 258
        out += more[:-2]
        status = more[-2:]
    assert status == b"\x90\x00" and checked_6c
    assert len(out) > 512
    certs = oracle.decode("GetCertsResponse", out)
    assert certs[0] == "certs"


def test_get_response_nothing_pending_6985(isdr):
    assert sw(isdr.transmit(bytes([isdr.channel, 0xC0, 0, 0, 0x10]))) == "6985"


def test_error_status_words(card):
    card.power_on()
    assert sw(card.transmit(bytes.fromhex("00A4040005A000000001"))) == "6A82"
    assert sw(card.transmit(bytes.fromhex("00A4000002 3F00".replace(" ", "")))) == "6A86"
    assert sw(card.transmit(bytes.fromhex("00B0000000"))) == "6D00"
    assert sw(card.transmit(bytes.fromhex("FF7000000001"[:10]))) == "6E00"
    assert sw(card.transmit(bytes.fromhex("03A4040010") + ISDR_AID)) == "6881"
    assert sw(card.transmit(bytes.fromhex("80E2910003BF2B00"))) == "6985"   # nothing selected
    assert sw(card.transmit(bytes.fromhex("00A40400"))) == "6700"
    assert sw(card.transmit(bytes.fromhex("00A4040010A0"))) == "6700"     # Lc > data


def test_logical_channel_limit_and_extended_cla(card):
    card.power_on()
    chans = [card.transmit(bytes.fromhex("0070000001"))[0] for _ in range(4)]
    assert chans == [1, 2, 3, 4]
    assert sw(card.transmit(bytes.fromhex("0070000001"))) == "6A81"
    # channel 4 is addressed with the further interindustry CLA 40 (b7 set, channel - 4)
    assert sw(card.transmit(bytes.fromhex("40A4040010") + ISDR_AID)) == "9000"
    assert sw(card.transmit(bytes.fromhex("C0E2910006BF3E035C015A00"))[-2:]) == "9000"
    assert sw(card.transmit(bytes.fromhex("0070800400"))) == "9000"
    assert sw(card.transmit(bytes.fromhex("40A4040010") + ISDR_AID)) == "6881"


def test_test_controls_open_channels_and_switch(card):
    """Hooks the modem simulator uses: open_channels() and switch(iccid) (refresh fires)."""
    card.power_on()
    card.transmit(bytes.fromhex("0070000001"))
    card.transmit(bytes.fromhex("0070000001"))
    assert card.open_channels() == [1, 2]
    refreshed = []
    card.on_refresh = lambda: refreshed.append(card.enabled_profile()["mnc"])
    assert card.switch("8900102000000000025") == 0
    assert refreshed == ["02"]
    assert card.switch("8900102000000000025") == 2 and refreshed == ["02"]
    card.reset()
    assert card.open_channels() == []


def test_store_data_extended_length_single_apdu(isdr):
    """A 600-byte ES10 command in one extended-length APDU (Lc 00 hi lo, Le 00 00)."""
    der = _profile_list_request(600)
    apdu = bytes([0x80 | isdr.channel, 0xE2, 0x91, 0x00, 0x00]) + len(der).to_bytes(2, "big") \
        + der + b"\x00\x00"
    rsp = isdr.transmit(apdu)
    assert sw(rsp) == "9000"
    assert _iccids(rsp[:-2]) == 2

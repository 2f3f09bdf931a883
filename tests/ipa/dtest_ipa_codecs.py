# ES10b and ESipa encoders on MicroPython, exact bytes (the same vectors are checked against
# asn1play's SGP.32 codec on CPython in test_ipa_oracle.py), plus STORE DATA framing.
# mpy-targets: unix qemu
# mpy-heapsize: 256K
from binascii import unhexlify as h

from ipa import apdu, es10b, esipa

EID = h("89049032123451234512345678901235")


def test_es10b_get_eid_and_parse():
    assert es10b.get_euicc_data() == h("bf3e035c015a")
    assert es10b.parse_eid(b"\xbf\x3e\x12\x5a\x10" + EID) == EID


def test_es10b_eim_configuration_and_add_initial_eim():
    assert es10b.get_eim_configuration_data() == h("bf5500")
    assert es10b.get_eim_configuration_data("eim1") == h("bf5508a006800465696d31")
    cfg = es10b.eim_configuration_data("e1", fqdn="f", counter=0, indirect=True)
    assert es10b.add_initial_eim([cfg]) == h("bf5710a00e300c800265318101668301008900")
    assert es10b.parse_add_initial_eim(h("bf5707a005050084012a")) == [None, 42]
    try:
        es10b.parse_add_initial_eim(h("bf5703810102"))
    except es10b.Es10Error as e:
        assert e.command == "AddInitialEim" and e.code == 2
    else:
        raise AssertionError("error alternative not raised")


def test_es10b_notifications_commands():
    assert es10b.retrieve_notifications_list() == h("bf2b00")
    assert es10b.retrieve_notifications_list(seq=300) == h("bf2b06a0048002012c")
    assert es10b.retrieve_notifications_list(operation=1) == h("bf2b06a00481020440")
    assert es10b.retrieve_notifications_list(euicc_package_results=True) == h("bf2b04a0028200")
    assert es10b.notification_sent(128) == h("bf300480020080")
    assert es10b.parse_notification_sent(h("bf3003800100")) == 0


def test_es10b_rollback_immediate_enable_cancel_profiles():
    assert es10b.profile_rollback(True) == h("bf58038001ff")
    assert es10b.parse_profile_rollback(h("bf5803020101")) == (1, None)
    assert es10b.immediate_enable(False) == h("bf5a03800100")
    assert es10b.parse_immediate_enable(h("bf5a03800100")) == 0
    assert es10b.cancel_session(b"\x01\x02", 5) == h("bf410780020102810105")
    assert es10b.profile_info_list(tag_list=h("5a9f70")) == h("bf2d055c035a9f70")
    resp = h("bf2d14a012e3105a0a98001032547698103214" + "9f700101")
    assert es10b.parse_profile_info_list(resp) == [{"iccid": h("98001032547698103214"),
                                                     "state": 1}]
    assert es10b.get_euicc_challenge() == h("bf2e00")
    assert es10b.parse_euicc_challenge(h("bf2e12801000112233445566778899aabbccddeeff")) == \
        h("00112233445566778899aabbccddeeff")


def test_esipa_get_eim_package_v12_and_v10():
    rplmn = h("12f345")
    assert esipa.get_eim_package(EID, True, 5, rplmn) == h(
        "bf4f1c5a1089049032123451234512345678901235" "8000" "810105" "820312f345")
    # v1.0 has no stateChangeCause and carries rPLMN at [1].
    assert esipa.get_eim_package(EID, True, 5, rplmn, esipa.V10) == h(
        "bf4f195a1089049032123451234512345678901235" "8000" "810312f345")


def test_esipa_provide_result_handle_notification_cancel():
    assert esipa.provide_eim_package_result(h("bf5100"), eid=EID) == h(
        "bf50155a1089049032123451234512345678901235bf5100")
    assert esipa.provide_eim_package_result(h("bf5100"), eid=EID, version=esipa.V10) == \
        h("bf5003bf5100")
    assert esipa.handle_notification(h("bf3700")) == h("bf3d05a003bf3700")
    assert esipa.cancel_session(b"\x01", h("bf4103810105")) == h("bf410b800101a106bf4103810105")


def test_esipa_decode_get_eim_package_no_package():
    assert esipa.decode(h("bf4f03020101")) == ("getEimPackage", {"package": "eimPackageError",
                                                                   "error": 1})
    assert esipa.decode(h("bf50023000")) == ("provideEimPackageResult", {"acks": []})
    assert esipa.decode(h("bf5009bf5306020101020102")) == \
        ("provideEimPackageResult", {"acks": [1, 2]})


def test_store_data_single_block_exact():
    sd = apdu.StoreData(channel=1)
    g = apdu.transact(sd, h("bf2e00"))
    a = bytes(next(g))
    assert a == h("81e2910003bf2e00")
    try:
        g.send((h("bf2e0380010a"), 0x9000))
    except StopIteration as e:
        assert e.value == h("bf2e0380010a")


def test_store_data_chaining_255B():
    cmd = bytes(600)
    sd = apdu.StoreData(channel=0)
    g = apdu.transact(sd, cmd)
    heads = [bytes(next(g))[:5]]
    heads.append(bytes(g.send((b"", 0x9000)))[:5])
    heads.append(bytes(g.send((b"", 0x9000)))[:5])
    assert heads == [h("80e21100ff"), h("80e21101ff"), h("80e291025a")]
    # 61xx on the last block: GET RESPONSE on the same channel class.
    assert bytes(g.send((b"\xbf", 0x6102))) == h("00c0000002")
    try:
        g.send((b"\x21\x00", 0x9000))
    except StopIteration as e:
        assert e.value == h("bf2100")


def test_store_data_error_sw_carries_block_number():
    g = apdu.transact(apdu.StoreData(), bytes(300))
    next(g)
    try:
        g.send((b"", 0x6A80))
    except apdu.ApduError as e:
        assert e.sw == 0x6A80 and e.block == 0
    else:
        raise AssertionError("no ApduError")


def test_logical_channel_class_bytes():
    assert [apdu.cla_for(c) for c in (0, 3, 4, 19)] == [0x80, 0x83, 0xC0, 0xCF]

"""The asn1play-backed SGP.32 v1.2 oracle other parts use to check hand-written encodings."""

import pytest

from host_tools import sgp32_oracle as oracle


def test_oracle_exact_bytes_get_eid_request():
    # SGP.22 5.7.20 GetEuiccData with tagList '5A'
    der = oracle.encode("GetEuiccDataRequest", {"tagList": b"\x5A"})
    assert der == bytes.fromhex("BF3E035C015A")
    assert oracle.decode("GetEuiccDataRequest", bytes.fromhex("BF3E035C015A")) == {"tagList": b"Z"}


def test_oracle_v12_tags():
    assert oracle.types_with_tag(0xBF57) == ["SGP32Definitions.AddInitialEimRequest",
                                             "SGP32Definitions.AddInitialEimResponse"]
    assert "SGP32Definitions.EuiccPackageRequest" in oracle.types_with_tag(0xBF51)
    assert "SGP32Definitions.EuiccMemoryResetRequest" in oracle.types_with_tag(0xBF64)


def test_oracle_rejects_trailing_bytes_and_bad_input():
    with pytest.raises(oracle.OracleError) as exc:
        oracle.decode("GetEuiccDataRequest", bytes.fromhex("BF3E035C015A00"))
    assert exc.value.type_name == "GetEuiccDataRequest"
    with pytest.raises(oracle.OracleError):
        oracle.decode("GetEuiccDataRequest", bytes.fromhex("BF3E035C"))
    with pytest.raises(oracle.OracleError):
        oracle.encode("EuiccPackageSigned", {"eimId": "x" * 129, "eidValue": b"\x00" * 16,
                                             "counterValue": 1, "euiccPackage": ("ecoList", [])})


def test_oracle_qualified_names_pick_module():
    # SGP.32 overrides EUICCInfo2 (adds iotSpecificInfo); the SGP.22 one stays reachable
    v12 = oracle.asn1_type("EUICCInfo2")
    v22 = oracle.asn1_type("RSPDefinitions.EUICCInfo2")
    assert "iotSpecificInfo" in v12._cont and "iotSpecificInfo" not in v22._cont
    with pytest.raises(oracle.OracleError):
        oracle.asn1_type("NoSuchType")


def test_oracle_roundtrip_detects_non_der():
    der = oracle.encode("NotificationSentRequest", {"seqNumber": 5})
    assert oracle.roundtrip("NotificationSentRequest", der)
    # same value with a non-minimal INTEGER is valid BER, not DER
    ber = bytes.fromhex("BF3004800200 05".replace(" ", ""))
    assert oracle.decode("NotificationSentRequest", ber) == {"seqNumber": 5}
    assert not oracle.roundtrip("NotificationSentRequest", ber)

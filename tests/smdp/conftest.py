"""Fixtures for the SM-DP+ tests: the eUICC fixtures plus a fresh SM-DP+ with one order."""

import pytest

from host_tools.euicc_sim.pytest_fixtures import card, isdr, test_pki  # noqa: F401
from host_tools.smdp.core import SmDp


@pytest.fixture
def smdp(test_pki, tmp_path):
    dp = SmDp(test_pki, address="127.0.0.1", db_path=str(tmp_path / "smdp.sqlite"))
    dp.add_order("")
    return dp

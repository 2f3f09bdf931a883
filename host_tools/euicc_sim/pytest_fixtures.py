"""pytest fixtures for tests that need a simulated eUICC; import them into a conftest.py:

    from host_tools.euicc_sim.pytest_fixtures import card, isdr, test_pki  # noqa: F401
"""

import pytest

from host_tools import pki as _pki
from host_tools.euicc_sim.card import Card
from host_tools.euicc_sim.client import IsdrClient


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory):
    """One SGP.26-shaped test PKI per test session."""
    return _pki.make(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture
def card(tmp_path, test_pki):
    """A powered-on card with factory state in the test's temp dir."""
    c = Card(state_path=str(tmp_path / "euicc.json"), pki=test_pki)
    c.power_on()
    return c


@pytest.fixture
def isdr(card):
    """An IsdrClient with a logical channel open and the ISD-R selected."""
    client = IsdrClient(card)
    client.open()
    return client

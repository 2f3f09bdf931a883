"""Fixtures for the eUICC simulator tests: one test PKI per session, a fresh card per test."""

import pytest

from host_tools import pki as _pki
from host_tools.euicc_sim.card import Card
from host_tools.euicc_sim.client import IsdrClient


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory):
    return _pki.make(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture
def card(tmp_path, test_pki):
    return Card(state_path=str(tmp_path / "euicc.json"), pki=test_pki)


@pytest.fixture
def isdr(card):
    client = IsdrClient(card)
    card.power_on()
    client.open()
    yield client

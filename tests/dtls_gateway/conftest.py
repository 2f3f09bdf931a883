"""Fixtures shared by the DTLS gateway tests: the PKI (one per module) and the aiocoap backend."""

import pytest

from dtls_gateway_fixtures import Backend, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("dtls-gw-pki"))


@pytest.fixture
def backend():
    b = Backend().start()
    yield b
    b.stop()

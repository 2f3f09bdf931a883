"""Fixtures for the eUICC simulator tests: one test PKI per session, a fresh card per test."""

from host_tools.euicc_sim.pytest_fixtures import card, isdr, test_pki  # noqa: F401

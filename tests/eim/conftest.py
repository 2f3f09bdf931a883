"""eIM tests reuse the eUICC simulator's fixtures (session PKI, fresh card, open ISD-R client)."""

from host_tools.euicc_sim.pytest_fixtures import card, isdr, test_pki  # noqa: F401

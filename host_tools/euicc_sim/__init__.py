"""eUICC simulator for SGP.32 v1.2 IoT eSIM (host side, CPython). Entry point: card.Card."""

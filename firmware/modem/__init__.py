"""Cellular modem layer over AT: engine, vendor dialects, UDP socket and UICC access."""

"""CoAP (RFC 7252/7959/7641) for MicroPython: sans-I/O codec and message layer, asyncio endpoint."""

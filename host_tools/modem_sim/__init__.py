"""Simulated cellular modems (nRF91 SLM, Quectel BG95, SIMCom SIM7080, u-blox SARA-R5) over TCP or a pty."""

# Simulated device on the MicroPython Unix port. The modem is host_tools/modem_sim, reached over
# TCP on loopback (or a pty); the dialect is chosen at run time from the command line.
NAME = "unix"
MODEM_LINK = "tcp"  # "tcp" host:port, or "pty" path, given on the command line
MODEM_DIALECT = None  # chosen per run (nrf91_slm, quectel_bg95, simcom_sim7080, ublox_sara_r5)
HEAP_BUDGET = 64 * 1024  # what the firmware must fit in (tests run with -X heapsize=64K)
STATE_DIR = "state"  # persisted /0, /1, registration and IPA state

# QEMU MPS2-AN385 (Cortex-M3): no modem, no network; runs the pure-logic firmware on an
# MCU-sized heap.
NAME = "qemu_mps2_an385"
MODEM_LINK = None
MODEM_DIALECT = None
HEAP_BUDGET = 140 * 1024
STATE_DIR = None

"""`micropython -m ops ...`: the device application (ops/device.py)."""

from ops.device import main

main()

# QEMU MPS2-AN385 (Cortex-M3, MCU-class heap): the firmware's pure-logic packages, used to run
# the codec tests on a small heap. This port has no asyncio/select/socket.
include("../../firmware/manifest.py")
module("board.py")

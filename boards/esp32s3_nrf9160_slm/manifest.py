# esp32s3_nrf9160_slm: asyncio, the firmware, and this board's configuration as the module `board`.
include("$(MPY_DIR)/extmod/asyncio")
include("../../firmware/manifest.py")
module("board.py")

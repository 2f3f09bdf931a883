# esp32s3_bg95: asyncio, the firmware, and this board's configuration as the module `board`.
include("$(MPY_DIR)/extmod/asyncio")
include("../../firmware/manifest.py")
module("board.py")

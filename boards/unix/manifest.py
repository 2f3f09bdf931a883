# Unix port (CI, simulated device): asyncio plus the whole firmware.
include("$(MPY_DIR)/extmod/asyncio")
include("../../firmware/manifest.py")
module("board.py")

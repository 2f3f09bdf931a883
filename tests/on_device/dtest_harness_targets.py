# Proves the QEMU target of the harness: the same file runs on the Unix port and on the
# Cortex-M3 image, where the firmware is frozen and the heap is MCU-sized.
# mpy-targets: unix qemu
import gc
import sys


def test_firmware_package_importable():
    import coap

    assert coap.__name__ == "coap"


def test_heap_matches_target():
    gc.collect()
    total = gc.mem_free() + gc.mem_alloc()
    if sys.platform == "qemu":
        assert total < 200 * 1024, total
    else:
        assert total > 1024 * 1024, total

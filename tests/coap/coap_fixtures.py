"""Helpers shared by the CoAP interop tests: start the MicroPython demo endpoint and peers."""

import harness

MOD = 251


def pattern(size, offset=0):
    """The demo body (byte i = i % 251), as firmware/coap/demo_device.py produces it."""
    return bytes((offset + i) % MOD for i in range(size))


def start_device(processes, listen, *extra, heapsize="256K", name="device"):
    dev = harness.start_micropython(
        "coap.demo_device", ["--listen", listen] + [str(a) for a in extra], heapsize=heapsize, name=name)
    processes.append(dev)
    dev.expect(r"demo: listening on", timeout=15)
    return dev


def start_peer(processes, port, size):
    peer = harness.start_python("tests.coap.coap_host_peer", [port, size], name="aiocoap-peer")
    processes.append(peer)
    peer.expect(r"peer: listening on", timeout=20)
    return peer


def start_relay(processes, listen, target_port, seed, rate=0.1):
    relay = harness.start_python(
        "host_tools.lossy_relay",
        ["--listen", listen, "--target", "127.0.0.1:%d" % target_port, "--seed", seed,
         "--drop", rate, "--dup", rate, "--reorder", rate, "--seconds", 240],
        name="relay")
    processes.append(relay)
    relay.expect(r"relay: listening on", timeout=20)
    return relay

"""Interop with Debian's libcoap command-line client (coap-client-notls, libcoap 4.3) as a
client of the MicroPython endpoint: GET, block-wise GET (-b), block-wise PUT, observe (-s),
over IPv4 and IPv6 loopback."""

import subprocess

import pytest

import harness
from coap_fixtures import pattern, start_device

CLIENT = "/usr/bin/coap-client-notls"
BODY = 65536


def _coap(*args, timeout=60):
    proc = subprocess.run([CLIENT, "-B", "30"] + [str(a) for a in args], capture_output=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr.decode(errors="replace")


@pytest.fixture(params=["127.0.0.1", "::1"], ids=["ipv4", "ipv6"])
def device(processes, request):
    port = harness.free_port(host=request.param) if request.param != "::1" else _free_port6()
    dev = start_device(processes, port, "--no-client", "--host", request.param, "--size", BODY,
                       "--tick-ms", 300)
    dev.uri = "coap://%s:%d" % ("[::1]" if request.param == "::1" else request.param, port)
    return dev


def _free_port6():
    import socket

    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def test_libcoap_get_text_resource(device):
    rc, out, err = _coap("-m", "get", device.uri + "/hello")
    assert rc == 0, err
    assert out.strip() == b"hello from micropython"


def test_libcoap_separate_response(device):
    rc, out, err = _coap("-m", "get", device.uri + "/slow")
    assert rc == 0, err
    assert out.strip() == b"slow but sure"


@pytest.mark.parametrize("size", [16, 1024])
def test_libcoap_blockwise_get_with_b(device, tmp_path, size):
    target = tmp_path / "big.bin"
    rc, out, err = _coap("-b", size, "-o", target, device.uri + "/big")
    assert rc == 0, err
    assert target.read_bytes() == pattern(BODY)


def test_libcoap_blockwise_put(device, tmp_path):
    src = tmp_path / "up.bin"
    src.write_bytes(pattern(BODY))
    rc, out, err = _coap("-m", "put", "-b", 256, "-f", src, device.uri + "/sink")
    assert rc == 0, err
    assert out.strip() == str(BODY).encode()
    device.expect(r"served 0\.03 /sink: %d bytes, \d+ blocks$" % BODY, timeout=10)


def test_libcoap_observe_with_s(device):
    rc, out, err = _coap("-s", 2, "-w", device.uri + "/counter")
    assert rc == 0, err
    values = [int(v) for v in out.split()]
    # The registration answer plus at least two notifications, in order, no repeats.
    assert len(values) >= 3, out
    assert values == sorted(set(values))


def test_libcoap_follows_device_smaller_block_size(processes, tmp_path):
    """RFC 7959 §2.5 with libcoap: the device serves 128 B blocks at most; libcoap asks 1024."""
    port = harness.free_port()
    dev = start_device(processes, port, "--no-client", "--size", BODY, "--max-block", 128)
    uri = "coap://127.0.0.1:%d" % port
    src = tmp_path / "up.bin"
    src.write_bytes(pattern(BODY))
    rc, out, err = _coap("-m", "put", "-b", 1024, "-f", src, uri + "/sink")
    assert rc == 0, err
    assert out.strip() == str(BODY).encode()
    dev.expect(r"served 0\.03 /sink: %d bytes, 505 blocks$" % BODY, timeout=10)  # 1 + 64512/128
    target = tmp_path / "big.bin"
    rc, out, err = _coap("-b", 1024, "-o", target, uri + "/big")
    assert rc == 0, err
    assert target.read_bytes() == pattern(BODY)

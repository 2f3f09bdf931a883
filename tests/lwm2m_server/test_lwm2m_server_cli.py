"""The command-line server (python -m host_tools.lwm2m_server): logs registrations and runs
operations typed on stdin against a fake client."""

import asyncio

import harness
from aiocoap.numbers.codes import Code

from lwm2m_server_fakedev import FakeDevice, async_test
from lwm2m_server_vectors import DEVICE_TLV


async def _expect(proc, pattern, timeout=10.0):
    # DeviceProcess.expect blocks; the fake client must keep answering meanwhile
    return await asyncio.get_running_loop().run_in_executor(None, proc.expect, pattern, timeout)


def test_cli_register_read_write_observe_bootstrap_config(processes):
    port, bs_port = harness.free_port(), harness.free_port()
    proc = harness.start_python("host_tools.lwm2m_server",
                                ["--port", port, "--bs-port", bs_port, "--timeout", "5"], name="lwm2m-cli")
    processes.append(proc)
    proc.expect(r"READY lwm2m=127\.0\.0\.1:%d bootstrap=127\.0\.0\.1:%d" % (port, bs_port), 20)

    @async_test
    async def scenario():
        device = await FakeDevice.start("cli-dev", ("/", "/3/0", "/1/0/1", "/3/0/9"))
        try:
            device.answer("GET", "/3/0", Code.CONTENT, DEVICE_TLV, 11542)
            device.answer("PUT", "/1/0/1", Code.CHANGED)
            device.answer("GET", "/3/0/9", Code.CONTENT, b"\xc1\x09\x50", 11542)
            assert (await device.register(port, extra="&lwm2m=1.1&b=U&Q")).code == Code.CREATED
            await _expect(proc, r"REGISTERED cli-dev /rd/\w+ lt=60 b=U Q remote=coap://127\.0\.0\.1:%d" % device.port)
            proc.send_line("read cli-dev /3/0 tlv")
            m = await _expect(proc, r"RESULT 2\.05 /3/0 (.*)")
            assert '"/3/0/0": "Open Mobile Alliance"' in m.group(1)
            proc.send_line("write cli-dev /1/0/1 300 tlv")
            await _expect(proc, r"RESULT 2\.04 /1/0/1")
            assert device.requests[-1].payload == bytes.fromhex("c201012c")
            proc.send_line("observe cli-dev /3/0/9")
            await _expect(proc, r'RESULT 2\.05 /3/0/9 \{"/3/0/9": 80\}')
            device.notify("/3/0/9", b"\xc1\x09\x4f", 11542)
            await _expect(proc, r'NOTIFY cli-dev /3/0/9 2\.05 \{"/3/0/9": 79\}')
            proc.send_line("cancel cli-dev /3/0/9 explicit")
            await _expect(proc, r"CANCELLED cli-dev /3/0/9")
            proc.send_line("bsconfig cli-dev coap://127.0.0.1:%d 120" % port)
            await _expect(proc, r"BSCONFIG cli-dev")
            proc.send_line("exec nobody /3/0/4")
            await _expect(proc, r"ERROR OperationError: execute nobody /3/0/4: not registered")
            assert (await device.deregister(port)).code == Code.DELETED
            await _expect(proc, r"DEREGISTERED cli-dev")
        finally:
            await device.stop()

    scenario()
    proc.send_line("quit")
    assert proc.wait(10) == 0

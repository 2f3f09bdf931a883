"""Registration interface (OMA-TS-LightweightM2M_Core-V1_1 §6.2) end to end: the firmware client on
the Unix port against the host LwM2M server. Named after the OMA ETS (LightweightM2M-1.1-int) cases."""

from lwm2m_client_itest import async_test, expect, registered


@async_test
async def test_LightweightM2M_1_1_int_101_initial_registration(processes):
    """Initial Registration: ep, lt, lwm2m=1.1, b=U, object links with versions."""
    server, dev = await registered(processes, "int101", lifetime=60)
    try:
        reg = server.registration("int101")
        assert (reg.lifetime, reg.version, reg.binding, reg.queue_mode) == (60, "1.1", "U", False)
        assert "/1/0" in reg.objects and "/3/0" in reg.objects and "/4/0" in reg.objects
        assert "/0/0" not in reg.objects  # the Security object is never announced
        assert reg.object_version(1) == "1.2" and reg.object_version(3) == "1.2"
        await expect(dev, r"lwm2m registered /rd/")
    finally:
        await server.stop()

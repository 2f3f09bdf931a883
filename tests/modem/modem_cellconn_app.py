# Device side of test_modem_cellconn_sim.py (MicroPython Unix port, against the modem simulator):
# /10 read from the modem, a server Write of PSM/eDRX applied through ModemPower, SIM identity
# copied into the registry. Prints `RESULT <json>` or `FAIL <error>`.
#   micropython -m modem_cellconn_app DIALECT LINK EID
import asyncio
import json
import sys

from lwm2m.model import Registry
from modem.connmon_source import ModemPower, read_cellconn, sync_identity
from modem.factory import dialect_class
from modem.stream_unix import open_link
from objects import obj_cellconn, obj_device, obj_esim_iot


async def main(dialect, link, eid):
    r, w = await open_link(link)
    d = dialect_class(dialect).connect(r, w)
    try:
        reg = Registry()
        obj_device.create(reg)
        obj_esim_iot.create(reg)
        power = ModemPower(d)
        cell = obj_cellconn.create(reg, apply=power)
        read = await read_cellconn(d)
        cell.update(**read)
        reg.write((10, 0), [((10, 0, 4), 3600), ((10, 0, 5), 60), ((10, 0, 9), b"\x0d"),
                            ((10, 0, 13), 3)])
        drained = await power.drain(20000)
        ident = await sync_identity(d, reg, eid=eid)
        out = {"read": dict((k, v.hex() if isinstance(v, bytes) else v) for k, v in read.items()),
               "drained": drained, "done": power.done,
               "errors": [str(e) for _, e in power.errors], "identity": ident,
               "obj3443_eid": reg.get((3443, 0, 1)), "obj3_serial": reg.get((3, 0, 2)),
               "obj10_psm": reg.get((10, 0, 4)), "stats": d.at.stats()}
        print("RESULT " + json.dumps(out))
    except Exception as e:
        print("FAIL %s: %s" % (type(e).__name__, e))
        sys.print_exception(e)
    finally:
        d.deinit()


asyncio.run(main(*sys.argv[1:4]))

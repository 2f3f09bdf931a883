# Shared by the lwm2m_client dtests: a small registry with a Server-like object, a sensor-like
# object and a multi-instance object, built on lwm2m.model only (independent of objects/).
from coap import numbers as N
from coap.message import Message
from lwm2m import model as M

R, W, RW, E = M.OP_R, M.OP_W, M.OP_RW, M.OP_E

SENSOR = 3303
_SENSOR_FIELDS = (
    (5601, R, M.T_FLOAT, 0),
    (5700, R, M.T_FLOAT, M.MAND),
    (5701, RW, M.T_STRING, 0),
    (5750, RW, M.T_STRING, 0),
    (5800, RW, M.T_INT, M.MULTI),
    (5850, RW, M.T_BOOL, 0),
    (5605, E, M.T_NONE, 0),
    (5900, RW, M.T_OPAQUE, 0),
)

# Sorted by rid, as the model expects.
_SENSOR_FIELDS = tuple(sorted(_SENSOR_FIELDS))


class Sensor(M.Object):
    def __init__(self):
        super().__init__(SENSOR, "1.1", _SENSOR_FIELDS, multiple=True)
        self.resets = []
        self.exec_hooks[5605] = lambda iid, arg: self.resets.append((iid, arg))

    def validate(self, iid, values):
        if len(values.get(5750, "")) > 16:
            raise M.bad("application type longer than 16")


def registry():
    reg = M.Registry()
    s = reg.add(Sensor())
    s.instances[0] = {5700: 21.5, 5601: 10.0, 5701: "Cel", 5800: {0: 1, 1: 2}, 5850: False}
    return reg


def request(code, path, payload=b"", cf=None, accept=None, observe=None, query=()):
    msg = Message(N.CON, code, 1, b"\x01")
    msg.set_uri_path(path)
    if observe is not None:
        msg.add_option(N.OBSERVE, observe)
    for q in query:
        msg.add_option(N.URI_QUERY, q)
    if cf is not None:
        msg.add_option(N.CONTENT_FORMAT, cf)
    if accept is not None:
        msg.add_option(N.ACCEPT, accept)
    msg.payload = payload
    return msg

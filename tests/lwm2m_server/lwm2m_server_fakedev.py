"""A fake LwM2M client for the server tests: an aiocoap context on its own loopback port that
registers, answers device-management requests from a table of hand-built payloads and records
every request it received (so tests can assert the exact bytes the server sent)."""

import asyncio

from aiocoap import Context, Message, resource
from aiocoap.numbers.codes import Code


class _Res(resource.ObservableResource):
    def __init__(self, device, path):
        super().__init__()
        self.device = device
        self.path = path

    async def render(self, request):
        return self.device._handle(self.path, request)

    def observers(self):
        return len(self._observations)


class _BlockRes(_Res):
    """A resource that does its own Block2 (RFC 7959) at 2**(szx+4) bytes, as a constrained
    client does, so every block request reaches the handler and is recorded."""

    def __init__(self, device, path, szx):
        super().__init__(device, path)
        self.szx = szx

    async def needs_blockwise_assembly(self, request):
        return False

    async def render(self, request):
        msg = self.device._handle(self.path, request)
        size = 1 << (self.szx + 4)
        asked = request.opt.block2
        if len(msg.payload) <= size and asked is None:
            return msg
        num = asked.block_number if asked is not None else 0
        whole = msg.payload
        msg.payload = whole[num * size:(num + 1) * size]
        msg.opt.block2 = (num, (num + 1) * size < len(whole), self.szx)
        return msg


class FakeDevice:
    """`answers[(method, path)]` is (code, payload, content_format) or a callable(request) ->
    Message; method names are aiocoap's ("GET", "PUT", "POST", "DELETE", "FETCH", "iPATCH")."""

    def __init__(self, endpoint="dev1"):
        self.endpoint = endpoint
        self.ctx = None
        self.port = None
        self.answers = {}
        self.requests = []
        self.location = None
        self.received = asyncio.Queue()
        self._resources = {}
        self._site = resource.Site()

    @classmethod
    async def start(cls, endpoint="dev1", resources=("/", "/1/0", "/3/0")):
        self = cls(endpoint)
        for path in resources:
            self.add_resource(path)
        self.ctx = await Context.create_server_context(self._site, bind=("127.0.0.1", 0),
                                                       transports=["udp6"])
        mman = self.ctx.request_interfaces[0].token_interface
        self.port = mman.message_interface.transport.get_extra_info("socket").getsockname()[1]
        return self

    def add_resource(self, path, block_szx=None):
        """block_szx: serve Block2 in the handler itself at that size exponent (see _BlockRes)."""
        parts = tuple(p for p in path.split("/") if p)
        res = _Res(self, path) if block_szx is None else _BlockRes(self, path, block_szx)
        self._resources[path] = res
        self._site.add_resource(parts, res)
        return res

    def resource(self, path):
        return self._resources[path]

    def answer(self, method, path, code, payload=b"", content_format=None):
        self.answers[(method, path)] = (code, payload, content_format)

    def _handle(self, path, request):
        self.requests.append(request)
        self.received.put_nowait(request)
        answer = self.answers.get((request.code.name, path))
        if answer is None:
            return Message(code=Code.NOT_FOUND)
        if callable(answer):
            return answer(request)
        code, payload, cf = answer
        msg = Message(code=code, payload=payload)
        if cf is not None:
            msg.opt.content_format = cf
        return msg

    def notify(self, path, payload, content_format):
        """Change the answer to GET/FETCH `path` and send it to the observers."""
        method = "FETCH" if path == "/" else "GET"
        self.answer(method, path, Code.CONTENT, payload, content_format)
        self._resources[path].updated_state()

    async def next_request(self, timeout=5.0):
        return await asyncio.wait_for(self.received.get(), timeout)

    async def _send(self, code, server_port, uri_path, query="", payload=b"", cf=None, timeout=5.0):
        msg = Message(code=code, uri="coap://127.0.0.1:%d%s%s" % (server_port, uri_path, query),
                      payload=payload)
        if cf is not None:
            msg.opt.content_format = cf
        return await asyncio.wait_for(self.ctx.request(msg).response, timeout)

    async def register(self, server_port, lt=60, extra="&lwm2m=1.1&b=U",
                       links=b"</>;rt=\"oma.lwm2m\";ct=110,</1/0>,</3>;ver=1.1,</3/0>"):
        resp = await self._send(Code.POST, server_port, "/rd", "?ep=%s&lt=%d%s" % (self.endpoint, lt, extra),
                                links, 40)
        if resp.code == Code.CREATED:
            self.location = "/" + "/".join(resp.opt.location_path)
        return resp

    async def update(self, server_port, query="", payload=b""):
        return await self._send(Code.POST, server_port, self.location, query, payload,
                                40 if payload else None)

    async def deregister(self, server_port):
        return await self._send(Code.DELETE, server_port, self.location)

    async def send(self, server_port, payload, cf):
        return await self._send(Code.POST, server_port, "/dp", "", payload, cf)

    async def stop(self):
        await self.ctx.shutdown()


def async_test(fn):
    """Run an `async def test_...` under asyncio.run (the suite has no asyncio plugin);
    every test is bounded so a lost datagram fails instead of hanging."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        async def bounded():
            return await asyncio.wait_for(fn(*args, **kwargs), 60)
        return asyncio.run(bounded())
    return wrapper


async def server_and_device(endpoint="dev1", register=True, **server_args):
    """A started LwM2MServer (port 0, in-memory db) and a FakeDevice registered to it."""
    from host_tools.lwm2m_server import LwM2MServer

    server_args.setdefault("timeout", 5.0)
    server = await LwM2MServer.start(port=0, **server_args)
    device = await FakeDevice.start(endpoint)
    if register:
        resp = await device.register(server.port)
        assert resp.code == Code.CREATED, resp
        await server.wait_registered(endpoint, 5)
    return server, device


async def stop_all(*things):
    for thing in things:
        await thing.stop()


class connected:
    """`async with connected(**server_args) as (server, device):` — server_and_device() with
    both stopped at the end, whatever happened."""

    def __init__(self, endpoint="dev1", register=True, **server_args):
        self._args = (endpoint, register, server_args)
        self._pair = None

    async def __aenter__(self):
        endpoint, register, server_args = self._args
        self._pair = await server_and_device(endpoint, register, **server_args)
        return self._pair

    async def __aexit__(self, *exc):
        server, device = self._pair
        await stop_all(device, server)

"""The aiocoap glue shared by the LwM2M and bootstrap servers: bind a server context, send one
request toward a client's registered address and turn the answer into a Result."""

import asyncio
import logging

from aiocoap import Context, Message
from aiocoap import error as coap_error
from aiocoap import interfaces
from aiocoap.numbers.codes import Code
from aiocoap.pipe import Pipe
from aiocoap.protocol import Request

from . import codecs, numbers, paths

log = logging.getLogger("lwm2m_server")


class OperationError(Exception):
    """A device-management operation that got no CoAP answer (timeout, RST, not registered)."""

    def __init__(self, endpoint, operation, path, reason):
        super().__init__("%s %s %s: %s" % (operation, endpoint, path, reason))
        self.endpoint = endpoint
        self.operation = operation
        self.path = path
        self.reason = reason


class OperationTimeout(OperationError):
    pass


def code_of(dotted):
    cls, _, detail = dotted.partition(".")
    return Code((int(cls) << 5) | int(detail))


class Result:
    """A client's answer: `code` ("2.05"), `payload`, `content_format`, `values` (decoded
    {path: value}, or None), `error` (why decoding failed), `location` (Location-Path)."""

    def __init__(self, code, payload=b"", content_format=None, path="/", location=(), types=None,
                 observe=None):
        self.code = code
        self.payload = bytes(payload)
        self.content_format = content_format
        self.path = path
        self.location = tuple(location)
        self.observe = observe
        self.values = None
        self.error = None
        # an empty opaque/text answer is a value (b"" / ""), not the absence of one
        if self.ok and (self.payload or content_format in (numbers.OPAQUE, numbers.TEXT)):
            try:
                self.values = codecs.decode(content_format, self.payload, path, types)
            except ValueError as exc:
                self.error = "%s: %s" % (numbers.NAMES.get(content_format, content_format), exc)

    @classmethod
    def from_message(cls, msg, path, types=None):
        cf = msg.opt.content_format
        return cls(msg.code.dotted, msg.payload, None if cf is None else int(cf), path,
                   msg.opt.location_path, types, msg.opt.observe)

    @property
    def ok(self):
        return self.code.startswith("2.")

    @property
    def value(self):
        """The single value of a one-resource answer (None if there is not exactly one)."""
        if self.values and len(self.values) == 1:
            return next(iter(self.values.values()))
        return None

    def __repr__(self):
        return "<Result %s %s cf=%s %s>" % (self.code, self.path, self.content_format,
                                           self.values if self.error is None else self.error)


async def bind(site, host, port):
    """A server context on one UDP socket: it receives the clients' requests and sends ours
    from the same address, so a client behind NAT or a modem socket can answer."""
    ctx = await Context.create_server_context(site, bind=(host, port), transports=["udp6"])
    return ctx


def local_port(ctx):
    mman = ctx.request_interfaces[0].token_interface
    return mman.message_interface.transport.get_extra_info("socket").getsockname()[1]


def make_request(code, path, remote=None, remote_uri=None, payload=b"", content_format=None,
                 accept=None, query=(), observe=None, root="/"):
    """A request to `path` under the client's `root` (its alternate path, Core 1.1 §6.2.1), sent
    to `remote` or, when no request came in since a restart, to `remote_uri`."""
    # "/bs" (Bootstrap-Finish) is the one non-numeric path the servers send to
    uri_path = ("bs",) if path == "/bs" else paths.uri_path(path)
    uri_path = tuple(p for p in root.split("/") if p) + uri_path
    if remote is not None:
        msg = Message(code=code, payload=payload)
        msg.remote = remote
    else:
        msg = Message(code=code, uri=remote_uri, payload=payload)
    msg.opt.uri_path = uri_path
    if content_format is not None:
        msg.opt.content_format = content_format
    if accept is not None:
        msg.opt.accept = accept
    if query:
        msg.opt.uri_query = tuple(query)
    if observe is not None:
        msg.opt.observe = observe
    return msg


async def exchange(ctx, msg, timeout, endpoint, operation, path, blockwise=True):
    """Send `msg`; -> (aiocoap request, response message). Errors become OperationError."""
    req = ctx.request(msg, handle_blockwise=blockwise)
    try:
        resp = await asyncio.wait_for(req.response, timeout)
    except asyncio.TimeoutError:
        raise OperationTimeout(endpoint, operation, path, "no answer within %.1fs" % timeout) from None
    except coap_error.Error as exc:
        raise OperationError(endpoint, operation, path, "%s: %s" % (type(exc).__name__, exc)) from None
    return req, resp


async def request_with_token(ctx, msg, token):
    """Send `msg` with a chosen token (RFC 7641 §3.6 explicit deregistration reuses the
    observation's token, which aiocoap's token manager would otherwise pick itself)."""
    iface = await ctx.find_remote_and_interface(msg)
    pipe = Pipe(msg, ctx.log)
    req = Request(pipe, ctx.loop, ctx.log)
    iface.next_token = lambda: token
    try:
        iface.request(pipe)
    finally:
        del iface.next_token
    return req


class Site(interfaces.Resource):
    """Routes every incoming request to one handler coroutine (request -> Message)."""

    def __init__(self, handler):
        super().__init__()
        self._handler = handler

    async def needs_blockwise_assembly(self, request):
        return True

    async def render(self, request):
        return await self._handler(request)

    async def render_to_pipe(self, pipe):
        await self._render_to_pipe(pipe)


def response(code, payload=b"", content_format=None, location=None):
    msg = Message(code=code_of(code) if isinstance(code, str) else code, payload=payload)
    if content_format is not None:
        msg.opt.content_format = content_format
    if location:
        msg.opt.location_path = tuple(location)
    return msg

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


async def complete_block2(ctx, request, first, timeout, endpoint, operation, path):
    """RFC 7959 §3.4: a response (or notification) that carries Block2 with M=1 holds only its
    first block; fetch the rest with the same request, Observe removed and Block2 NUM counting
    up at the size the client chose, and -> one message with the whole payload. A FETCH repeats
    its body (RFC 8132 §2.3.2). Done here rather than by aiocoap's block-wise layer so the
    observation keeps the token its explicit cancel reuses."""
    block2 = first.opt.block2
    if block2 is None or not block2.more:
        return first
    if block2.block_number != 0:
        raise OperationError(endpoint, operation, path,
                             "first block of the answer is Block2 NUM %d" % block2.block_number)
    szx = block2.size_exponent
    payload = bytearray(first.payload)
    etag = first.opt.etag
    last = first
    while last.opt.block2 is not None and last.opt.block2.more:
        size = last.opt.block2.size
        if len(last.payload) != size:
            raise OperationError(endpoint, operation, path, "block %d of %d bytes, Block2 says %d"
                                 % (last.opt.block2.block_number, len(last.payload), size))
        num = len(payload) >> (szx + 4)
        msg = request.copy(payload=request.payload if request.code == Code.FETCH else b"",
                           mid=None, token=None, remote=first.remote, observe=None, block1=None,
                           block2=(num, False, szx))
        _, last = await exchange(ctx, msg, timeout, endpoint, operation, path, blockwise=False)
        if not last.code.is_successful():
            raise OperationError(endpoint, operation, path, "Block2 NUM %d answered %s"
                                 % (num, last.code.dotted))
        got = last.opt.block2
        if got is None or got.start != len(payload):
            raise OperationError(endpoint, operation, path, "asked Block2 NUM %d, got %s"
                                 % (num, None if got is None else tuple(got)))
        if last.opt.etag != etag:
            # the representation changed between blocks: the parts do not make one value
            raise OperationError(endpoint, operation, path, "ETag changed at Block2 NUM %d" % num)
        szx = got.size_exponent
        payload += last.payload
    return first.copy(payload=bytes(payload), block2=None)


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

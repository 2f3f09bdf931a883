"""ESipa HTTPS ASN.1 binding (SGP.32 6.1/6.3, shaped like SGP.22 6.1 for ES9+) and a small JSON
control plane, on one asyncio TLS server with a hand-written HTTP/1.1 parser and keep-alive.

    POST /gsma/rsp2/asn1            ESipa: body is one EsipaMessageFromIpaToEim (DER)
                                    Content-Type: application/x-gsma-rsp-asn1
                                    X-Admin-Protocol: gsma/rsp/v<x.y.z>
                                    -> 200 + EsipaMessageFromEimToIpa, or 204 (HandleNotification)
    POST /api/eids/<eid>/packages   JSON package spec (see packages.py) -> 201 {"id": n}
    GET  /api/eids/<eid>/packages   -> 200 [package, ...]
    GET  /api/eids/<eid>/audit      -> 200 [audit entry, ...]
    POST /api/eids/<eid>            register: {"euiccCert": hex DER, "counter": n,
                                    "associationToken": n} -> 200

The control plane has no authentication: a loopback test tool, not a deployable eIM."""

import asyncio
import binascii
import json
import logging
import re

from . import codec, packages
from .core import MalformedMessage, TAG_GET_PACKAGE

log = logging.getLogger("eim.http")

ESIPA_PATH = "/gsma/rsp2/asn1"
ASN1_CONTENT_TYPE = "application/x-gsma-rsp-asn1"
_ADMIN_PROTOCOL_RX = re.compile(r"^gsma/rsp/v\d+\.\d+\.\d+$")
_API_RX = re.compile(r"^/api/eids/(\d{32})(/packages|/audit)?$")

MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024
IDLE_TIMEOUT_S = 30.0

_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
            405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large",
            415: "Unsupported Media Type", 500: "Internal Server Error",
            501: "Not Implemented"}


class HttpError(Exception):
    def __init__(self, status, reason):
        Exception.__init__(self, "%d %s" % (status, reason))
        self.status = status
        self.reason = reason


class Request:
    def __init__(self, method, target, version, headers):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # lower-case name -> value (last one wins)
        self.body = b""

    def keep_alive(self):
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return conn == "keep-alive"
        return conn != "close"


def parse_head(head):
    """Request line + headers (bytes up to, not including, the blank line) -> Request."""
    try:
        text = head.decode("iso-8859-1")
    except UnicodeDecodeError:
        raise HttpError(400, "undecodable head") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, "bad request line %r" % lines[0][:80])
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "bad header line %r" % line[:80])
        headers[name.lower()] = value.strip()
    return Request(parts[0], parts[1], parts[2], headers)


def format_response(status, body=b"", headers=(), keep_alive=True):
    lines = ["HTTP/1.1 %d %s" % (status, _REASONS.get(status, "Status"))]
    lines.extend("%s: %s" % h for h in headers)
    if status != 204:
        lines.append("Content-Length: %d" % len(body))
    lines.append("Connection: %s" % ("keep-alive" if keep_alive else "close"))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1") + (body if status != 204 else b"")


class _Connection:
    """Per-connection context: the EID the IPA named last (ProvideEimPackageResult may omit it)."""

    def __init__(self):
        self.eid = None


class EsipaHttpServer:
    def __init__(self, core, host="127.0.0.1", port=0, ssl_context=None):
        self.core = core
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._server = None
        self.requests = 0

    async def start(self):
        self._server = await asyncio.start_server(self._client, self.host, self.port,
                                                  ssl=self.ssl_context, limit=MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self):
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self):
        await self._server.serve_forever()

    async def _client(self, reader, writer):
        ctx = _Connection()
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT_S)
                except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    writer.write(format_response(400, b"head too large", keep_alive=False))
                    return
                try:
                    req = parse_head(head[:-4])
                    if req.headers.get("expect", "").lower() == "100-continue":
                        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    req.body = await self._read_body(reader, req)
                except HttpError as exc:
                    writer.write(format_response(exc.status, exc.reason.encode(), keep_alive=False))
                    await writer.drain()
                    return
                keep = req.keep_alive()
                status, body, headers = self._dispatch(ctx, req)
                self.requests += 1
                writer.write(format_response(status, body, headers, keep))
                await writer.drain()
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            try:
                writer.close()
            except Exception:  # closing a broken TLS transport may raise; nothing to do then
                pass

    async def _read_body(self, reader, req):
        if "transfer-encoding" in req.headers:
            raise HttpError(501, "transfer-encoding not supported")
        length = req.headers.get("content-length")
        if length is None:
            if req.method == "POST":
                raise HttpError(411, "Content-Length required")
            return b""
        if not length.isdigit():
            raise HttpError(400, "bad Content-Length")
        n = int(length)
        if n > MAX_BODY:
            raise HttpError(413, "body over %d bytes" % MAX_BODY)
        try:
            return await asyncio.wait_for(reader.readexactly(n), IDLE_TIMEOUT_S)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError):
            raise HttpError(400, "body shorter than Content-Length") from None

    # ------------------------------------------------------------------ routing

    def _dispatch(self, ctx, req):
        path = req.target.split("?", 1)[0]
        try:
            if path == ESIPA_PATH:
                if req.method != "POST":
                    raise HttpError(405, "ESipa takes POST")
                return self._esipa(ctx, req)
            m = _API_RX.match(path)
            if m:
                return self._api(req, m.group(1), m.group(2))
            raise HttpError(404, "no such resource %s" % path)
        except HttpError as exc:
            return exc.status, exc.reason.encode(), (("Content-Type", "text/plain"),)
        except Exception:  # a bug must cost one request, not the server
            log.exception("request %s %s failed", req.method, path)
            return 500, b"internal error", (("Content-Type", "text/plain"),)

    def _esipa(self, ctx, req):
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != ASN1_CONTENT_TYPE:
            raise HttpError(400, "Content-Type must be %s, got %r" % (ASN1_CONTENT_TYPE, ctype))
        proto = req.headers.get("x-admin-protocol", "")
        if not _ADMIN_PROTOCOL_RX.match(proto):
            raise HttpError(400, "X-Admin-Protocol must be gsma/rsp/v<x.y.z>, got %r" % proto)
        self._remember_eid(ctx, req.body)
        try:
            answer = self.core.handle_ipa_message(ctx.eid, req.body)
        except MalformedMessage as exc:
            raise HttpError(400, "not an ESipa message: %s" % exc) from None
        headers = (("X-Admin-Protocol", proto),)
        if answer is None:
            return 204, b"", headers
        return 200, answer, (("Content-Type", ASN1_CONTENT_TYPE),) + headers

    def _remember_eid(self, ctx, body):
        """A GetEimPackageRequest names the EID; later results on this connection may not."""
        try:
            tag, voff, vlen = codec.tlv_header(body)
            if tag == TAG_GET_PACKAGE:
                eid_tlv = codec.tlv_find(body, b"\x5a", voff, voff + vlen)
                if eid_tlv is not None and len(codec.tlv_value(eid_tlv)) == 16:
                    ctx.eid = binascii.hexlify(codec.tlv_value(eid_tlv)).decode()
        except codec.DecodeError:
            pass  # the core answers the malformed message itself

    def _api(self, req, eid, sub):
        def reply(status, obj):
            return status, json.dumps(obj).encode(), (("Content-Type", "application/json"),)

        if sub == "/audit" and req.method == "GET":
            return reply(200, self.core.audit_log(eid))
        if sub == "/packages" and req.method == "GET":
            return reply(200, self.core.package_list(eid))
        if req.method != "POST" or sub == "/audit":
            raise HttpError(405, "method %s not allowed here" % req.method)
        try:
            body = json.loads(req.body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError) as exc:
            raise HttpError(400, "body is not JSON: %s" % exc) from None
        try:
            if sub == "/packages":
                return reply(201, {"id": self.core.queue_body(eid, body)})
            self.core.register_euicc(
                eid, euicc_cert=_unhex(body.get("euiccCert")), counter=body.get("counter"),
                association_token=body.get("associationToken"))
            return reply(200, {"eid": eid})
        except packages.SpecError as exc:
            return reply(400, {"error": exc.reason, "field": exc.field})
        except ValueError as exc:
            return reply(400, {"error": str(exc)})


def _unhex(text):
    return None if text is None else binascii.unhexlify(text)

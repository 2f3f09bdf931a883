"""HTTPS front end for the test SM-DP+ (asyncio + ssl, HTTP/1.1 with keep-alive).

POST /gsma/rsp2/asn1 with a DER RemoteProfileProvisioningRequest body (Content-Type
application/x-gsma-rsp-asn1) -> 200 with the DER response, or 204 for HandleNotification.
Only the ASN.1 binding is served (no JSON binding). Every read is bounded by a timeout.
"""

import asyncio
import http.client
import logging
import ssl

from host_tools.smdp.core import SmdpError

PATH = "/gsma/rsp2/asn1"
CONTENT_TYPE = "application/x-gsma-rsp-asn1"
_MAX_BODY = 4 * 1024 * 1024
_IO_TIMEOUT_S = 30
log = logging.getLogger("smdp")


def server_ssl_context(pki):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pki.smdp_tls.cert_path, pki.smdp_tls.key_path)
    return ctx


def _reply(status, reason, body=b"", content_type=CONTENT_TYPE):
    head = "HTTP/1.1 %d %s\r\nContent-Length: %d\r\nX-Admin-Protocol: gsma/rsp/v2.5.0\r\n" % (
        status, reason, len(body))
    if body:
        head += "Content-Type: %s\r\n" % content_type
    return head.encode() + b"\r\n" + body


async def _read_request(reader):
    line = await asyncio.wait_for(reader.readline(), _IO_TIMEOUT_S)
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers = {}
    while True:
        h = await asyncio.wait_for(reader.readline(), _IO_TIMEOUT_S)
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    if n > _MAX_BODY:
        raise ValueError("body of %d bytes" % n)
    body = await asyncio.wait_for(reader.readexactly(n), _IO_TIMEOUT_S) if n else b""
    return method, path, headers, body


async def _client(smdp, reader, writer):
    try:
        while True:
            try:
                req = await _read_request(reader)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError,
                    ConnectionError, ssl.SSLError):
                break
            if req is None:
                break
            method, path, headers, body = req
            if method != "POST" or path != PATH:
                writer.write(_reply(404, "Not Found"))
            else:
                try:
                    out = smdp.handle(body)
                    writer.write(_reply(200, "OK", out) if out else _reply(204, "No Content"))
                except SmdpError as exc:
                    log.info("ES9+ error: %s", exc)
                    writer.write(_reply(400, "Bad Request", str(exc).encode(), "text/plain"))
                except Exception as exc:  # a malformed body must not kill the server
                    log.warning("ES9+ request failed: %r", exc)
                    writer.write(_reply(400, "Bad Request", repr(exc).encode(), "text/plain"))
            await asyncio.wait_for(writer.drain(), _IO_TIMEOUT_S)
            if headers.get("connection", "").lower() == "close":
                break
    finally:
        writer.close()


async def serve(smdp, host="127.0.0.1", port=0, ssl_context=None):
    """Start the HTTPS server; returns the asyncio.Server (port from .sockets[0])."""
    ctx = ssl_context or server_ssl_context(smdp.pki)
    return await asyncio.start_server(lambda r, w: _client(smdp, r, w), host, port, ssl=ctx)


class HttpsClient:
    """Blocking ES9+ client: .handle(der) -> der, same shape as SmDp.handle (for relays)."""

    def __init__(self, host, port, cafile, timeout=30):
        ctx = ssl.create_default_context(cafile=cafile)
        self.conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=timeout)

    def handle(self, der):
        self.conn.request("POST", PATH, body=der, headers={
            "Content-Type": CONTENT_TYPE, "User-Agent": "gsma-rsp-lpad",
            "X-Admin-Protocol": "gsma/rsp/v2.5.0"})
        rsp = self.conn.getresponse()
        body = rsp.read()
        if rsp.status not in (200, 204):
            raise SmdpError("ES9+", rsp.status, body.decode("utf-8", "replace"))
        return body

    def close(self):
        self.conn.close()

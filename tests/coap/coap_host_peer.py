"""aiocoap (a real, independent CoAP implementation) as the host-side server the MicroPython
endpoint talks to in the interop tests. Run: python -m tests.coap.coap_host_peer PORT SIZE
Serves /blob (GET: SIZE bytes of the demo pattern i % 251), /sink (PUT/POST: checks and counts
the body), /echo; prints one line per request handled."""

import asyncio
import sys

import aiocoap
import aiocoap.resource as resource

MOD = 251


def pattern(size, offset=0):
    return bytes((offset + i) % MOD for i in range(size))


class Blob(resource.Resource):
    def __init__(self, size):
        super().__init__()
        self.body = pattern(size)

    async def render_get(self, request):
        return aiocoap.Message(code=aiocoap.CONTENT, payload=self.body)


class Sink(resource.Resource):
    async def _take(self, request, code):
        body = request.payload
        ok = body == pattern(len(body))
        print("peer: %s /sink %d bytes %s" % (request.code, len(body), "ok" if ok else "CORRUPT"), flush=True)
        return aiocoap.Message(code=code, payload=str(len(body)).encode())

    async def render_put(self, request):
        return await self._take(request, aiocoap.CHANGED)

    async def render_post(self, request):
        return await self._take(request, aiocoap.CREATED)


class Echo(resource.Resource):
    async def render_post(self, request):
        return aiocoap.Message(code=aiocoap.CONTENT, payload=request.payload)

    render_put = render_post


async def main(port, size, host="127.0.0.1"):
    site = resource.Site()
    site.add_resource(["blob"], Blob(size))
    site.add_resource(["sink"], Sink())
    site.add_resource(["echo"], Echo())
    ctx = await aiocoap.Context.create_server_context(site, bind=(host, port), transports=["udp6"])
    print("peer: listening on %s:%d" % (host, port), flush=True)
    try:
        await asyncio.sleep(600)
    finally:
        await ctx.shutdown()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), *(sys.argv[3:4])))

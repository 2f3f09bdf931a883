"""Thin asyncio layer that runs the sans-I/O procedures of ipa.procedures against real I/O:

  channel: the ISD-R logical channel, `await channel.transmit(apdu) -> (data, sw)`
           (modem.uicc Channel; it sets the channel bits in CLA itself, so build the Ipa with
           channel=0)
  eim:     the ESipa transport, `await eim.exchange(msg) -> bytes` (b"" for no content) and
           `await eim.open_stream(msg)` returning an object with `await read(n) -> bytes`
           (b"" at the end) for GetBoundProfilePackage

Transport OSError and timeouts toward the eIM become procedures.EimUnreachable inside the
procedure, which drives back-off and profile rollback; card errors propagate as they are."""

import asyncio

from micropython import const

from ipa import apdu
from ipa.procedures import EimUnreachable

_CHUNK = const(1024)


class Runner:
    def __init__(self, channel, eim, sd=None, chunk=_CHUNK):
        self.channel = channel
        self.eim = eim
        self.sd = sd or apdu.StoreData(0)
        self.chunk = chunk
        self._stream = None

    async def es10b(self, command):
        """One ES10b command through STORE DATA blocks; the response bytes."""
        g = apdu.transact(self.sd, command)
        a = next(g)
        while True:
            outcome = await self.channel.transmit(a)
            try:
                a = g.send(outcome)
            except StopIteration as e:
                return e.value

    async def _eim_call(self, coro):
        try:
            return await coro
        except (OSError, asyncio.TimeoutError) as e:
            raise EimUnreachable(repr(e))

    async def _do(self, action):
        if "es10b" in action:
            return await self.es10b(action["es10b"])
        if "apdu" in action:
            return await self.channel.transmit(action["apdu"])
        if "esipa" in action:
            return await self._eim_call(self.eim.exchange(action["esipa"]))
        if "esipa_stream" in action:
            self._stream = await self._eim_call(self.eim.open_stream(action["esipa_stream"]))
            return await self._eim_call(self._stream.read(self.chunk))
        if "more" in action:
            return await self._eim_call(self._stream.read(self.chunk))
        raise ValueError("unknown IPAd action %r" % (list(action),))

    async def run(self, gen):
        """Drive one procedure generator to its {"done": result}; returns result."""
        action = next(gen)
        while "done" not in action:
            try:
                outcome = await self._do(action)
            except Exception as e:  # noqa: BLE001 - the procedure decides what is fatal
                action = gen.throw(e)
                continue
            action = gen.send(outcome)
        self._stream = None
        return action["done"]

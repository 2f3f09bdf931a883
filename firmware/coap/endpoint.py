"""asyncio CoAP endpoint: client and server role on one transport.

The protocol decisions live in the sans-I/O modules (message, msglayer, block, observe); this
file only moves datagrams between them and the transport and runs two tasks: a receiver and a
timer (retransmissions, empty ACKs for slow handlers, response deadlines).

    ep = Endpoint(transport, handler)        # handler(request, remote) -> Message | None | awaitable
    ep.start()
    resp = await ep.request(remote, msg, block_size=1024, body_reader=None, body_sink=None)
    ep.notify(key)                           # re-run the handler for observers of `key`
    await ep.close()

A handler raises coap.error.CoapError (or a subclass) to answer with its code; None means "no
response" (an empty ACK for CON). A response may carry `.body_reader` (read_into(offset, buf))
instead of a payload; big bodies are served block-wise (RFC 7959) either way. A response's
`.observe_key` (default: the request path) names what a GET with Observe=0 registers for; set it
to None to refuse the observation."""

from micropython import const

import asyncio
import gc

from coap import error as E
from coap import numbers as N
from coap import options as O
from coap.message import DecodeError, Message, unknown_critical
from coap.msglayer import ACKED, DUP, NEW, RESET, MessageLayer

from coap.ticks import ticks_add, ticks_diff, ticks_ms

_sleep_ms = getattr(asyncio, "sleep_ms", None) or (lambda ms: asyncio.sleep(ms / 1000))
_COLLECT = hasattr(gc, "mem_free")  # MicroPython; CPython's collector needs no help

# A slow handler gets its request acknowledged with an empty ACK after this long, before the
# client's first retransmission at ACK_TIMEOUT (RFC 7252 §5.2.2).
SEPARATE_AFTER_MS = const(1000)
# The timer task re-checks at least this often while anything is outstanding.
TIMER_TICK_MS = const(200)
# Per-message header/option room reserved when picking the largest block for a transport.
_BLOCK_OVERHEAD = const(128)
# Initial size of the send buffer.
_TX_START = const(256)
# Responses to GET/FETCH larger than this are not copied into the duplicate cache.
_CACHE_COPY_MAX = const(256)
# Back-off bounds for a transport whose recvfrom keeps failing.
_RX_PAUSE_MIN_MS = const(50)
_RX_PAUSE_MAX_MS = const(2000)
# Concurrent handler/notification tasks allowed (a bound, so a flood cannot exhaust the heap).
TASKS_MAX = const(8)


class _Exchange:
    """A request of ours waiting for its response (matched by token, RFC 7252 §5.3.2)."""

    def __init__(self, token, remote):
        self.token = token
        self.remote = remote
        self.event = asyncio.Event()
        self.response = None
        self.error = None
        self.deadline = None
        self.mid = None

    def finish(self, response=None, error=None):
        if self.response is None and self.error is None:
            self.response = response
            self.error = error
            self.event.set()


class Endpoint:
    def __init__(self, transport, handler=None, open_sink=None, max_szx=N.BLOCK_SZX_MAX,
                 log=None, rand=None, separate_timeout_ms=N.MAX_TRANSMIT_WAIT_MS,
                 ack_timeout_ms=N.ACK_TIMEOUT_MS):
        self.transport = transport
        self.handler = handler
        self.open_sink = open_sink
        self.log = log
        fit = O.size_to_szx(max(16, transport.max_datagram - _BLOCK_OVERHEAD))
        self.max_szx = min(max_szx, fit)
        self.ml = MessageLayer(rand, ack_timeout_ms=ack_timeout_ms)
        self._observers = None  # ObserveRegistry, made on the first registration (.observers)
        # Block-wise state (coap.block) is made on the first transfer that needs it: a device
        # whose messages all fit one datagram never imports that module or holds its buffer.
        self.uploads = None
        # Block2 bodies of answers to unsafe methods (POST/PUT...), served from here for the
        # follow-up block requests instead of running the handler again (RFC 7959 §2.7).
        self._held = {}
        self.separate_timeout_ms = separate_timeout_ms
        # A transport with recv_datagram() hands over each datagram as bytes (MicroPython's UDP
        # socket allocates one per recvfrom anyway): then there is no receive buffer to copy into.
        self._recv = getattr(transport, "recv_datagram", None)
        self._rx = None if self._recv is not None else bytearray(transport.max_datagram + 1)
        # The send buffer starts small (most LwM2M messages fit) and grows once, to the most a
        # message may take, on the first bigger one.
        self._tx_max = max(transport.max_datagram, O.szx_to_size(self.max_szx) + _BLOCK_OVERHEAD)
        self._tx = bytearray(min(_TX_START, self._tx_max))
        self._blockbuf = None
        self._exchanges = {}
        self._nstart = {}  # remote -> Event of the request to it in flight
        self._separate = {}  # (remote, mid) -> [deadline, acked]
        self._tasks = []
        self._spawned = []
        self._wake = asyncio.Event()
        self._closing = False
        # Optional callable(observer, reason): the endpoint dropped an observation on its own
        # (RST, CON timeout, error notification) or by Observe=1, so upper layers can forget it.
        self.on_observer_removed = None
        self.stats = {"rx": 0, "tx": 0, "retransmit": 0, "dup": 0, "bad": 0, "rst_sent": 0,
                      "errors": 0, "dropped": 0}

    @property
    def observers(self):
        """The ObserveRegistry (RFC 7641 server side), made on first use."""
        if self._observers is None:
            from coap.observe import ObserveRegistry

            self._observers = ObserveRegistry()
        return self._observers

    def drop_observers(self, remote):
        """Forget every observation `remote` holds, silently (e.g. it registered anew)."""
        if self._observers is not None:
            for obs in self._observers.all():
                if obs.remote == remote:
                    self._observers.remove(obs)

    # ---------------------------------------------------------------- lifecycle
    def start(self):
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._rx_loop()), asyncio.create_task(self._timer_loop())]
        return self

    async def close(self):
        """Stop both tasks and any handler tasks, fail open requests, close the transport."""
        self._closing = True
        for ex in list(self._exchanges.values()):
            ex.finish(error=E.RequestTimeout("endpoint closed"))
        for t in self._tasks + self._spawned:
            t.cancel()
        for t in self._tasks + self._spawned:
            try:
                await t
            except BaseException:  # noqa: B036 - CancelledError on both runtimes; cleanup only
                pass
        self._tasks = []
        self._spawned = []
        self.transport.close()

    def resolve(self, host, port):
        return self.transport.resolve(host, port)

    def _peer(self, remote):
        describe = getattr(self.transport, "describe", None)
        return describe(remote) if describe is not None else repr(remote)

    def _log(self, *args):
        if self.log:
            try:
                self.log(" ".join(str(a) for a in args))
            except Exception:  # a broken log sink (closed stdout) must not stop the endpoint
                pass

    # ---------------------------------------------------------------- sending
    def _send(self, msg, remote):
        n = msg.encoded_size()
        if n > len(self._tx):
            if n > self._tx_max:
                raise E.InternalServerError("message of %d bytes over the %d-byte buffer" % (n, self._tx_max))
            self._tx = None  # its RAM may serve the bigger one
            self._tx = bytearray(self._tx_max)
        msg.encode_into(self._tx)
        data = memoryview(self._tx)[:n]
        self.transport.sendto(data, remote)
        self.stats["tx"] += 1
        return data

    def _send_empty(self, mtype, mid, remote):
        # Empty ACK/RST: 4 bytes, built directly (RFC 7252 §4.1).
        data = bytes(((1 << 6) | (mtype << 4), 0, mid >> 8, mid & 0xFF))
        self.transport.sendto(data, remote)
        self.stats["tx"] += 1
        if mtype == N.RST:
            self.stats["rst_sent"] += 1
        return data

    def _spawn(self, coro):
        if len(self._spawned) >= TASKS_MAX:
            self.stats["dropped"] += 1
            try:
                coro.close()
            except AttributeError:
                pass
            return False
        task = asyncio.create_task(self._guard(coro))
        self._spawned.append(task)
        return True

    async def _guard(self, coro):
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.stats["errors"] += 1
            self._log("coap: task failed:", repr(e))
        finally:
            task = asyncio.current_task()
            if task in self._spawned:
                self._spawned.remove(task)

    # ---------------------------------------------------------------- receiving
    async def _rx_loop(self):
        pause = _RX_PAUSE_MIN_MS
        while not self._closing:
            try:
                if self._recv is not None:
                    buf, remote = await self._recv()
                    n = len(buf)
                else:
                    buf = self._rx
                    n, remote = await self.transport.recvfrom(buf)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # OSError from the link, MemoryError under pressure
                if self._closing:
                    return
                self.stats["errors"] += 1
                if isinstance(e, MemoryError):
                    self._shed()
                if pause == _RX_PAUSE_MIN_MS:
                    self._log("coap: recv failed:", repr(e))
                # A link that stays broken is retried ever more slowly, not spun on.
                await _sleep_ms(pause)
                pause = min(pause * 2, _RX_PAUSE_MAX_MS)
                continue
            pause = _RX_PAUSE_MIN_MS
            self.stats["rx"] += 1
            try:
                self._on_datagram(n, remote, buf)
            except Exception as e:  # a datagram must never take the endpoint down
                self.stats["errors"] += 1
                self._log("coap: dispatch failed:", repr(e))
            buf = None  # the datagram's RAM is free again while we wait for the next one
            if _COLLECT:
                # On MicroPython: collect while this request's garbage is fresh, before the
                # receive reserve is taken again, so long-lived objects and the reserve settle
                # into the holes instead of fragmenting the heap (a few ms per datagram).
                gc.collect()

    def _on_datagram(self, n, remote, buf=None):
        if buf is None:
            buf = self._rx
        limit = self.transport.max_datagram
        if n > limit:
            # Truncated by our buffer: unparsable by definition, but say why, since the peer's
            # retransmissions will end in a timeout that would otherwise look like loss.
            self.stats["bad"] += 1
            self._log("coap: datagram over %d bytes from %s dropped" % (
                limit, self._peer(remote)))
            return
        try:
            msg = Message.decode(buf, n)
        except DecodeError as e:
            self._on_bad(e, remote)
            return
        now = ticks_ms()
        kind, detail = self.ml.receive(msg, remote, now)
        if kind == ACKED:
            self._on_ack(detail, msg, now)
        elif kind == RESET:
            self._on_rst(detail)
        elif kind == DUP:
            self._on_dup(msg, remote, detail, now)
        elif kind == NEW:
            code = msg.code
            if code == N.EMPTY:
                if msg.mtype == N.CON:
                    self.ml.cache_response(remote, msg.mid, self._send_empty(N.RST, msg.mid, remote))
            elif N.is_request_code(code):
                self._on_request(msg, remote, now)
            elif N.is_response_code(code) and N.code_class(code) in (2, 4, 5):
                self._on_response(msg, remote)
            elif msg.mtype == N.CON:
                # Reserved code class: cannot be processed (RFC 7252 §4.2).
                self.ml.cache_response(remote, msg.mid, self._send_empty(N.RST, msg.mid, remote))

    def _on_bad(self, e, remote):
        """RFC 7252 §4.2/§4.3/§5.4.1: a CON we cannot parse gets RST, or 4.xx when it was a
        recognisable request; anything else unparsable is dropped silently."""
        self.stats["bad"] += 1
        if e.mtype != N.CON or e.mid is None:
            return
        if e.bad_code_hint is not None and e.token is not None:
            resp = Message(N.ACK, e.bad_code_hint, e.mid, e.token, None, e.reason.encode()[:64])
            self._send(resp, remote)
        else:
            self._send_empty(N.RST, e.mid, remote)

    def _on_dup(self, msg, remote, cached, now):
        self.stats["dup"] += 1
        if msg.mtype != N.CON:
            return
        if cached is not None:
            self.transport.sendto(cached, remote)
            self.stats["tx"] += 1
        elif (remote, msg.mid) in self._separate:
            return  # still being handled; the timer sends the empty ACK
        elif msg.code in (N.GET, N.FETCH):
            # Its response was too big to keep; a safe method may simply be answered again.
            self._on_request(msg, remote, now)

    # ---------------------------------------------------------------- client side
    def _on_ack(self, pending, msg, now):
        ctx = pending.ctx
        if isinstance(ctx, _Exchange):
            if msg.code == N.EMPTY:
                ctx.mid = None
                ctx.deadline = ticks_add(now, self.separate_timeout_ms)
                self._wake.set()
            elif msg.token == ctx.token:
                crit = unknown_critical(msg)
                if crit is None:
                    ctx.finish(msg)
                else:
                    self.stats["bad"] += 1
                    ctx.finish(error=E.ResponseError(msg, "unrecognized critical option %d" % crit))
            else:
                # Piggybacked answer with a foreign token: not ours; a real one may follow.
                ctx.mid = None
                ctx.deadline = ticks_add(now, self.separate_timeout_ms)
                self._wake.set()
        elif ctx is not None:
            self.observers.acked(ctx, now)

    def _on_rst(self, pending):
        ctx = pending.ctx
        if isinstance(ctx, _Exchange):
            ctx.finish(error=E.ResetReceived("RST to MID %d" % pending.mid))
        elif ctx is not None:
            self._log("coap: observer", self._peer(ctx.remote), ctx.key, "reset")
            self._drop_observer(ctx, "reset")

    def _on_response(self, msg, remote):
        ex = self._exchanges.get(msg.token)
        if unknown_critical(msg) is not None:
            # RFC 7252 §5.4.1: such a response is rejected, never handed to the requester.
            self.stats["bad"] += 1
            if msg.mtype == N.CON:
                self.ml.cache_response(remote, msg.mid, self._send_empty(N.RST, msg.mid, remote))
            return
        if msg.mtype == N.CON:
            # Separate response: acknowledge it; one nobody waits for is rejected (§5.3.2).
            kind = N.ACK if ex is not None else N.RST
            self.ml.cache_response(remote, msg.mid, self._send_empty(kind, msg.mid, remote))
        if ex is not None:
            ex.finish(msg)

    async def _exchange(self, remote, msg):
        tx = self.stats["tx"]
        try:
            return await self._exchange_nstart(remote, msg)
        except MemoryError:
            # Out of memory before anything left the endpoint (a frame, an Event, the
            # book-keeping): shed, collect and try once more. If a datagram went out meanwhile
            # it may have been this request, and a request is never sent twice from here.
            if self.stats["tx"] != tx or self._closing:
                raise
            self._shed()
            return await self._exchange_nstart(remote, msg)

    async def _exchange_nstart(self, remote, msg):
        # NSTART = 1 (RFC 7252 §4.7): one outstanding request per peer; later ones wait for the
        # Event of the one in flight (set when it ends; waiters wake in the order they came).
        # An Event and not asyncio.Lock: that module would be loaded for this one use.
        while True:
            busy = self._nstart.get(remote)
            if busy is None:
                break
            await busy.wait()
        done = self._nstart[remote] = asyncio.Event()
        try:
            return await self._exchange1(remote, msg)
        finally:
            del self._nstart[remote]
            done.set()

    async def _exchange1(self, remote, msg):
        if self._closing:
            raise E.RequestTimeout("endpoint closed")
        if not msg.token:
            msg.token = self.ml.new_token()
            while msg.token in self._exchanges:
                msg.token = self.ml.new_token()
        ex = _Exchange(msg.token, remote)
        self._exchanges[msg.token] = ex
        msg.mid = self.ml.next_mid()
        try:
            now = ticks_ms()
            data = self._send(msg, remote)
            if msg.mtype == N.CON:
                self.ml.track_con(msg.mid, remote, bytes(data), ex, now)
                ex.mid = msg.mid
            else:
                ex.deadline = ticks_add(now, N.MAX_TRANSMIT_WAIT_MS)
            self._wake.set()
            await ex.event.wait()
            if ex.error is not None:
                raise ex.error
            return ex.response
        finally:
            self._exchanges.pop(msg.token, None)
            if ex.mid is not None:
                self.ml.cancel(ex.mid)

    async def request(self, remote, msg, block_size=1024, body_reader=None, body_sink=None,
                      max_body=None):
        """Send `msg` (a request) to `remote` and return the final response Message.

        Bodies bigger than one block go out with Block1 from `body_reader` (or msg.payload);
        a Block2 response is fetched to the end into `body_sink`, or, without one, assembled
        into the returned response's payload up to `max_body` bytes. Raises RequestTimeout,
        ResetReceived, or ResponseError (an error response in the middle of a transfer)."""
        szx = O.size_to_szx(min(block_size, O.szx_to_size(self.max_szx)))
        if body_reader is None and len(msg.payload) > O.szx_to_size(szx):
            body_reader = _block().BytesReader(msg.payload)
        if body_reader is not None:
            B = _block()
            sender = B.Block1Sender(body_reader, szx, bytearray(O.szx_to_size(szx) + 1))
            while True:
                sender.next_block(msg)
                msg.token = b""
                resp = await self._exchange(remote, msg)
                if not sender.on_response(resp):
                    break
            msg.remove_option(N.BLOCK1)
            msg.remove_option(N.SIZE1)
            msg.payload = b""
        else:
            if szx < N.BLOCK_SZX_MAX and msg.code in (N.GET, N.FETCH) and msg.opt(N.BLOCK2) is None:
                # Early negotiation (RFC 7959 §2.4): a server would otherwise pick its own size,
                # which may not fit a small-datagram transport (socket over AT) or our buffers.
                msg.set_option(N.BLOCK2, O.block_encode(0, False, szx))
            resp = await self._exchange(remote, msg)
        if resp.opt(N.BLOCK2) is not None and N.code_class(resp.code) == 2:
            B = _block()
            sink = body_sink
            if sink is None:
                sink = B.BufferSink(B.ASSEMBLE_MAX if max_body is None else max_body)
            rcv = B.Block2Receiver(sink)
            rcv.on_response(resp)
            msg.remove_option(N.OBSERVE)  # later blocks are plain GETs (RFC 7959 §3.4)
            if msg.code not in (N.GET, N.FETCH):
                # Unsafe methods ask for the rest with Block2 alone, no body (RFC 7959 §2.7).
                msg.payload = b""
                msg.remove_option(N.BLOCK1)
                msg.remove_option(N.SIZE1)
            while not rcv.done:
                msg.set_option(N.BLOCK2, rcv.next_option())
                msg.token = b""
                part = await self._exchange(remote, msg)
                if N.code_class(part.code) != 2:
                    raise E.ResponseError(part, "Block2 at offset %d" % rcv.offset)
                rcv.on_response(part)
            resp.payload = bytes(sink.data) if body_sink is None else b""
            resp.body_size = rcv.offset
        elif body_sink is not None:
            if resp.payload:
                body_sink.write(0, resp.payload)
            resp.body_size = len(resp.payload)
            resp.payload = b""
        return resp

    # ---------------------------------------------------------------- server side
    def _on_request(self, req, remote, now):
        b1 = None
        try:
            crit = unknown_critical(req)
            if crit is not None:
                if req.mtype != N.CON:
                    self.stats["bad"] += 1
                    return  # a NON is rejected, i.e. ignored, not answered (RFC 7252 §5.4.1)
                raise E.BadOption("unrecognized critical option %d" % crit)
            if req.opt(N.BLOCK1) is not None:
                B = _block()
                if self.uploads is None:
                    self.uploads = B.UploadTable(self.max_szx)
                done, up, b1, _ = self.uploads.block((remote, req.path_str()), req,
                                                      lambda: self._sink_for(req, remote), now)
                if not done:
                    self._reply(req, remote, Message(code=N.CONTINUE, options=[(N.BLOCK1, b1)]))
                    return
                if isinstance(up.sink, B.BufferSink):
                    req.payload = bytes(up.sink.data)
                else:
                    req.payload = b""
                    req.body_sink = up.sink
                req.body_size = up.next
            held = self._held_response(req, remote, now)
            if held is not None:
                self._complete(req, remote, held, None)
                return
            if self.handler is None:
                raise E.NotFound()
            result = self._run_handler(req, remote)
            if hasattr(result, "send"):  # coroutine (CPython) or generator (MicroPython)
                if req.mtype == N.CON:
                    self._separate[(remote, req.mid)] = [ticks_add(now, SEPARATE_AFTER_MS), False]
                    self._wake.set()
                if not self._spawn(self._finish_async(req, remote, result, b1)):
                    self._separate.pop((remote, req.mid), None)
                    raise E.ServiceUnavailable("busy")
                return
            self._complete(req, remote, result, b1)
        except Exception as e:
            self._reply(req, remote, self._error_response(e))

    def _run_handler(self, req, remote):
        try:
            return self.handler(req, remote)
        except MemoryError:
            # A small heap is mostly fragmented, not full: a read (safe to run twice) that found
            # no room gets the transport's reserve back, after a collection, and one more try.
            # The reserve is retaken before the next datagram.
            free = getattr(self.transport, "release_reserve", None)
            if free is None or req.code not in (N.GET, N.FETCH):
                raise
            free()
            self._shed()
            return self.handler(req, remote)

    def _shed(self):
        # Out of memory: what the endpoint holds only to save work goes first.
        self.ml.shed()
        self._held.clear()
        gc.collect()

    def _sink_for(self, req, remote):
        sink = self.open_sink(req, remote) if self.open_sink is not None else None
        return sink if sink is not None else _block().BufferSink()

    async def _finish_async(self, req, remote, coro, b1):
        try:
            result = await coro
            self._complete(req, remote, result, b1)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._reply(req, remote, self._error_response(e))

    def _error_response(self, e):
        if isinstance(e, E.CoapError):
            code = e.code
        else:
            self.stats["errors"] += 1
            self._log("coap: handler failed:", repr(e))
            code = N.INTERNAL_SERVER_ERROR
        diag = getattr(e, "message", "") or ""
        return Message(code=code, payload=diag.encode()[:64])

    def _complete(self, req, remote, resp, b1):
        try:
            if resp is not None:
                if b1 is not None:
                    resp.set_option(N.BLOCK1, b1)
                if req.code in (N.GET, N.FETCH):  # FETCH: RFC 8132 §2.4, LwM2M Observe-Composite
                    self._observe_request(req, remote, resp)
                self._blockwise(req, resp, remote)
        except Exception as e:
            resp = self._error_response(e)
        self._reply(req, remote, resp)

    def _observe_request(self, req, remote, resp):
        ob = req.opt(N.OBSERVE)
        if ob == 1:
            obs = self._observers.find(remote, req.token) if self._observers is not None else None
            if obs is not None:
                self._log("coap: observer", self._peer(remote), obs.key, "deregistered")
                self._drop_observer(obs, "deregistered")
            resp.remove_option(N.OBSERVE)
        elif ob == 0 and resp.code == N.CONTENT and not _block_num(req):
            key = getattr(resp, "observe_key", req.path_str())
            obs = None
            if key is not None:
                obs = self.observers.register(remote, req.token, key, req, ticks_ms())
                # Later handler runs for this request build notifications; say so.
                req.is_notification = True
                self._log("coap: observer", self._peer(remote), key,
                          "registered" if obs else "refused (registry full)")
            resp.set_option(N.OBSERVE, self.observers.next_seq(obs) if obs else None)
        else:
            resp.remove_option(N.OBSERVE)

    def _held_response(self, req, remote, now):
        if not self._held or req.code in (N.GET, N.FETCH) or not _block_num(req) or req.opt(N.BLOCK1) is not None:
            return None
        ent = self._held.get((remote, req.path_str()))
        if ent is None or ticks_diff(now, ent[0]) > _block().UPLOAD_IDLE_MS:
            return None
        code, opts, reader = ent[1], ent[2], ent[3]
        resp = Message(code=code, options=list(opts))
        resp.body_reader = reader
        return resp

    def _hold(self, req, remote, resp, reader):
        key = (remote, req.path_str())
        more = resp.opt(N.BLOCK2, 0) & 8
        if not more:
            self._held.pop(key, None)
            return
        if key not in self._held and len(self._held) >= _block().UPLOADS_MAX:
            self._held.pop(next(iter(self._held)))
        opts = [o for o in resp.options if o[0] not in (N.BLOCK1, N.BLOCK2, N.SIZE2)]
        self._held[key] = (ticks_ms(), resp.code, opts, reader)

    def _blockwise(self, req, resp, remote=None):
        reader = getattr(resp, "body_reader", None)
        if reader is None:
            n = len(resp.payload)
            if n <= O.szx_to_size(self.max_szx) and req.opt(N.BLOCK2) is None:
                return
        if N.code_class(resp.code) != 2:
            return
        B = _block()
        if reader is None:
            reader = B.BytesReader(resp.payload)
        if self._blockbuf is None:
            self._blockbuf = bytearray(O.szx_to_size(self.max_szx) + 1)
        params = B.block2_params(req, getattr(reader, "size", None), self.max_szx)
        if params is not None:
            B.serve_block2(resp, reader, params[0], params[1], self._blockbuf)
            if req.code not in (N.GET, N.FETCH):
                self._hold(req, remote, resp, reader)
        else:
            B.serve_block2(resp, reader, 0, self.max_szx, self._blockbuf)
            resp.remove_option(N.BLOCK2)

    def _reply(self, req, remote, resp):
        sep = self._separate.pop((remote, req.mid), None)
        if resp is None:
            if req.mtype == N.CON and not (sep and sep[1]):
                self.ml.cache_response(remote, req.mid, self._send_empty(N.ACK, req.mid, remote))
            return
        resp.token = req.token
        if req.mtype == N.CON and not (sep and sep[1]):
            resp.mtype = N.ACK
            resp.mid = req.mid
            data = self._send(resp, remote)
            if len(data) <= _CACHE_COPY_MAX or req.code not in (N.GET, N.FETCH):
                # Big answers to safe methods are recomputed on a duplicate instead (§4.5).
                self.ml.cache_response(remote, req.mid, bytes(data))
        elif req.mtype == N.CON:
            # Already acknowledged empty: the response goes as its own CON (RFC 7252 §5.2.2).
            resp.mtype = N.CON
            resp.mid = self.ml.next_mid()
            data = self._send(resp, remote)
            self.ml.track_con(resp.mid, remote, bytes(data), None, ticks_ms())
            self._wake.set()
        else:
            resp.mtype = N.NON
            resp.mid = self.ml.next_mid()
            self._send(resp, remote)

    # ---------------------------------------------------------------- observe (server)
    def _drop_observer(self, obs, why):
        self.observers.remove(obs)
        if self.on_observer_removed is not None:
            try:
                self.on_observer_removed(obs, why)
            except Exception as e:
                self._log("coap: on_observer_removed failed:", repr(e))

    def notify(self, key, con=False):
        """Send a notification to every observer of `key` (RFC 7641 §4.2). Notifications are NON
        unless `con` is True, the observer has not confirmed one for 24 h (§4.5), or the
        previous CON is still unacknowledged. Returns the number of observers notified."""
        if self._observers is None:
            return 0
        now = ticks_ms()
        count = 0
        for obs in self._observers.for_key(key):
            count += 1
            try:
                result = self._run_handler(obs.request, obs.remote)
                if hasattr(result, "send"):
                    self._spawn(self._notify_async(obs, result, con))
                else:
                    self._send_notification(obs, result, now, con)
            except Exception as e:
                self._send_notification(obs, self._error_response(e), now, con)
        return count

    async def _notify_async(self, obs, coro, con):
        try:
            resp = await coro
        except asyncio.CancelledError:
            raise
        except Exception as e:
            resp = self._error_response(e)
        self._send_notification(obs, resp, ticks_ms(), con)

    def _send_notification(self, obs, resp, now, con):
        if resp is None or self.observers.find(obs.remote, obs.token) is not obs:
            return
        resp.token = obs.token
        if resp.code != N.CONTENT:
            # A non-2.05 notification ends the observation (RFC 7641 §3.2, §4.2).
            self._drop_observer(obs, "error %s" % N.code_str(resp.code))
            resp.remove_option(N.OBSERVE)
        else:
            resp.set_option(N.OBSERVE, self.observers.next_seq(obs))
            req = obs.request
            req.remove_option(N.BLOCK2)
            try:
                self._blockwise(req, resp)  # first block only (RFC 7959 §3.4)
            except Exception as e:
                resp = self._error_response(e)
                resp.token = obs.token
        con = con or self.observers.wants_con(obs, now) or resp.code != N.CONTENT
        if obs.pending_mid is not None and self.ml.cancel(obs.pending_mid) is not None:
            con = True  # the previous CON is superseded by this one (RFC 7641 §4.5.2)
        resp.mtype = N.CON if con else N.NON
        resp.mid = self.ml.next_mid()
        data = self._send(resp, obs.remote)
        if con:
            self.ml.track_con(resp.mid, obs.remote, bytes(data), obs, now)
            self._wake.set()
        else:
            self.ml.track_non(resp.mid, obs)
        obs.pending_mid = resp.mid

    # ---------------------------------------------------------------- timers
    async def _timer_loop(self):
        while not self._closing:
            try:
                self._on_timers(ticks_ms())
            except Exception as e:
                self.stats["errors"] += 1
                self._log("coap: timer step failed:", repr(e))
            nxt = self._next_deadline()
            if nxt is None:
                self._wake.clear()
                await self._wake.wait()
            else:
                self._wake.clear()
                await _sleep_ms(max(1, min(ticks_diff(nxt, ticks_ms()), TIMER_TICK_MS)))

    def _on_timers(self, now):
        resend, failed = self.ml.poll(now)
        for p in resend:
            self.transport.sendto(p.data, p.remote)
            self.stats["tx"] += 1
            self.stats["retransmit"] += 1
            self._log("coap: retransmit MID %d #%d, next wait %d ms" % (p.mid, p.retries, p.timeout))
        for p in failed:
            ctx = p.ctx
            if isinstance(ctx, _Exchange):
                ctx.finish(error=E.RequestTimeout("no ACK for MID %d after %d retransmissions"
                                                  % (p.mid, N.MAX_RETRANSMIT)))
            elif ctx is not None:
                self._log("coap: observer", ctx.key, "timed out")
                self._drop_observer(ctx, "timeout")
        for key, ent in self._separate.items():
            if not ent[1] and ticks_diff(now, ent[0]) >= 0:
                ent[1] = True
                self.ml.cache_response(key[0], key[1], self._send_empty(N.ACK, key[1], key[0]))
        for ex in self._exchanges.values():
            if ex.deadline is not None and ticks_diff(now, ex.deadline) >= 0:
                ex.finish(error=E.RequestTimeout("no response for token %s" % ex.token.hex()))
        if self.uploads is not None:
            self.uploads.expire(now)

    def _next_deadline(self):
        nxt = self.ml.next_deadline()
        for ent in self._separate.values():
            if not ent[1] and (nxt is None or ticks_diff(ent[0], nxt) < 0):
                nxt = ent[0]
        for ex in self._exchanges.values():
            if ex.deadline is not None and (nxt is None or ticks_diff(ex.deadline, nxt) < 0):
                nxt = ex.deadline
        if nxt is None and self.uploads is not None and len(self.uploads):
            nxt = ticks_add(ticks_ms(), 1000)
        return nxt


def _block_num(req):
    opt = req.opt(N.BLOCK2)
    return (opt >> 4) if opt is not None else 0


def _block():
    from coap import block

    return block

"""CoAP message layer (RFC 7252 §4): message IDs, tokens, CON retransmission with exponential
back-off, ACK/RST matching and duplicate detection with a bounded response cache.

Sans-I/O: time comes in as `now` (ms, ticks domain), nothing is sent here; the caller gets back
what to (re)transmit. Remotes are opaque hashable values chosen by the transport."""

from collections import OrderedDict

from micropython import const

from coap import numbers as N

from coap.ticks import ticks_add, ticks_diff

import os as _os

try:
    import random as _random

    def _default_rand(n):
        return _random.getrandbits(16) % n
except ImportError:  # every supported port has random; urandom is the fallback
    def _default_rand(n):
        return int.from_bytes(_os.urandom(2), "big") % n

# Budgets for the duplicate-detection cache: a duplicate is nearly always of one of the last few
# exchanges, and big block responses are recomputed instead of kept (RFC 7252 §4.5 allows that
# for idempotent requests), so the cache cannot grow with a transfer.
DEDUP_ENTRIES = const(8)
DEDUP_BYTES = const(2048)

# What receive() tells the caller about an incoming message.
NEW = const(0)  # first time seen: process it
DUP = const(1)  # duplicate: resend `cached` if not None, else (idempotent) recompute or ignore
ACKED = const(2)  # an ACK matched one of our CONs (`pending` returned)
RESET = const(3)  # an RST matched one of our CONs or NONs
STRAY = const(4)  # ACK/RST that matches nothing we sent: ignore (RFC 7252 §4.2)


class Pending:
    """One CON of ours awaiting ACK/RST; `ctx` is the caller's (an exchange or an observer)."""

    def __init__(self, mid, remote, data, ctx, now, timeout):
        self.mid = mid
        self.remote = remote
        self.data = data
        self.ctx = ctx
        self.timeout = timeout
        self.deadline = ticks_add(now, timeout)
        self.retries = 0


class MessageLayer:
    def __init__(self, rand=None, dedup_entries=DEDUP_ENTRIES, dedup_bytes=DEDUP_BYTES,
                 ack_timeout_ms=N.ACK_TIMEOUT_MS):
        self._rand = rand or _default_rand
        # RFC 7252 §4.8.1 lets a deployment raise ACK_TIMEOUT (slow NB-IoT links); the
        # default comes from numbers.py, the one place the parameters live.
        self.ack_timeout_ms = ack_timeout_ms
        self._mid = self._rand(0x10000)
        self._tok = (self._rand(0x10000) << 16) | self._rand(0x10000)
        self.pending = {}  # mid -> Pending (our CONs)
        self._non_ctx = {}  # mid -> ctx, for RST answers to our recent NONs (observe)
        self._non_order = []
        # (remote, mid) -> [expiry, response bytes or None]; insertion order = age
        self._seen = OrderedDict()  # MicroPython's plain dict does not keep insertion order
        self._seen_bytes = 0
        self._dedup_entries = dedup_entries
        self._dedup_bytes = dedup_bytes

    # --- identifiers ---
    def next_mid(self):
        self._mid = (self._mid + 1) & 0xFFFF
        return self._mid

    def new_token(self):
        # 4 random bytes: without DTLS an off-path attacker must guess them to spoof a response
        # (RFC 7252 §5.3.1); the endpoint re-draws on the rare clash with an open exchange.
        try:
            return _os.urandom(4)
        except (AttributeError, OSError):  # a port without a hardware RNG behind urandom
            self._tok = (self._tok + 0x9E3779B1) & 0xFFFFFFFF
            return self._tok.to_bytes(4, "big")

    # --- our CONs ---
    def initial_timeout(self):
        # Random in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR] (RFC 7252 §4.2).
        base = self.ack_timeout_ms
        span = base * (N.ACK_RANDOM_FACTOR_NUM - N.ACK_RANDOM_FACTOR_DEN) // N.ACK_RANDOM_FACTOR_DEN
        return base + self._rand(min(span + 1, 0xFFFF))

    def track_con(self, mid, remote, data, ctx, now):
        p = Pending(mid, remote, data, ctx, now, self.initial_timeout())
        self.pending[mid] = p
        return p

    def cancel(self, mid):
        return self.pending.pop(mid, None)

    def track_non(self, mid, ctx):
        """Remember a NON we sent so an RST to it can be matched (bounded, newest kept)."""
        self._non_ctx[mid] = ctx
        self._non_order.append(mid)
        if len(self._non_order) > 8:
            self._non_ctx.pop(self._non_order.pop(0), None)

    def next_deadline(self):
        best = None
        for p in self.pending.values():
            if best is None or ticks_diff(p.deadline, best) < 0:
                best = p.deadline
        return best

    def poll(self, now):
        """Due retransmissions and give-ups: -> (list of Pending to resend, list given up)."""
        resend, failed = [], []
        for mid in list(self.pending):
            p = self.pending[mid]
            if ticks_diff(now, p.deadline) < 0:
                continue
            if p.retries >= N.MAX_RETRANSMIT:
                del self.pending[mid]
                failed.append(p)
            else:
                # Exponential back-off: the wait doubles after each retransmission.
                p.retries += 1
                p.timeout *= 2
                p.deadline = ticks_add(now, p.timeout)
                resend.append(p)
        return resend, failed

    # --- incoming ---
    def receive(self, msg, remote, now):
        """Classify an incoming decoded message -> (kind, detail)."""
        mt = msg.mtype
        if mt == N.ACK or mt == N.RST:
            p = self.pending.pop(msg.mid, None)
            if p is not None:
                return (ACKED if mt == N.ACK else RESET), p
            if mt == N.RST:
                ctx = self._non_ctx.pop(msg.mid, None)
                if ctx is not None:
                    return RESET, Pending(msg.mid, remote, None, ctx, now, 0)
            return STRAY, None
        key = (remote, msg.mid)
        ent = self._seen.get(key)
        if ent is not None and ticks_diff(ent[0], now) > 0:
            return DUP, ent[1]
        self._expire(now)
        life = N.EXCHANGE_LIFETIME_MS if mt == N.CON else N.NON_LIFETIME_MS
        self._seen[key] = [ticks_add(now, life), None]
        self._trim()
        return NEW, None

    def cache_response(self, remote, mid, data):
        """Keep `data` as the answer to resend for duplicates of (remote, mid), within budget."""
        ent = self._seen.get((remote, mid))
        if ent is None or data is None:
            return
        if ent[1] is not None:
            self._seen_bytes -= len(ent[1])
            ent[1] = None
        if len(data) <= self._dedup_bytes:
            ent[1] = data
            self._seen_bytes += len(data)
            self._trim()

    def _trim(self):
        seen = self._seen
        while seen and (len(seen) > self._dedup_entries or self._seen_bytes > self._dedup_bytes):
            key = next(iter(seen))
            ent = seen.pop(key)
            if ent[1] is not None:
                self._seen_bytes -= len(ent[1])

    def _expire(self, now):
        seen = self._seen
        while seen:
            key = next(iter(seen))
            ent = seen[key]
            if ticks_diff(ent[0], now) > 0:
                break
            seen.pop(key)
            if ent[1] is not None:
                self._seen_bytes -= len(ent[1])

    def shed(self):
        """Drop the cached response bytes (memory pressure): duplicates are still recognised,
        but a duplicate CON is then answered again (GET/FETCH) or left to time out."""
        for ent in self._seen.values():
            ent[1] = None
        self._seen_bytes = 0

    def dedup_size(self):
        return len(self._seen), self._seen_bytes

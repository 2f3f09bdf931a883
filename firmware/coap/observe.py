"""Server side of RFC 7641 (Observe): who observes what, sequence numbers, CON-or-NON choice.
Sans-I/O: the endpoint sends; this module only keeps the books."""

from micropython import const

from coap import numbers as N

from coap.ticks import ticks_diff

OBSERVERS_MAX = const(8)


class Observer:
    def __init__(self, remote, token, key, request, now):
        self.remote = remote
        self.token = token
        self.key = key
        # The registering GET (options only): notifications re-run the handler with it.
        self.request = request
        self.seq = 0
        self.last_con = now  # the registration's own exchange proves the client was there
        self.pending_mid = None  # MID of our notification awaiting ACK (CON) or possibly RST (NON)


class ObserveRegistry:
    def __init__(self, limit=OBSERVERS_MAX, con_interval_ms=N.OBSERVE_CON_INTERVAL_MS):
        self.limit = limit
        self.con_interval_ms = con_interval_ms
        self._obs = []

    def register(self, remote, token, key, request, now):
        """Add (or, for the same remote and token, replace: RFC 7641 §4.1) an observer.
        Returns None when the registry is full (the GET is then served without Observe)."""
        old = self.find(remote, token)
        if old is not None:
            self._obs.remove(old)
        elif len(self._obs) >= self.limit:
            return None
        if request.code != N.FETCH:
            request.payload = b""  # a FETCH body selects what is observed; a GET's is unused
        obs = Observer(remote, token, key, request, now)
        self._obs.append(obs)
        return obs

    def find(self, remote, token):
        for o in self._obs:
            if o.token == token and o.remote == remote:
                return o
        return None

    def deregister(self, remote, token):
        """GET with Observe=1 (RFC 7641 §3.6)."""
        o = self.find(remote, token)
        if o is not None:
            self._obs.remove(o)
        return o

    def remove(self, obs):
        if obs in self._obs:
            self._obs.remove(obs)

    def for_key(self, key):
        return [o for o in self._obs if o.key == key]

    def all(self):
        return list(self._obs)

    def next_seq(self, obs):
        # 24-bit wrap-around; clients compare in a 2**23 window (RFC 7641 §4.4).
        obs.seq = (obs.seq + 1) % N.OBSERVE_SEQ_MODULO
        return obs.seq

    def wants_con(self, obs, now):
        """A CON notification is due when none was acknowledged for con_interval (RFC 7641 §4.5)."""
        return ticks_diff(now, obs.last_con) >= self.con_interval_ms

    def acked(self, obs, now):
        obs.last_con = now
        obs.pending_mid = None

    def __len__(self):
        return len(self._obs)

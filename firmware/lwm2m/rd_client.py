"""LwM2M 1.1 registration client state machine (OMA-TS-LightweightM2M_Core-V1_1 §6.2, §6.4), sans-I/O.

One RdClient per LwM2M server account. It never touches a socket: the runner asks `step(now)` for the
next request to send (an RdRequest: CoAP method, Uri-Path, Uri-Query, link-format payload), sends it,
and reports the outcome with `on_response(now, code, location)` or `on_failure(now, reason)`.
`next_time(now)` says when `step` has something to do again (ms ticks; None = nothing scheduled).

Timing rules implemented:
- Initial Registration Delay Timer (/1/x/14) before the first Register.
- Update before the lifetime runs out, early enough for a whole CoAP retransmission sequence
  (MAX_TRANSMIT_WAIT) to fit, and never later than 90 % of the lifetime.
- Update on request (/1/x/8 Registration Update Trigger), on lifetime/binding changes (only the
  changed parameters are sent) and on object/instance changes (the link payload is sent).
- Failed Register: Communication Retry Count/Timer (/1/x/17, /1/x/18, exponential back-off
  timer * 2**(attempt-1)), then Sequence Delay Timer / Sequence Retry Count (/1/x/19, /1/x/20);
  when all sequences fail (or the server explicitly rejects with 4.xx) and Bootstrap on
  Registration Failure (/1/x/16) is true the client asks for a bootstrap (state S_BOOTSTRAP).
- Update rejected with 4.04 (server forgot us) or failed: register again.

Times are ms from `time.ticks_ms()` (or a fake clock); all arithmetic uses ticks_diff/ticks_add.
"""

from micropython import const

from coap.numbers import (
    CHANGED, CREATED, DELETE, DELETED, FMT_LINK_FORMAT, MAX_TRANSMIT_WAIT_MS, POST, code_str)

from hal.clock import default as _clock

# Explicit state names, in the order a healthy registration passes through them.
S_INIT = "init"  # waiting for the initial registration delay
S_REGISTER = "register"  # a Register is due now
S_REGISTER_SENT = "register-sent"
S_REGISTERED = "registered"
S_UPDATE_SENT = "update-sent"
S_BACKOFF = "backoff"  # a Register attempt failed; waiting to retry
S_DEREGISTER_DUE = "deregister-due"
S_DEREGISTER_SENT = "deregister-sent"
S_DEREGISTERED = "deregistered"
S_FAILED = "failed"  # every communication sequence failed; nothing more is tried
S_BOOTSTRAP = "bootstrap"  # registration failed and /1/x/16 asks for a bootstrap

# OMA-TS Core 1.1 §6.2.1.1 defaults for /1/x/17..20.
_DEF_RETRY_COUNT = const(5)
_DEF_RETRY_TIMER_S = const(60)
_DEF_SEQ_DELAY_S = const(86400)
_DEF_SEQ_COUNT = const(1)
# "MAX_VALUE means do not perform another communication sequence" (/1/x/19); unsigned 32 bit.
SEQ_DELAY_NEVER = 0xFFFFFFFF

# Longest delay scheduled at once: MicroPython's ticks_add accepts less than half the ticks
# period (2**29 ms); a longer wait is simply re-scheduled when it ends (~74 h).
MAX_DELAY_MS = const(0x0FFFFFFF)

# Update no later than 90 % of the lifetime, and earlier when the lifetime is short so that a
# full CoAP retransmission sequence still ends inside it.
_UPDATE_MARGIN_MIN_PCT = const(10)

# Security (/0) and Server (/1) resources that make an account.
_OID_SEC = const(0)
_OID_SRV = const(1)
_SEC_URI = const(0)
_SEC_BOOTSTRAP = const(1)
_SEC_MODE = const(2)
_SEC_SSID = const(10)
_SRV_SSID = const(0)
MODE_NOSEC = 3

# Codes that mean "the server rejected this registration" (§6.2.1: 4.00, 4.03, 4.12 ...).
_CLASS_CLIENT_ERROR = const(4)


class RetryPolicy:
    """Communication Retry Count/Timer and Sequence Delay/Retry Count of one server account."""

    def __init__(self, count=_DEF_RETRY_COUNT, timer_s=_DEF_RETRY_TIMER_S,
                 seq_delay_s=_DEF_SEQ_DELAY_S, seq_count=_DEF_SEQ_COUNT):
        self.count = max(1, count)
        self.timer_s = timer_s
        self.seq_delay_s = seq_delay_s
        self.seq_count = max(1, seq_count)

    def attempt_delay_ms(self, attempt):
        """Wait after failed attempt number `attempt` (1-based) of a sequence."""
        return min(self.timer_s * 1000 * (1 << (attempt - 1)), MAX_DELAY_MS)


class RdRequest:
    """One registration-interface request: what the runner turns into a CoAP message."""

    def __init__(self, kind, method, path, query, payload=b"", content_format=None):
        self.kind = kind  # "register" / "update" / "deregister"
        self.method = method
        self.path = path  # list of Uri-Path segments
        self.query = query  # list of Uri-Query strings
        self.payload = payload
        self.content_format = content_format

    def __repr__(self):
        return "RdRequest(%s /%s?%s %dB)" % (self.kind, "/".join(self.path), "&".join(self.query),
                                            len(self.payload))


class RdClient:
    """Registration state machine for one LwM2M server account.

    links: callable returning the link-format bytes for Register/Update (</1/0>,</3/0>,...).
    on_event: optional callable(event, detail) for logging ("registered", "update", ...).
    queue: True for queue mode (LwM2M 1.1 sends b=U plus the `Q` parameter; legacy_queue=True
    sends the 1.0 style b=UQ instead).
    """

    def __init__(self, endpoint, lifetime, links, binding="U", queue=False, version="1.1",
                 retry=None, initial_delay_s=0, bootstrap_on_failure=True, on_event=None,
                 legacy_queue=False, rd_path="rd"):
        self.endpoint = endpoint
        self.lifetime = lifetime
        self.binding = binding
        self.queue = queue
        self.version = version
        self.links = links
        self.retry = retry or RetryPolicy()
        self.initial_delay_s = initial_delay_s
        self.bootstrap_on_failure = bootstrap_on_failure
        self.on_event = on_event
        self.legacy_queue = legacy_queue
        self.rd_path = rd_path
        self.state = S_INIT
        self.location = None  # list of Location-Path segments from the 2.01
        self._due = None  # ticks when the next step is due
        self.registered_at = None
        self._attempt = 0
        self._sequence = 0
        # What the next Update must carry (only changed parameters are sent).
        self._upd_lt = False
        self._upd_b = False
        self._upd_links = False
        self._upd_wanted = False
        self.rejected_code = None

    # --- inputs from the rest of the client ------------------------------------------------------

    def start(self, now):
        self._attempt = 0
        self._sequence = 0
        self._set(S_INIT, _clock.ticks_add(now, self.initial_delay_s * 1000))

    def resume(self, location, now):
        """Continue a registration that survived a reset: an Update (with lifetime and links,
        which may differ after the reset) goes out first; a 4.04 answer registers anew."""
        self.location = list(location)
        self._attempt = 0
        self._sequence = 0
        self._upd_wanted = self._upd_lt = self._upd_links = True
        self._set(S_REGISTERED, now)

    def trigger_update(self, now, links=False):
        """/1/x/8 executed, or a wake-up in queue mode: send an Update as soon as possible."""
        self._upd_wanted = True
        if links:
            self._upd_links = True
        if self.state == S_REGISTERED:
            self._due = now

    def links_changed(self, now):
        """An object or object instance was created or deleted: Update with the new link payload."""
        self.trigger_update(now, links=True)

    def set_lifetime(self, lifetime, now):
        if lifetime != self.lifetime:
            self.lifetime = lifetime
            self._upd_lt = True
            self.trigger_update(now)

    def set_binding(self, binding, queue, now):
        if binding != self.binding or queue != self.queue:
            self.binding = binding
            self.queue = queue
            self._upd_b = True
            self.trigger_update(now)

    def deregister(self, now):
        """Send De-register next (only meaningful while registered)."""
        if self.location is not None and self.state in (S_REGISTERED, S_UPDATE_SENT):
            self._set(S_DEREGISTER_DUE, now)
        else:
            self._set(S_DEREGISTERED, None)

    def reregister(self, now):
        """Forget the registration and register again right away (e.g. after a new bootstrap)."""
        self.location = None
        self._attempt = 0
        self._sequence = 0
        self._set(S_REGISTER, now)

    # --- the step function -------------------------------------------------------------------

    def next_time(self, now):
        return self._due

    def is_registered(self):
        return self.state in (S_REGISTERED, S_UPDATE_SENT)

    def step(self, now):
        """Return the RdRequest to send now, or None."""
        if self._due is None or _clock.ticks_diff(now, self._due) < 0:
            return None
        st = self.state
        if st in (S_INIT, S_REGISTER, S_BACKOFF):
            self._attempt += 1
            if self._attempt == 1:
                self._sequence += 1
            self._set(S_REGISTER_SENT, None)
            return self._register_request()
        if st == S_REGISTERED:
            self._set(S_UPDATE_SENT, None)
            return self._update_request()
        if st == S_DEREGISTER_DUE:
            self._set(S_DEREGISTER_SENT, None)
            return RdRequest("deregister", DELETE, list(self.location), [])
        return None

    def on_response(self, now, code, location=None):
        st = self.state
        if st == S_REGISTER_SENT:
            if code == CREATED and location:
                self.location = list(location)
                self._attempt = 0
                self._sequence = 0
                self._registered(now)
                self._event("registered", "/" + "/".join(self.location))
            elif code >> 5 == _CLASS_CLIENT_ERROR:
                # An explicit rejection is a registration failure of its own (/1/x/16).
                self.rejected_code = code
                self._event("register-rejected", code_str(code))
                self._registration_failed(now, explicit=True)
            else:
                self._attempt_failed(now, "register answered " + code_str(code))
        elif st == S_UPDATE_SENT:
            if code == CHANGED:
                self._registered(now)
                self._event("updated", "lt=%d" % self.lifetime)
            else:
                # 4.04: the server lost the registration; anything else: start over as well.
                self._event("update-rejected", code_str(code))
                self.reregister(now)
        elif st == S_DEREGISTER_SENT:
            self.location = None
            self._set(S_DEREGISTERED, None)
            self._event("deregistered", code_str(code) if code != DELETED else "")

    def on_failure(self, now, reason="timeout"):
        """The request got no usable answer (CoAP timeout, RST, transport down)."""
        st = self.state
        if st == S_REGISTER_SENT:
            self._attempt_failed(now, reason)
        elif st == S_UPDATE_SENT:
            self._event("update-failed", reason)
            self.reregister(now)
        elif st == S_DEREGISTER_SENT:
            self.location = None
            self._set(S_DEREGISTERED, None)
            self._event("deregistered", reason)

    # --- internals -----------------------------------------------------------------------------

    def _set(self, state, due):
        self.state = state
        self._due = due

    def _event(self, name, detail=""):
        if self.on_event is not None:
            self.on_event(name, detail)

    def _registered(self, now):
        self.registered_at = now
        if self._upd_wanted:
            # Something changed while the previous exchange was in flight.
            self._set(S_REGISTERED, now)
        else:
            self._set(S_REGISTERED, _clock.ticks_add(now, self.update_interval_ms()))

    def update_interval_ms(self):
        """When, after a successful Register/Update, the next Update is sent."""
        lt_ms = self.lifetime * 1000
        if lt_ms <= 0:
            return MAX_DELAY_MS  # lifetime 0 = infinite: no periodic update is needed
        margin = max(lt_ms * _UPDATE_MARGIN_MIN_PCT // 100, min(lt_ms // 2, MAX_TRANSMIT_WAIT_MS))
        return min(lt_ms - margin, MAX_DELAY_MS)

    def _attempt_failed(self, now, reason):
        self._event("register-failed", "attempt %d/%d seq %d/%d: %s" % (
            self._attempt, self.retry.count, self._sequence, self.retry.seq_count, reason))
        if self._attempt < self.retry.count:
            self._set(S_BACKOFF, _clock.ticks_add(now, self.retry.attempt_delay_ms(self._attempt)))
            return
        # This communication sequence is exhausted.
        self._attempt = 0
        if self._sequence < self.retry.seq_count and self.retry.seq_delay_s != SEQ_DELAY_NEVER:
            self._set(S_BACKOFF, _clock.ticks_add(now, min(self.retry.seq_delay_s * 1000, MAX_DELAY_MS)))
            return
        self._registration_failed(now, explicit=False)

    def _registration_failed(self, now, explicit):
        if self.bootstrap_on_failure:
            self._set(S_BOOTSTRAP, None)
            self._event("bootstrap-needed", "explicit rejection" if explicit else "retries exhausted")
        elif explicit:
            # Rejected, but no bootstrap wanted: carry on with the retry schedule.
            self._attempt_failed(now, "rejected")
        else:
            self._set(S_FAILED, None)
            self._event("registration-failed", "")

    def _binding_query(self, query):
        if self.queue and self.legacy_queue:
            query.append("b=" + self.binding + "Q")
        else:
            query.append("b=" + self.binding)
            if self.queue:
                query.append("Q")

    def _register_request(self):
        # A Register carries everything, so nothing is left for an Update.
        self._upd_lt = self._upd_b = self._upd_links = self._upd_wanted = False
        query = ["ep=" + self.endpoint, "lt=%d" % self.lifetime, "lwm2m=" + self.version]
        self._binding_query(query)
        return RdRequest("register", POST, [self.rd_path], query, self.links(), FMT_LINK_FORMAT)

    def _update_request(self):
        query = []
        if self._upd_lt:
            query.append("lt=%d" % self.lifetime)
        if self._upd_b:
            self._binding_query(query)
        payload, cf = b"", None
        if self._upd_links:
            payload, cf = self.links(), FMT_LINK_FORMAT
        self._upd_lt = self._upd_b = self._upd_links = self._upd_wanted = False
        return RdRequest("update", POST, list(self.location), query, payload, cf)


# --- server accounts (/0 + /1) -----------------------------------------------------------------

def is_bootstrap_account(registry, iid):
    return bool(registry.get((_OID_SEC, iid, _SEC_BOOTSTRAP), False))


def bootstrap_account(registry):
    """iid of the Bootstrap-Server account in /0, or None."""
    obj = registry.get_object(_OID_SEC)
    for iid in obj.iids() if obj else ():
        if is_bootstrap_account(registry, iid):
            return iid
    return None


def server_accounts(registry, modes=(MODE_NOSEC,)):
    """Usable LwM2M server accounts: list of (ssid, security iid, server iid, uri)."""
    sec = registry.get_object(_OID_SEC)
    srv = registry.get_object(_OID_SRV)
    if sec is None or srv is None:
        return []
    by_ssid = {}
    for iid in srv.iids():
        ssid = registry.get((_OID_SRV, iid, _SRV_SSID))
        if ssid is not None:
            by_ssid[ssid] = iid
    out = []
    for iid in sec.iids():
        if is_bootstrap_account(registry, iid):
            continue
        uri = registry.get((_OID_SEC, iid, _SEC_URI))
        ssid = registry.get((_OID_SEC, iid, _SEC_SSID))
        mode = registry.get((_OID_SEC, iid, _SEC_MODE), MODE_NOSEC)
        if uri and ssid is not None and ssid in by_ssid and mode in modes:
            out.append((ssid, iid, by_ssid[ssid], uri))
    return out

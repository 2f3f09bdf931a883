"""LwM2M Queue Mode, client side (OMA-TS-LightweightM2M_Core-V1_1 §6.5), sans-I/O.

In queue mode (registered with the `Q` parameter) the client is reachable only for an RX window
after each message it sends; then it "sleeps" (radio off, PSM). While asleep:
- notifications are kept in the NotificationStore when /1/x/6 is true (else dropped), and
- the first thing sent on waking up is a Registration Update, so the server knows the client is
  reachable and delivers the requests it queued; stored notifications follow.
The RX window defaults to MAX_TRANSMIT_WAIT (93 s), the value the TS recommends (§6.5).
"""

from coap.numbers import MAX_TRANSMIT_WAIT_MS

from hal.clock import default as _clock


class QueueMode:
    def __init__(self, rx_window_ms=MAX_TRANSMIT_WAIT_MS, on_event=None):
        self.rx_window_ms = rx_window_ms
        self.on_event = on_event
        self.awake = True
        self._until = None
        self.wakeups = 0

    def activity(self, now):
        """The client sent or received something: the RX window starts again."""
        if not self.awake:
            self.awake = True
            self.wakeups += 1
            self._event("awake")
        self._until = _clock.ticks_add(now, self.rx_window_ms)

    def poll(self, now):
        """Go to sleep when the RX window is over; returns True on the transition."""
        if self.awake and self._until is not None and _clock.ticks_diff(now, self._until) >= 0:
            self.awake = False
            self._until = None
            self._event("sleeping")
            return True
        return False

    def next_time(self, now):
        return self._until if self.awake else None

    def _event(self, name):
        if self.on_event is not None:
            self.on_event(name, "")

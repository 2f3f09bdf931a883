# AT command engine: one reader task routes every received line, one writer behind a lock.
#
# Final result codes go to the one waiting command, information responses with the command's
# prefix (or any line while a command that collects them waits) to it, URCs to handlers
# registered by prefix.  A command returns as soon as its final result code arrives.
import asyncio

from micropython import const

from modem import atparse
from modem.atparse import (EV_LINE, EV_LINE_RAW, EV_NONE, EV_PROMPT, EV_RAW, FINAL_NONE, FINAL_OK,
                           FINAL_SEND_OK)

_CHUNK = const(256)
_MAX_INFO_LINES = const(24)
_DEFAULT_TIMEOUT_MS = const(5000)
_RESYNC_TIMEOUT_MS = const(300)

# Commands that legitimately take long (network search, radio power, UICC round trips through
# the baseband).  Values are the worst cases the vendors document, rounded up.
_LONG = (
    ("AT+COPS", 180000),
    ("AT+CFUN", 15000),
    ("AT+CGLA", 10000),
    ("AT+CSIM", 10000),
    ("AT+CCHO", 10000),
    ("AT+CCHC", 5000),
    ("AT+CGATT", 75000),
    ("AT+QIOPEN", 15000),
    ("AT+CAOPEN", 15000),
)


class AtError(Exception):
    """A command ended with ERROR / +CME ERROR / +CMS ERROR (or the link or the modem went
    away, kind "LINK" / "RESET").  `.code` is the CME/CMS number when the modem gave one."""

    def __init__(self, command, kind, code=None):
        super().__init__(command, kind, code)
        self.command = command
        self.kind = kind
        self.code = code

    def __str__(self):
        if self.code is None:
            return "%s -> %s" % (self.command, self.kind)
        return "%s -> %s: %s" % (self.command, self.kind, self.code)


class AtReset(AtError):
    """The modem rebooted (boot URC seen) while the command was in flight."""


class AtTimeout(Exception):
    def __init__(self, command, timeout_ms):
        super().__init__(command, timeout_ms)
        self.command = command
        self.timeout_ms = timeout_ms

    def __str__(self):
        return "%s -> no final result within %d ms" % (self.command, self.timeout_ms)


def params_of(lines, prefix, command):
    for line in lines:
        if line.startswith(prefix + ":"):
            return atparse.split_params(line, len(prefix) + 1)
    raise AtError(command, "NO_INFO", prefix)


def timeout_for(command):
    for pfx, ms in _LONG:
        if command.startswith(pfx):
            return ms
    return _DEFAULT_TIMEOUT_MS


class _Pending:
    def __init__(self, command, prefix, raw_prefix):
        self.command = command
        self.prefix = prefix
        self.raw_prefix = raw_prefix
        self.lines = []
        self.raw = None
        self.kind = FINAL_NONE
        self.code = None
        self.prompt = False
        self.ev = asyncio.Event()


class At:
    """The engine.  `reader`/`writer` are asyncio streams (any object with async readinto/read
    and write/drain).  `boot_lines` are lines a modem prints after (re)booting; seeing one
    fails the command in flight with AtReset and calls the `on_boot` callbacks."""

    def __init__(self, reader, writer, boot_lines=(), inline_raw=(), rx_size=2048, max_line=None):
        self._r = reader
        self._w = writer
        self._lock = asyncio.Lock()
        self._framer = atparse.LineFramer(rx_size, max_line or atparse.MAX_LINE, inline_raw)
        self._chunk = bytearray(_CHUNK)
        self._chunk_mv = memoryview(self._chunk)
        self._pending = None
        self._urc = {}
        self._boot = set(boot_lines)
        self._on_boot = []
        self._task = None
        self.reset_hook = None  # async callable that power-cycles the modem (board code)
        self.closed = False
        self.commands = 0
        self.timeouts = 0
        self.urcs = 0
        self.urc_errors = 0
        self.unsolicited = 0
        self.stray_finals = 0
        self.resets = 0
        self.dropped_info = 0
        self.last_raw = None

    # -- set-up ---------------------------------------------------------------------------

    def start(self):
        if self._task is None:
            self._task = asyncio.create_task(self._reader_loop())
        return self

    def deinit(self):
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._fail(AtError("", "LINK"))

    def on_urc(self, prefix, handler):
        """handler(line) is called from the reader task: keep it short and non-blocking."""
        self._urc[prefix] = handler

    def off_urc(self, prefix):
        self._urc.pop(prefix, None)

    def on_boot(self, fn):
        self._on_boot.append(fn)

    @property
    def overlong(self):
        return self._framer.overlong

    @property
    def garbled(self):
        return self._framer.garbled

    def stats(self):
        return {
            "commands": self.commands, "timeouts": self.timeouts, "urcs": self.urcs,
            "urc_errors": self.urc_errors, "unsolicited": self.unsolicited,
            "stray_finals": self.stray_finals, "resets": self.resets,
            "overlong": self._framer.overlong, "garbled": self._framer.garbled,
            "dropped_info": self.dropped_info,
        }

    # -- commands -------------------------------------------------------------------------

    async def cmd(self, command, timeout_ms=None, prefix=None, payload=None, raw_prefix=None,
                  label=None):
        """Send `command`, return its information lines (list of str) on OK.

        prefix: the information-response prefix this command answers with (`+CGLA`); lines with
        it go to the command even when a URC handler for it exists.  payload: bytes written after
        the `>` prompt.  raw_prefix: a response line with this prefix announces (first
        parameter) that many raw bytes, returned in `.last_raw`.  `command` may be a
        bytes-like object built in a caller's preallocated buffer; `label` (e.g. "AT+CGLA")
        then names it in errors."""
        raw = not isinstance(command, str)
        name = label or (command if not raw else bytes(command[:12]).decode())
        if self.closed:
            raise AtError(name, "LINK")
        if timeout_ms is None:
            timeout_ms = timeout_for(name)
        async with self._lock:
            p = _Pending(name, prefix, raw_prefix)
            self._pending = p
            self.commands += 1
            try:
                # armed before the command goes out: the prompt may come back before drain() returns
                self._framer.want_prompt = payload is not None
                if raw:
                    self._w.write(command)
                    await self._write(b"\r")
                else:
                    await self._write(command.encode() + b"\r")
                if payload is not None:
                    await self._wait(p, name, timeout_ms)
                    if not p.prompt:
                        self._raise(p)
                    p.ev.clear()
                    await self._write(payload)
                if p.kind == FINAL_NONE:
                    await self._wait(p, name, timeout_ms)
            finally:
                self._pending = None
                self._framer.want_prompt = False
            self.last_raw = p.raw
            if p.kind != FINAL_OK and p.kind != FINAL_SEND_OK:
                self._raise(p)
            return p.lines

    async def query(self, command, prefix, timeout_ms=None):
        """Params (list) of the first `prefix:` line of the answer; AtError kind "NO_INFO" if absent."""
        return params_of(await self.cmd(command, timeout_ms, prefix), prefix, command)

    async def _wait(self, p, command, timeout_ms):
        try:
            await asyncio.wait_for_ms(p.ev.wait(), timeout_ms)
        except asyncio.TimeoutError:
            self.timeouts += 1
            raise AtTimeout(command, timeout_ms)

    def _raise(self, p):
        if isinstance(p.kind, AtError):
            raise p.kind
        raise AtError(p.command, atparse.FINAL_NAMES[p.kind], p.code)

    async def _write(self, data):
        self._w.write(data)
        await self._w.drain()

    async def resync(self, tries=4, timeout_ms=_RESYNC_TIMEOUT_MS):
        """Get back in step after a timeout or garbage: repeated `AT` until one OK, then echo
        off.  If that fails, the reset hook (power cycle) is called and we try once more."""
        for attempt in range(2):
            for _ in range(tries):
                self._framer.reset()
                try:
                    await self.cmd("AT", timeout_ms)
                    await self.cmd("ATE0", timeout_ms)
                    return True
                except (AtTimeout, AtError):
                    pass
            if attempt == 0 and self.reset_hook is not None:
                await self.reset_hook()
            else:
                break
        raise AtTimeout("AT", timeout_ms)

    # -- the reader -----------------------------------------------------------------------

    async def _read(self):
        r = self._r
        if hasattr(r, "readinto"):
            return await r.readinto(self._chunk), self._chunk_mv
        data = await r.read(_CHUNK)
        return len(data), data

    async def _reader_loop(self):
        fr = self._framer
        try:
            while True:
                n, src = await self._read()
                if not n:
                    break
                off = 0
                while off < n:
                    off += fr.push(src[off:n])
                    self._drain_events()
        except asyncio.CancelledError:
            raise
        except OSError:
            pass
        finally:
            self.closed = True
            self._fail(AtError("", "LINK"))

    def _drain_events(self):
        fr = self._framer
        while True:
            ev = fr.next()
            if ev == EV_NONE:
                return
            if ev == EV_LINE:
                self._route(fr.line)
            elif ev == EV_PROMPT:
                p = self._pending
                if p is not None:
                    p.prompt = True
                    p.ev.set()
            elif ev == EV_RAW:
                p = self._pending
                if p is not None:
                    p.raw = fr.raw
            elif ev == EV_LINE_RAW:
                p = self._pending
                if p is not None:
                    self._add(p, fr.line)
                    p.raw = fr.raw

    def _fail(self, err):
        p = self._pending
        if p is not None and p.kind == FINAL_NONE:
            p.kind = err
            p.ev.set()

    def _add(self, p, line):
        if len(p.lines) < _MAX_INFO_LINES:
            p.lines.append(line)
        else:
            self.dropped_info += 1

    def _route(self, line):
        p = self._pending
        if p is not None and p.kind == FINAL_NONE:
            if line == p.command:  # echo (ATE1, or the modem rebooted into echo on)
                return
            k, code = atparse.final_kind(line)
            if k != FINAL_NONE:
                p.kind = k
                p.code = code
                p.ev.set()
                return
        else:
            k, _ = atparse.final_kind(line)
            if k != FINAL_NONE:
                self.stray_finals += 1  # answer to a command that already timed out
                return
        if line in self._boot:
            self.resets += 1
            self._fail(AtReset(p.command if p else "", "RESET"))
            for fn in self._on_boot:
                fn(line)
            return
        pfx = atparse.info_prefix(line)
        if p is not None and pfx is not None and pfx == p.prefix:
            self._add(p, line)
            if pfx == p.raw_prefix:
                n = atparse.split_params(line, len(pfx) + 1)[0]
                if isinstance(n, int) and n > 0:
                    self._framer.expect_raw(n)
            return
        h = self._urc.get(pfx if pfx is not None else line)
        if h is not None:
            self.urcs += 1
            try:
                h(line)
            except Exception:
                self.urc_errors += 1  # a bad URC must not kill the reader task
            return
        if p is not None and p.kind == FINAL_NONE and pfx is None:
            # bare lines (CGSN, CCID, hex data rows) belong to the command; prefixed lines
            # other than the command's own prefix are unsolicited
            if line.startswith("AT"):
                return  # echo of a command the modem mangled, tolerated
            self._add(p, line)
        else:
            self.unsolicited += 1

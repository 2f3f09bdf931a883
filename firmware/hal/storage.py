"""Atomic persistence of small records (bootstrap config /0 /1, registration state), sans-network.

  Store(directory, fs=None)  key -> bytes under a directory (created if missing)
    put(key, data) / get(key, default=None) / put_json(key, obj) / get_json(key, default=None)
    delete(key) / keys()
A put survives a reset at ANY point: the record goes to "<key>.tmp" (header with magic, sequence
number, length and CRC-32), which is flushed and fsync'ed where the port can; then the previous
"<key>" becomes "<key>.bak" and the temp file is renamed over "<key>". get() reads all three
names and returns the valid copy with the highest sequence number, so a torn or corrupt file
falls back to the previous good copy. `fs` (default: os) provides open/rename/remove/stat/listdir/
mkdir and optional sync, so tests can crash the store between any two steps.
Keys are [A-Za-z0-9_-], at most 32 characters; a record is at most 64 KiB.
Heap: a copy is validated by its size (stat), header and a CRC taken in 256-byte pieces, so
get() allocates the chosen record once at its exact length and put() allocates nothing the size
of the record it replaces.
"""

import binascii
import json
import struct

from micropython import const

_MAGIC = b"LS1\x00"
_HDR = ">4sIII"
_HDR_LEN = const(16)
_MAX_KEY = const(32)
_MAX_RECORD = const(65536)
_CHUNK = const(256)
_SUFFIXES = ("", ".tmp", ".bak")
_KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


class StorageError(Exception):
    def __init__(self, key, msg):
        super().__init__("storage %s: %s" % (key, msg))
        self.key = key


class _OsFs:
    """The real filesystem: builtin open() plus the os calls the store needs."""

    def __init__(self):
        import os

        self.rename = os.rename
        self.remove = os.remove
        self.stat = os.stat
        self.listdir = os.listdir
        self.mkdir = os.mkdir
        if hasattr(os, "sync"):
            self.sync = os.sync
        if hasattr(os, "fsync"):
            self.fsync = os.fsync
        self.open = open


def _crc(data, crc=0):
    """CRC-32 of `data`, continuing from `crc` (the value over the bytes before it)."""
    if hasattr(binascii, "crc32"):
        return binascii.crc32(data, crc) & 0xFFFFFFFF
    # Ports built without binascii.crc32: the same CRC-32 (IEEE, reflected), bit by bit; records
    # are small and written rarely.
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


class Store:
    def __init__(self, directory, fs=None):
        if fs is None:
            fs = _OsFs()
        self.fs = fs
        self.dir = directory.rstrip("/")
        self._buf = memoryview(bytearray(_CHUNK))
        self._hdr = bytearray(_HDR_LEN)
        try:
            fs.stat(self.dir)
        except OSError:
            fs.mkdir(self.dir)

    def _path(self, key, suffix=""):
        if not key or len(key) > _MAX_KEY or any(c not in _KEY_CHARS for c in key):
            raise StorageError(key, "invalid key")
        return "%s/%s%s" % (self.dir, key, suffix)

    def _check(self, path):
        """(seq, length) of a valid record file, or None (missing, torn, corrupt). Reads it in
        pieces through one small buffer: a torn or foreign file never costs its size in heap."""
        buf = self._buf
        try:
            size = self.fs.stat(path)[6]
            if size < _HDR_LEN or size > _HDR_LEN + _MAX_RECORD:
                return None
            with self.fs.open(path, "rb") as f:
                if f.readinto(self._hdr) != _HDR_LEN:
                    return None
                magic, seq, length, crc = struct.unpack(_HDR, self._hdr)
                if magic != _MAGIC or length != size - _HDR_LEN:
                    return None
                got, left = 0, length
                while left > 0:
                    n = f.readinto(buf)
                    if not n:
                        return None
                    # slicing only the last piece: each memoryview slice is a small allocation
                    got = _crc(buf if n == _CHUNK and left >= _CHUNK else buf[:min(n, left)], got)
                    left -= n
        except OSError:
            return None
        return (seq, length) if got == crc else None

    def _best(self, key):
        """(seq, length, suffix) of the newest valid copy, or None."""
        best = None
        for suffix in _SUFFIXES:
            got = self._check(self._path(key, suffix))
            if got is not None and (best is None or got[0] > best[0]):
                best = (got[0], got[1], suffix)
        return best

    def get(self, key, default=None):
        best = self._best(key)
        if best is None:
            return default
        _, length, suffix = best
        try:
            with self.fs.open(self._path(key, suffix), "rb") as f:
                f.seek(_HDR_LEN)
                data = f.read(length)
        except OSError as e:
            raise StorageError(key, "reading %s%s: %s" % (key, suffix, e))
        if len(data) != length:
            raise StorageError(key, "%s%s shrank to %d of %d bytes while read"
                               % (key, suffix, len(data), length))
        return data

    def put(self, key, data):
        data = bytes(data)
        if len(data) > _MAX_RECORD:
            raise StorageError(key, "record of %d bytes" % len(data))
        best = self._best(key)
        seq = (best[0] + 1) if best is not None else 1
        fs = self.fs
        final, tmp, bak = self._path(key), self._path(key, ".tmp"), self._path(key, ".bak")
        if best is not None and best[2] == ".tmp":
            # A put interrupted after its temp file was complete: that value may have been seen
            # by get(), so make it the main copy before the temp name is reused.
            self._remove(final)
            fs.rename(tmp, final)
        with fs.open(tmp, "wb") as f:
            # header and body as two writes: joining them would copy the record once more
            f.write(struct.pack(_HDR, _MAGIC, seq, len(data), _crc(data)))
            f.write(data)
            f.flush()
            fsync = getattr(fs, "fsync", None)
            if fsync is not None and hasattr(f, "fileno"):
                fsync(f.fileno())
        sync = getattr(fs, "sync", None)
        if sync is not None:
            sync()
        if self._check(final) is not None:
            # Keep the last good copy; some filesystems refuse to rename over an existing file.
            self._remove(bak)
            fs.rename(final, bak)
        else:
            self._remove(final)
        fs.rename(tmp, final)

    def _remove(self, path):
        try:
            self.fs.remove(path)
        except OSError:
            pass

    def delete(self, key):
        for suffix in _SUFFIXES:
            self._remove(self._path(key, suffix))

    def keys(self):
        out = []
        for name in self.fs.listdir(self.dir):
            key = name.split(".")[0]
            if key and key not in out and self.get(key) is not None:
                out.append(key)
        return sorted(out)

    def put_json(self, key, obj):
        self.put(key, json.dumps(obj).encode())

    def get_json(self, key, default=None):
        data = self.get(key)
        if data is None:
            return default
        try:
            return json.loads(data.decode())
        except Exception:
            raise StorageError(key, "stored record is not JSON")

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


def _crc(data):
    if hasattr(binascii, "crc32"):
        return binascii.crc32(data) & 0xFFFFFFFF
    # Ports built without binascii.crc32: the same CRC-32 (IEEE, reflected), bit by bit; records
    # are small and written rarely.
    crc = 0xFFFFFFFF
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
        try:
            fs.stat(self.dir)
        except OSError:
            fs.mkdir(self.dir)

    def _path(self, key, suffix=""):
        if not key or len(key) > _MAX_KEY or any(c not in _KEY_CHARS for c in key):
            raise StorageError(key, "invalid key")
        return "%s/%s%s" % (self.dir, key, suffix)

    def _load(self, path):
        """(seq, data) of a valid record file, or None (missing, torn, corrupt)."""
        try:
            with self.fs.open(path, "rb") as f:
                raw = f.read(_MAX_RECORD + _HDR_LEN + 1)
        except OSError:
            return None
        if len(raw) < _HDR_LEN:
            return None
        magic, seq, length, crc = struct.unpack(_HDR, raw[:_HDR_LEN])
        data = raw[_HDR_LEN:]
        if magic != _MAGIC or length != len(data) or crc != _crc(data):
            return None
        return seq, data

    def _best(self, key):
        """(seq, data, suffix) of the newest valid copy, or None."""
        best = None
        for suffix in _SUFFIXES:
            got = self._load(self._path(key, suffix))
            if got is not None and (best is None or got[0] > best[0]):
                best = (got[0], got[1], suffix)
        return best

    def get(self, key, default=None):
        best = self._best(key)
        return default if best is None else best[1]

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
            f.write(struct.pack(_HDR, _MAGIC, seq, len(data), _crc(data)) + data)
            f.flush()
            fsync = getattr(fs, "fsync", None)
            if fsync is not None and hasattr(f, "fileno"):
                fsync(f.fileno())
        sync = getattr(fs, "sync", None)
        if sync is not None:
            sync()
        if self._load(final) is not None:
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

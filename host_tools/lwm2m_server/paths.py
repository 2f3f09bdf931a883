"""LwM2M paths as strings ("/3/0/6/1") and as int tuples ((3, 0, 6, 1))."""


def parse(path):
    """'/3/0/1' -> (3, 0, 1); '/' -> (); ValueError on anything that is not 0-4 ids of 0..65535."""
    if isinstance(path, tuple):
        ids = path
    else:
        text = path.strip()
        if not text.startswith("/"):
            raise ValueError("path %r must start with '/'" % path)
        parts = [p for p in text.split("/")[1:]]
        if parts == [""]:
            parts = []
        try:
            ids = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError("path %r has a non-numeric id" % path) from None
    if len(ids) > 4 or any(not 0 <= i <= 0xFFFF for i in ids):
        raise ValueError("path %r is not oid/iid/rid/riid with ids 0..65535" % (path,))
    return ids


def fmt(ids):
    return "/" + "/".join(str(i) for i in ids)


def join(base, *ids):
    return fmt(parse(base) + tuple(ids))


def normalize(path):
    return fmt(parse(path))


def uri_path(path):
    """The Uri-Path option values for a request to `path` (empty tuple for the root)."""
    return tuple(str(i) for i in parse(path))

"""CoRE Link Format (RFC 6690 §2) as used by Register/Update payloads and Discover answers."""

from .. import paths


class LinkFormatError(ValueError):
    pass


def parse(payload):
    """-> list of (target, {param: value}); a parameter without a value maps to None; quoted
    values are unquoted. Raises LinkFormatError with the offset of the first fault."""
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LinkFormatError("link format is not UTF-8: %s" % exc) from None
    links = []
    pos, end = 0, len(text)
    while pos < end:
        if text[pos] != "<":
            raise LinkFormatError("expected '<' at offset %d in %r" % (pos, text[:80]))
        close = text.find(">", pos)
        if close < 0:
            raise LinkFormatError("unterminated '<' at offset %d" % pos)
        target = text[pos + 1:close]
        if not target or any(c in target for c in "<, \t"):
            raise LinkFormatError("bad link target %r at offset %d" % (target, pos))
        pos = close + 1
        params = {}
        while pos < end and text[pos] == ";":
            pos += 1
            start = pos
            while pos < end and text[pos] not in "=;,":
                pos += 1
            name = text[start:pos].strip()
            if not name:
                raise LinkFormatError("empty parameter name at offset %d" % start)
            value = None
            if pos < end and text[pos] == "=":
                pos += 1
                if pos < end and text[pos] == '"':
                    close = text.find('"', pos + 1)
                    while close > 0 and text[close - 1] == "\\":
                        close = text.find('"', close + 1)
                    if close < 0:
                        raise LinkFormatError("unterminated quoted value of %s" % name)
                    value = text[pos + 1:close].replace('\\"', '"')
                    pos = close + 1
                else:
                    start = pos
                    while pos < end and text[pos] not in ";,":
                        pos += 1
                    value = text[start:pos]
            params[name] = value
        links.append((target, params))
        if pos < end:
            if text[pos] != ",":
                raise LinkFormatError("expected ',' at offset %d" % pos)
            pos += 1
            while pos < end and text[pos] in " \t\r\n":
                pos += 1
            if pos == end:
                raise LinkFormatError("trailing ',' in link format")
    return links


def decode(payload):
    """{target: params}, e.g. {"/3/0": {"ver": "1.1"}} (later duplicates win)."""
    return dict(parse(payload))


def format_links(links):
    """[(target, params)] -> bytes; a params value of None writes a bare flag."""
    parts = []
    for target, params in links:
        item = "<%s>" % target
        for name, value in params.items():
            if value is None:
                item += ";" + name
            elif isinstance(value, str) and not _is_ptoken(value):
                item += ';%s="%s"' % (name, value.replace('"', '\\"'))
            else:
                item += ";%s=%s" % (name, value)
        parts.append(item)
    return ",".join(parts).encode("utf-8")


def _is_ptoken(value):
    return bool(value) and all(c.isalnum() or c in "!#$%&'()*+-./:<=>?@[]^_`{|}~" for c in value)


def object_links(links, root="/"):
    """Strip an alternate root path (Core 1.1 §6.2.1: `</x>;rt="oma.lwm2m"`) and keep only the
    object and object-instance links: -> ({path: params}, root)."""
    for target, params in links:
        if params.get("rt") == "oma.lwm2m":
            root = target if target.endswith("/") else target + "/"
    prefix = root.rstrip("/")
    out = {}
    for target, params in links:
        if params.get("rt") == "oma.lwm2m":
            continue
        if prefix and not target.startswith(prefix + "/"):
            raise LinkFormatError("link %s is outside the alternate path %s" % (target, root))
        rel = target[len(prefix):] if prefix else target
        try:
            ids = paths.parse(rel)
        except ValueError as exc:
            raise LinkFormatError("link %s: %s" % (target, exc)) from None
        if not 1 <= len(ids) <= 2:
            raise LinkFormatError("registration link %s is not an object or object instance" % target)
        out[paths.fmt(ids)] = params
    return out, root

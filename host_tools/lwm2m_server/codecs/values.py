"""Value model shared by all codecs: Python int/float/bool/str/bytes plus ObjLnk."""

from collections import namedtuple


class ObjLnk(namedtuple("ObjLnk", "oid iid")):
    """An Objlnk resource value (Core 1.1 Appendix C): "oid:iid" in text formats."""

    def __str__(self):
        return "%d:%d" % (self.oid, self.iid)

    @classmethod
    def parse(cls, text):
        oid, sep, iid = text.partition(":")
        if not sep:
            raise ValueError("objlnk %r is not 'oid:iid'" % text)
        try:
            link = cls(int(oid), int(iid))
        except ValueError:
            raise ValueError("objlnk %r is not 'oid:iid'" % text) from None
        if not (0 <= link.oid <= 0xFFFF and 0 <= link.iid <= 0xFFFF):
            raise ValueError("objlnk %r out of range" % text)
        return link


def coerce(value, letter):
    """Convert a value decoded without type information (str from text/SenML vs) to `letter`."""
    if letter is None or value is None:
        return value
    if letter == "l" and isinstance(value, str):
        return ObjLnk.parse(value)
    if letter in "iut" and isinstance(value, float) and value.is_integer():
        return int(value)
    if letter == "f" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value

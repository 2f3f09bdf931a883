"""Resource data types of the core objects (OMA LwM2M registry, objects 0-6, 3443), so untyped formats
(TLV, text) decode to Python values. Unknown resources decode to bytes (TLV) or str (text).

Type letters: s string, i integer, u unsigned integer, f float, b boolean, o opaque, t time,
l objlnk, e executable (no value)."""

_TYPES = {
    0: "s b i o o o i o o s i i i u s u u l",
    1: "i i i i e i b s e e l u t u u b b u u u u b s b",
    3: "s s s s e e i i i i i i e t s s s s s s i i l",
    4: "i i i i s s i s i i i i i",
    5: "o s e i - i s s i i",
    6: "f f f f o t f",
    3443: "i - o o e",  # eSIM IoT: State, (EID), eIM message, IPA message, Clear
}
TYPES = {
    (oid, rid): letter
    for oid, letters in _TYPES.items()
    for rid, letter in enumerate(letters.split())
    if letter != "-"
}


def type_of(path_ids, types=None):
    """Type letter for (oid, iid, rid[, riid]) or None. `types` maps "/oid/rid" or (oid, rid)
    to a letter and overrides the table."""
    if len(path_ids) < 3:
        return None
    key = (path_ids[0], path_ids[2])
    if types:
        letter = types.get(key) or types.get("/%d/%d" % key)
        if letter:
            return letter
    return TYPES.get(key)

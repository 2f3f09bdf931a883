"""Properties of the sans-I/O parts of the operating loop under CPython (hypothesis): the fact
tracker never proves with stale events, and the context digest depends on content only."""

from hypothesis import given, settings
from hypothesis import strategies as st

from ops import context as CTX
from ops import facts as F

_EVENTS = st.lists(st.one_of(
    st.tuples(st.just("attach"), st.sampled_from(["8900101000000000017", "8900102000000000025"])),
    st.tuples(st.just("detach"), st.none()),
    st.tuples(st.just("line"), st.sampled_from(["lwm2m registered /rd/1", "lwm2m updated lt=60",
                                                "lwm2m send /4/0/2 -> 2.04", "lwm2m notify /4/0/2",
                                                "lwm2m update-failed timeout"])),
    st.tuples(st.just("sent"), st.sampled_from([0x44, 0x84, 0x83, None])),
), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_EVENTS)
def test_facts_follow_attachment_registration_send_order(events):
    t = F.FactTracker()
    attached = registered = False
    per_gen = {}
    for kind, arg in events:
        if kind == "attach":
            out = t.attached(arg)
            attached, registered = True, False
            assert out == [("attached", arg)]
        elif kind == "detach":
            t.detached()
            attached = registered = False
            out = []
        elif kind == "line":
            out = t.lwm2m(arg)
            if out:
                assert attached and not registered
                assert arg.split()[1] in ("registered", "updated")
                registered = True
        else:
            out = t.sent(arg)
            if out:
                assert registered and arg == 0x44
        for name, gen in out:
            if name != "attached":
                assert gen == t.generation
                per_gen.setdefault((name, gen), 0)
                per_gen[(name, gen)] += 1
    assert all(n == 1 for n in per_gen.values())   # each fact once per attachment


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.text(max_size=8),
                     st.binary(max_size=8))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.text(max_size=4), inner, max_size=4)), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=4), _VALUES, max_size=6))
def test_digest_ignores_dict_insertion_order(d):
    reordered = dict(reversed(list(d.items())))
    assert CTX.digest(d) == CTX.digest(reordered)


@settings(max_examples=300, deadline=None)
@given(_VALUES, _VALUES)
def test_canonical_form_tells_different_values_apart(a, b):
    if CTX.canonical(a, []) == CTX.canonical(b, []):
        assert _same(a, b)


def _same(a, b):
    # canonical() is typed: 1 and True, b"1" and "1" differ; equal forms mean equal values
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b

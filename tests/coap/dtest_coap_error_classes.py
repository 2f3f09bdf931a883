"""On MicroPython: the lazily made CoapError subclasses (module __getattr__) behave as classes."""

from coap import error as E


def test_error_subclass_made_on_first_use_is_stable():
    from coap.error import NotFound

    assert NotFound is E.NotFound and NotFound.code == 132
    try:
        raise E.MethodNotAllowed("POST /3")
    except E.CoapError as exc:
        assert exc.code == 133 and isinstance(exc, E.MethodNotAllowed)
        assert str(exc) == "4.05 POST /3"


def test_error_unknown_name_raises_attribute_error():
    try:
        E.NoSuchError
    except AttributeError:
        return
    assert False, "no AttributeError"

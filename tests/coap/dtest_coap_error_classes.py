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


def test_client_side_errors_made_together_on_first_use():
    from coap.error import ResponseError

    class _Resp:
        code = 132

    exc = ResponseError(_Resp(), "Block2 at offset 1024")
    assert exc.code == 132 and exc.response.code == 132
    assert str(exc) == "4.04 Block2 at offset 1024"
    assert E.RequestTimeout is E.RequestTimeout and issubclass(E.ResetReceived, Exception)
    assert not issubclass(E.RequestTimeout, E.CoapError)

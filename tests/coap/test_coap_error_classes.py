"""coap.error makes its CoapError subclasses on first use (RAM on the device): each must carry
the RFC 7252 §12.1.2 code that coap.numbers names, be one class however it is reached, and an
unknown name must stay an AttributeError."""

import pytest

from coap import error as E
from coap import numbers as N

# class name -> coap.numbers constant
EXPECTED = {
    "BadRequest": N.BAD_REQUEST, "Unauthorized": N.UNAUTHORIZED, "BadOption": N.BAD_OPTION,
    "Forbidden": N.FORBIDDEN, "NotFound": N.NOT_FOUND, "MethodNotAllowed": N.METHOD_NOT_ALLOWED,
    "NotAcceptable": N.NOT_ACCEPTABLE, "RequestEntityIncomplete": N.REQUEST_ENTITY_INCOMPLETE,
    "Conflict": N.CONFLICT, "PreconditionFailed": N.PRECONDITION_FAILED,
    "RequestEntityTooLarge": N.REQUEST_ENTITY_TOO_LARGE,
    "UnsupportedContentFormat": N.UNSUPPORTED_CONTENT_FORMAT,
    "InternalServerError": N.INTERNAL_SERVER_ERROR, "NotImplemented_": N.NOT_IMPLEMENTED,
    "ServiceUnavailable": N.SERVICE_UNAVAILABLE,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_error_subclass_code_matches_rfc7252_registry(name):
    cls = getattr(E, name)
    assert issubclass(cls, E.CoapError) and cls.__name__ == name
    assert cls.code == EXPECTED[name]
    exc = cls("ctx")
    assert exc.code == EXPECTED[name] and str(exc) == "%s ctx" % N.code_str(EXPECTED[name])


def test_error_subclass_is_made_once():
    from coap.error import NotFound

    assert NotFound is E.NotFound
    with pytest.raises(E.NotFound):
        raise NotFound("x")


def test_error_unknown_name_is_attribute_error():
    with pytest.raises(AttributeError):
        E.NoSuchError  # noqa: B018
    assert not hasattr(E, "NotModified")

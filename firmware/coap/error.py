"""Errors of the CoAP engine. A handler raises a CoapError subclass to answer with its code."""

from coap import numbers as N


class CoapError(Exception):
    code = N.INTERNAL_SERVER_ERROR

    def __init__(self, message="", code=None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def __str__(self):
        return "%s %s" % (N.code_str(self.code), self.message)


class BadRequest(CoapError):
    code = N.BAD_REQUEST


class Unauthorized(CoapError):
    code = N.UNAUTHORIZED


class BadOption(CoapError):
    code = N.BAD_OPTION


class Forbidden(CoapError):
    code = N.FORBIDDEN


class NotFound(CoapError):
    code = N.NOT_FOUND


class MethodNotAllowed(CoapError):
    code = N.METHOD_NOT_ALLOWED


class NotAcceptable(CoapError):
    code = N.NOT_ACCEPTABLE


class RequestEntityIncomplete(CoapError):
    code = N.REQUEST_ENTITY_INCOMPLETE


class Conflict(CoapError):
    code = N.CONFLICT


class PreconditionFailed(CoapError):
    code = N.PRECONDITION_FAILED


class RequestEntityTooLarge(CoapError):
    code = N.REQUEST_ENTITY_TOO_LARGE


class UnsupportedContentFormat(CoapError):
    code = N.UNSUPPORTED_CONTENT_FORMAT


class InternalServerError(CoapError):
    code = N.INTERNAL_SERVER_ERROR


class NotImplemented_(CoapError):
    code = N.NOT_IMPLEMENTED


class ServiceUnavailable(CoapError):
    code = N.SERVICE_UNAVAILABLE


# --- client-side failures (raised by Endpoint.request) ---

class RequestTimeout(Exception):
    """A CON request was retransmitted MAX_RETRANSMIT times without an ACK, or no response came
    within the exchange lifetime."""


class ResetReceived(Exception):
    """The peer answered our CON with RST (it could not process it)."""


class ResponseError(Exception):
    """A block-wise transfer got a non-success response part-way; `.response` is that Message."""

    def __init__(self, response, context=""):
        super().__init__("%s %s" % (N.code_str(response.code), context))
        self.response = response
        self.code = response.code

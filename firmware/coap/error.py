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


# The CoapError subclasses by name and code, made on first use (PEP 562 module __getattr__, which
# MicroPython has too): each class object costs ~220 B of RAM, and a device usually raises only a
# few of the fifteen. Codes are literals (checked against coap.numbers by a test) so the table is
# one constant tuple, which a frozen image keeps in flash.
_SUBCLASSES = (
    "BadRequest", 128, "Unauthorized", 129, "BadOption", 130, "Forbidden", 131,  # 4.00-4.03
    "NotFound", 132, "MethodNotAllowed", 133, "NotAcceptable", 134,  # 4.04-4.06
    "RequestEntityIncomplete", 136, "Conflict", 137, "PreconditionFailed", 140,  # 4.08 4.09 4.12
    "RequestEntityTooLarge", 141, "UnsupportedContentFormat", 143,  # 4.13 4.15
    "InternalServerError", 160, "NotImplemented_", 161, "ServiceUnavailable", 163)  # 5.00 5.01 5.03


def __getattr__(name):
    if name in ("RequestTimeout", "ResetReceived", "ResponseError"):
        _client_errors()
        return globals()[name]
    table = _SUBCLASSES
    for i in range(0, len(table), 2):
        if table[i] == name:
            cls = type(name, (CoapError,), {"code": table[i + 1]})
            globals()[name] = cls  # made once: `except E.NotFound` must match what was raised
            return cls
    raise AttributeError(name)


# --- client-side failures (raised by Endpoint.request), made together on first use too ---

def _client_errors():
    class RequestTimeout(Exception):
        """A CON request was retransmitted MAX_RETRANSMIT times without an ACK, or no response
        came within the exchange lifetime."""

    class ResetReceived(Exception):
        """The peer answered our CON with RST (it could not process it)."""

    class ResponseError(Exception):
        """A block-wise transfer got a non-success response part-way; `.response` is that
        Message."""

        def __init__(self, response, context=""):
            super().__init__("%s %s" % (N.code_str(response.code), context))
            self.response = response
            self.code = response.code

    g = globals()
    g["RequestTimeout"] = RequestTimeout
    g["ResetReceived"] = ResetReceived
    g["ResponseError"] = ResponseError

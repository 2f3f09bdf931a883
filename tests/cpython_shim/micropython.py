"""CPython stand-in for the `micropython` module, so pure-logic firmware modules import under
CPython (hypothesis, atheris). Only what firmware code uses at import time is provided."""


def const(value):
    return value


def native(func):
    return func


viper = native


def mem_info(*_args):
    return None


def alloc_emergency_exception_buf(_size):
    return None

# Runs on MicroPython: imports one test module and runs its test_* functions in name order.
# Protocol on stdout, read by tests/conftest.py:
#   @@START name / @@PASS name / @@FAIL name, then the traceback, then @@END
# A test function may be `async def`; it is then run under asyncio.run().
import sys


def _run_one(fn):
    result = fn()
    if hasattr(result, "send"):
        import asyncio

        asyncio.run(result)


def main(module_name, only):
    module = __import__(module_name)
    names = sorted(n for n in dir(module) if n.startswith("test_"))
    for name in names:
        if only and name not in only:
            continue
        print("@@START", name)
        try:
            _run_one(getattr(module, name))
        except Exception as exc:  # report every failure by name, then go on with the next test
            print("@@FAIL", name)
            sys.print_exception(exc, sys.stdout)
            print("@@END")
        else:
            print("@@PASS", name)
    print("@@DONE")


main(sys.argv[1], sys.argv[2:])

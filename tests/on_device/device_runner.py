# Runs on MicroPython: runs the test_* functions of one test module in name order.
# Protocol on stdout, read by tests/conftest.py:
#   @@START name / @@PASS name / @@FAIL name, then the traceback, then @@END; @@DONE at the end.
# On the Unix port: `micropython device_runner.py MODULE [NAME ...]`. Under QEMU the harness sends
# the test module's source followed by this file's source and a call of run_tests(globals(), ()).
# A test function may be `async def`; it is then run under asyncio.run() (Unix port only).
import sys


def _run_one(fn):
    result = fn()
    if hasattr(result, "send"):
        import asyncio

        asyncio.run(result)


def run_tests(namespace, only):
    for name in sorted(n for n in namespace if n.startswith("test_")):
        if only and name not in only:
            continue
        print("@@START", name)
        try:
            _run_one(namespace[name])
        except Exception as exc:  # report every failure by name, then go on with the next test
            print("@@FAIL", name)
            sys.print_exception(exc, sys.stdout)
            print("@@END")
        else:
            print("@@PASS", name)
    print("@@DONE")


if __name__ == "__main__" and len(sys.argv) > 1:
    run_tests(__import__(sys.argv[1]).__dict__, sys.argv[2:])

"""python -m host_tools.objgen [--module] <registry.xml>...

Prints the resource constants and field table of each object; with --module a whole
firmware/objects/obj_<name>.py skeleton (imports, table, Object subclass, create())."""

import sys

from host_tools.objgen.gen import load, render, render_module


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    module = "--module" in args
    args = [a for a in args if a != "--module"]
    if not args:
        print(__doc__)
        return 2
    for path in args:
        sys.stdout.write((render_module if module else render)(load(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

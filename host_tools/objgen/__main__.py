"""python -m host_tools.objgen <registry.xml>...  prints the table skeleton of each object."""

import sys

from host_tools.objgen.gen import load, render


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(__doc__)
        return 2
    for path in args:
        sys.stdout.write(render(load(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the CLI tests share: the binary under test (argv[1]) and the test data."""
import os
import subprocess
import sys

BIN = sys.argv.pop(1) if len(sys.argv) > 1 else None
DATA = os.environ.get("FM_TEST_DATA", "")


def data(rel):
    if not os.path.isdir(DATA):
        raise RuntimeError("test data folder %r is missing" % DATA)
    return os.path.join(DATA, rel)


def run(*args, inp=None):
    return subprocess.run([BIN, *args], capture_output=True, timeout=120, input=inp)

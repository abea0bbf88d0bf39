"""The ABI surface three ways: functions declared in the public headers,
symbols in lib/libfm.map, and what libfm.so exports must be the same set.
argv[1] is the built libfm.so."""
import os
import re
import subprocess
import sys
import unittest

LIB = sys.argv.pop(1) if len(sys.argv) > 1 else "libfm.so"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def header_functions():
    names = set()
    for h in ("fm.h", "fm_backend.h"):
        with open(os.path.join(ROOT, "include", h), encoding="utf-8") as f:
            text = f.read()
        names |= set(re.findall(r"FM_API\s[^;(]*?\b(fm_\w+)\s*\(", text))
    return names


def map_symbols():
    with open(os.path.join(ROOT, "lib", "libfm.map"), encoding="utf-8") as f:
        return set(re.findall(r"^\s+(fm_\w+);", f.read(), re.M))


def exported():
    out = subprocess.run(["nm", "-D", "--defined-only", LIB], capture_output=True, text=True, check=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] != "A":
            syms.add(parts[2].split("@")[0])
    return syms


class TestSymbols(unittest.TestCase):
    def test_headers_match_map(self):
        self.assertEqual(header_functions(), map_symbols())

    def test_library_exports_exactly_the_map(self):
        self.assertEqual(exported(), map_symbols())


if __name__ == "__main__":
    unittest.main()

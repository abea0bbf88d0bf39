"""Every function of the public headers has a doc block (/** ... */ just
before it, or before the run of declarations it heads) that says since
which version it exists ("Since:"), its thread safety, and, for calls that
return an fm_status, its errors ("Errors"). Every symbol libfm.so exports
is such a function. argv[1] is the built libfm.so."""
import os
import re
import subprocess
import sys
import unittest

LIB = sys.argv.pop(1) if len(sys.argv) > 1 else "libfm.so"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DECL = re.compile(r"^FM_API\s+([^;(]*?)\b(fm_\w+)\s*\([^;]*;", re.M | re.S)


def documented():
    """{function: (its return type, its doc block)}"""
    out = {}
    for h in ("fm.h", "fm_backend.h"):
        with open(os.path.join(ROOT, "include", h), encoding="utf-8") as f:
            text = f.read()
        doc = None
        last_end = 0
        for m in DECL.finditer(text):
            between = text[last_end:m.start()]
            if between.strip():  # something other than the previous declaration: a new doc block, or none
                stripped = between.rstrip()
                doc = stripped[stripped.rfind("/**"):] if stripped.endswith("*/") and "/**" in stripped else None
            out[m.group(2)] = (m.group(1).strip(), doc)
            last_end = m.end()
    return out


class TestDocs(unittest.TestCase):
    def test_every_function_documented(self):
        missing = []
        for name, (ret, doc) in sorted(documented().items()):
            if doc is None:
                missing.append("%s: no doc block" % name)
                continue
            if "Since:" not in doc:
                missing.append("%s: no 'Since:'" % name)
            if not re.search(r"[Tt]hread", doc):
                missing.append("%s: no thread safety" % name)
            if ret.startswith("fm_status") and not re.search(r"\bErrors\b", doc):
                missing.append("%s: returns fm_status but lists no errors" % name)
        self.assertEqual(missing, [])

    def test_exports_are_documented_functions(self):
        out = subprocess.run(["nm", "-D", "--defined-only", LIB], capture_output=True, text=True, check=True).stdout
        exported = {l.split()[2].split("@")[0] for l in out.splitlines() if len(l.split()) == 3 and l.split()[1] != "A"}
        self.assertEqual(exported - set(documented()), set())
        self.assertGreater(len(exported), 100)


if __name__ == "__main__":
    unittest.main()

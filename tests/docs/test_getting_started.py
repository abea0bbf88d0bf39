"""Every snippet of docs/getting-started.md, extracted and run on
stories260K: the C ones compiled against the build tree's header and
library, the Python ones with the binding from the tree, the Node ones with
the binding linked in as node_modules/libfm. Chats must print text; JSON
answers must parse and satisfy their schema.
argv: SOURCE_ROOT LIBFM_SO (FM_LIBRARY and FM_TEST_DATA in the environment)."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

ROOT, LIB = sys.argv.pop(1), sys.argv.pop(1)
DATA = os.environ.get("FM_TEST_DATA", "")
MODEL = os.path.join(DATA, "models", "stories260K.gguf")
BLOCK = re.compile(r"^```(c|python|js) file=(\S+)\n(.*?)^```$", re.M | re.S)


def snippets():
    with open(os.path.join(ROOT, "docs", "getting-started.md"), encoding="utf-8") as f:
        return BLOCK.findall(f.read())


class TestGettingStarted(unittest.TestCase):
    def setUp(self):
        if not os.path.isfile(MODEL):
            raise RuntimeError("test data folder %r is missing" % DATA)
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def run_snippet(self, lang, name, code):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        env = dict(os.environ)
        if lang == "c":
            exe = path[:-2]
            libdir = os.path.dirname(LIB)
            r = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", os.path.join(ROOT, "include"),
                                path, "-L", libdir, "-l:" + os.path.basename(LIB), "-Wl,-rpath," + libdir, "-o", exe],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, name + ": " + r.stderr)
            cmd = [exe, MODEL]
        elif lang == "python":
            env["PYTHONPATH"] = os.path.join(ROOT, "bindings", "python")
            cmd = [sys.executable, path, MODEL]
        else:
            nm = os.path.join(self.dir, "node_modules")
            os.makedirs(nm, exist_ok=True)
            if not os.path.exists(os.path.join(nm, "libfm")):
                os.symlink(os.path.join(ROOT, "bindings", "node"), os.path.join(nm, "libfm"))
            cmd = ["node", path, MODEL]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, cwd=self.dir)
        self.assertEqual(r.returncode, 0, "%s: %s" % (name, r.stderr))
        return r.stdout

    def test_every_snippet(self):
        found = snippets()
        self.assertEqual(sorted(l for l, _, _ in found), ["c", "c", "js", "js", "python", "python"])
        for lang, name, code in found:
            out = self.run_snippet(lang, name, code)
            if "json" in name:
                card = json.loads(out.strip().splitlines()[-1])
                self.assertEqual(sorted(card), ["age", "name"], name)
                self.assertTrue(1 <= card["age"] <= 99 and len(card["name"]) <= 12, (name, card))
            else:
                self.assertGreater(len(out.strip()), 20, (name, out))


if __name__ == "__main__":
    unittest.main()

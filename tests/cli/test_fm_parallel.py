"""fm-parallel as a user runs it: greedy sequences equal fm-generate's
greedy text, seeded sequences differ and repeat, errors for bad arguments.
argv[1] is fm-parallel, argv[2] fm-generate."""
import os
import re
import subprocess
import sys
import unittest

GENERATE = sys.argv.pop(2) if len(sys.argv) > 2 else None
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import data, run  # noqa: E402  (also takes fm-parallel from argv[1])

PROMPT = "Once upon a time"


def sequences(stdout):
    """The texts after each '--- sequence i' line, in order."""
    parts = re.split(rb"--- sequence (\d+)\n", stdout)
    assert parts[0] == b"", parts[0]
    return [(int(parts[i]), parts[i + 1]) for i in range(1, len(parts), 2)]


class TestFmParallel(unittest.TestCase):
    def test_greedy_equals_fm_generate(self):
        model = data("models/stories260K.gguf")
        want = subprocess.run([GENERATE, "-m", model, "-p", PROMPT, "-n", "120", "--temp", "0", "-t", "1"],
                              capture_output=True, timeout=120)
        self.assertEqual(want.returncode, 0, want.stderr)
        for threads in ("1", "2"):
            r = run("-m", model, "-p", PROMPT, "-np", "4", "-n", "120", "--temp", "0", "-t", threads)
            self.assertEqual(r.returncode, 0, r.stderr)
            seqs = sequences(r.stdout)
            self.assertEqual([i for i, _ in seqs], [0, 1, 2, 3])
            for i, text in seqs:
                self.assertEqual(text, want.stdout, "sequence %d on %s threads" % (i, threads))
            self.assertRegex(r.stderr.decode(), r"generation: \d+ tokens in 4 sequences, [0-9.]+ tokens/s aggregate")

    def test_seeds(self):
        args = ["-m", data("models/stories260K.gguf"), "-p", PROMPT, "-np", "3", "-n", "40", "--temp", "1"]
        a, b = run(*args, "--seed", "5"), run(*args, "--seed", "5")
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertEqual(a.stdout, b.stdout)
        texts = [t for _, t in sequences(a.stdout)]
        self.assertEqual(len(set(texts)), 3, "seeds 5, 6, 7 should give three different continuations")
        # sequence i uses seed S + i: seed 6's first sequence is seed 5's second
        c = run(*args, "--seed", "6")
        self.assertEqual(sequences(c.stdout)[0][1], texts[1])

    def test_errors(self):
        model = data("models/stories260K.gguf")
        self.assertEqual(run("-p", "x").returncode, 1)
        self.assertEqual(run("-m", model, "-p", "x", "-np", "0").returncode, 1)
        self.assertEqual(run("-m", model, "-p", "x", "-np", "1000").returncode, 1)
        self.assertEqual(run("-m", model, "-p", "x", "--bogus", "1").returncode, 1)
        r = run("-m", "/nonexistent.gguf", "-p", "x")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"/nonexistent.gguf", r.stderr)


if __name__ == "__main__":
    unittest.main()

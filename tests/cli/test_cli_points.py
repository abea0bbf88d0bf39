"""The rough edges a new user met in the example programs (issue 20), one
test per point; argv[1] is the examples folder."""
import os
import re
import subprocess
import sys
import unittest

EXAMPLES = sys.argv.pop(1) if len(sys.argv) > 1 else "build/examples"
DATA = os.environ.get("FM_TEST_DATA", "")


def data(rel):
    if not os.path.isdir(DATA):
        raise RuntimeError("test data folder %r is missing" % DATA)
    return os.path.join(DATA, rel)


def run(tool, *args, inp=None):
    return subprocess.run([os.path.join(EXAMPLES, tool), *args], capture_output=True, timeout=120, input=inp)


STORIES = "models/stories260K.gguf"


class Points(unittest.TestCase):
    def test_1_unknown_option_with_a_value(self):
        r = run("fm-generate", "-m", data(STORIES), "--promt", "Hi")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"unknown option --promt", r.stderr)
        self.assertNotIn(b"not a number", r.stderr)
        # llama.cpp's long names are accepted
        r = run("fm-generate", "--model", data(STORIES), "--prompt", "Once", "--n-predict", "4", "--temp", "0")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_2_what_is_missing(self):
        r = run("fm-generate", "-m", data(STORIES))
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"no prompt", r.stderr)
        r = run("fm-generate", "-p", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"no model", r.stderr)

    def test_3_prompt_file_special_seed_no_display(self):
        r1 = run("fm-generate", "-m", data(STORIES), "-p", "Once upon a time", "-n", "8", "--temp", "0")
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "fm-points-prompt.txt")
        with open(path, "w") as f:
            f.write("Once upon a time")
        r2 = run("fm-generate", "-m", data(STORIES), "-f", path, "-n", "8", "--temp", "0")
        r3 = run("fm-generate", "-m", data(STORIES), "-f", "-", "-n", "8", "--temp", "0", inp=b"Once upon a time")
        os.unlink(path)
        self.assertEqual(r1.returncode, 0, r1.stderr)
        self.assertEqual(r1.stdout, r2.stdout)
        self.assertEqual(r1.stdout, r3.stdout)
        # --no-display-prompt: the continuation alone
        r4 = run("fm-generate", "-m", data(STORIES), "-p", "Once upon a time", "-n", "8", "--temp", "0",
                 "--no-display-prompt")
        self.assertTrue(r1.stdout.startswith(b"Once upon a time"))
        self.assertFalse(r4.stdout.startswith(b"Once upon a time"))
        self.assertTrue(r1.stdout.endswith(r4.stdout) and len(r4.stdout) > 1, (r1.stdout, r4.stdout))
        # -s is --seed
        a = run("fm-generate", "-m", data(STORIES), "-p", "Once", "-n", "12", "-s", "7").stdout
        b = run("fm-generate", "-m", data(STORIES), "-p", "Once", "-n", "12", "--seed", "7").stdout
        self.assertEqual(a, b)
        # --special: phi3's <|user|> is one control token, not 22 pieces of text
        counts = []
        for extra in ([], ["--special"]):
            r = run("fm-generate", "-m", data("models/phi3-spm4k.f32.gguf"), "-p", "<|user|>\nHi<|end|>", "-n", "1",
                    "--temp", "0", *extra)
            self.assertEqual(r.returncode, 0, r.stderr)
            counts.append(int(re.search(rb"prompt: (\d+) tokens", r.stderr).group(1)))
        self.assertLess(counts[1], counts[0])
        self.assertLessEqual(counts[1], 6)

    def test_4_full_context_and_encoders(self):
        r = run("fm-generate", "-m", data(STORIES), "-p", "Once upon", "-c", "10", "-n", "50", "--temp", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"the context is full", r.stderr)
        self.assertTrue(r.stdout.startswith(b"Once upon"))
        r = run("fm-generate", "-m", data("models/bert-wpm4k.f32.gguf"), "-p", "hello")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, b"")  # nothing echoed before the error
        self.assertIn(b"encoder", r.stderr)

    def test_6_inspect(self):
        r = run("fm-inspect", "-m", data("models/stories260K.bin"))
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"-z", r.stderr)
        r = run("fm-inspect", "-m", data("models/stories260K.bin"), "-z", data("models/tok512.bin"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"weight types +f32 47 ")
        r = run("fm-inspect", "-m", data("models/llama-k256.q4_k.gguf"))
        self.assertRegex(r.stdout.decode(), r"weight types +q4_k \d+, f32 \d+ ")
        r = run("fm-inspect", "-m", data(STORIES), "--key", "tokenizer.ggml.tokens", "--limit", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().splitlines(),
                         ["[array of 512]", "       0  <unk>", "       1  <s>", "       2  </s>",
                          "... 509 more (--limit 0 prints all)"])
        r = run("fm-inspect", "-m", data(STORIES), "--key", "tokenizer.ggml.scores", "--limit", "0")
        self.assertEqual(len(r.stdout.decode().splitlines()), 513)

    def test_7_bench(self):
        text = run("fm-bench", "--help").stdout.decode()
        self.assertRegex(text, r"--backend NAME +the compute backend: cpu")
        self.assertRegex(text, r"--bandwidth +only measure")
        r = run("fm-bench", "-m", data(STORIES), "--backend", "gpu")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"no backend named 'gpu'; registered: cpu cpu-ref", r.stderr)
        r = run("fm-bench", "-m", data("models/bert-wpm4k.f32.gguf"), "-p", "8", "-n", "8", "-r", "1")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, b"")  # no table header before the error
        r = run("fm-bench", "-m", data(STORIES), "-p", "8", "-n", "4", "-r", "1", "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.decode().splitlines()), 2)

    def test_8_embed_keeps_empty_lines(self):
        r = run("fm-embed", "-m", data("models/bert-wpm4k.f32.gguf"), "-f", "-", inp=b"a\n\nb\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(lines[3], "cosine similarity:")  # three vectors, then the 3 x 3 matrix
        self.assertEqual(len(lines), 7)
        # a decoder without BOS has nothing to embed for an empty line: an error, not a silent skip
        r = run("fm-embed", "-m", data("models/gpt2-gpt2v4k.f32.gguf"), "-f", "-", inp=b"a\n\nb\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"text 2 is empty", r.stderr)


if __name__ == "__main__":
    unittest.main()

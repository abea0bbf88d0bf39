"""fm-generate as a user runs it: exact greedy text on stdout, --ids, the
stats on stderr, and errors for bad arguments. argv[1] is the binary."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import data, run  # noqa: E402  (also takes the binary from argv[1])


class TestFmGenerate(unittest.TestCase):
    def test_greedy_text(self):
        with open(data("reference/stories260K-llama2c/once-upon-a-time.greedy256.txt"), "rb") as f:
            want = f.read()
        for model in (["-m", data("models/stories260K.bin"), "-z", data("models/tok512.bin")],
                      ["-m", data("models/stories260K.gguf")]):
            r = run(*model, "-p", "Once upon a time", "-n", "252", "--temp", "0", "-t", "1")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, want)
            self.assertRegex(r.stderr.decode(), r"generation: 252 tokens, [0-9.]+ tokens/s")

    def test_ids(self):
        with open(data("reference/stories260K/long_greedy.txt")) as f:
            want = f.read().split("\n")[1].split()
        r = run("-m", data("models/stories260K.gguf"), "-p", "Once upon a time", "-n", "256", "--temp", "0",
                "--ids", "--ignore-eos", "-c", "512")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().split(), want)

    def test_seed(self):
        args = ["-m", data("models/stories260K.gguf"), "-p", "Once", "-n", "30", "--temp", "1", "--ids"]
        a, b = run(*args, "--seed", "7"), run(*args, "--seed", "7")
        self.assertEqual(a.stdout, b.stdout)
        self.assertNotEqual(run(*args, "--seed", "8").stdout, a.stdout)

    def test_prompt_cache(self):
        import tempfile
        model = data("models/stories260K.gguf")
        with tempfile.TemporaryDirectory() as d:
            cache = os.path.join(d, "prompt.fmstate")
            base = ["-m", model, "-n", "40", "--temp", "0", "-t", "1"]
            plain = run(*base, "-p", "Once upon a time")
            first = run(*base, "-p", "Once upon a time", "--prompt-cache", cache)
            self.assertEqual(first.returncode, 0, first.stderr)
            self.assertIn(b"prompt cache: saved the state of 5 prompt tokens", first.stderr)
            self.assertEqual(first.stdout, plain.stdout)
            again = run(*base, "-p", "Once upon a time", "--prompt-cache", cache)
            self.assertIn(b"reused 4 of 5 prompt tokens", again.stderr)
            self.assertEqual(again.stdout, plain.stdout)
            longer = "Once upon a time there was a dog"
            want = run(*base, "-p", longer)
            got = run(*base, "-p", longer, "--prompt-cache", cache)
            self.assertRegex(got.stderr.decode(), r"reused 5 of \d+ prompt tokens")
            self.assertEqual(got.stdout, want.stdout)
            other = run(*base, "-p", "The dog", "--prompt-cache", cache)
            self.assertIn(b"reused 1 of", other.stderr)  # just BOS in common
            self.assertEqual(other.stdout, run(*base, "-p", "The dog").stdout)
            with open(cache, "wb") as f:
                f.write(b"garbage")
            bad = run(*base, "-p", "Once upon a time", "--prompt-cache", cache)
            self.assertEqual(bad.returncode, 0, bad.stderr)
            self.assertIn(b"prompt cache not used", bad.stderr)
            self.assertEqual(bad.stdout, plain.stdout)

    def test_stop_strings(self):
        with open(data("reference/stories260K-llama2c/once-upon-a-time.greedy256.txt"), "rb") as f:
            full = f.read()
        base = ["-m", data("models/stories260K.gguf"), "-p", "Once upon a time", "-n", "252", "--temp", "0"]
        for stop in (b"She loved", b"ball", b" red"):
            r = run(*base, "--stop", stop.decode())
            self.assertEqual(r.returncode, 0, r.stderr)
            cut = full.index(stop, len(b"Once upon a time"))
            self.assertEqual(r.stdout, full[:cut] + b"\n", stop)
        # several: the first to appear wins; one that never appears changes nothing
        r = run(*base, "--stop", "ball", "--stop", "She loved")
        self.assertEqual(r.stdout, full[:full.index(b"She loved")] + b"\n")
        self.assertEqual(run(*base, "--stop", "zebra-never").stdout, full)
        self.assertEqual(run(*base, "--stop", "").returncode, 1)

    def test_end_of_generation(self):
        # phi3-spm4k's <|end|> is id 4039 (fm-tokenize --special "<|end|>"):
        # forced by a bias, it ends generation at once; --ignore-eos goes on
        base = ["-m", data("models/phi3-spm4k.f32.gguf"), "-p", "Hello", "--temp", "0", "--ids", "-n", "5",
                "--logit-bias", "4039+1000"]
        r = run(*base)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), b"")
        self.assertIn(b"generation: 0 tokens", r.stderr)
        r = run(*base, "--ignore-eos")
        self.assertEqual(r.stdout.split(), [b"4039"] * 5)

    def test_sampling_options(self):
        base = ["-m", data("models/stories260K.gguf"), "-p", "Once upon a time", "-n", "40", "--ids", "-t", "1"]
        greedy = run(*base, "--temp", "0").stdout.split()
        # a banned first choice changes the first token
        banned = run(*base, "--temp", "0", "--logit-bias", greedy[0].decode() + "-inf").stdout.split()
        self.assertNotEqual(banned[0], greedy[0])
        # a strong repetition penalty changes greedy text (it repeats itself)
        self.assertNotEqual(run(*base, "--temp", "0", "--repeat-penalty", "2").stdout.split(), greedy)
        for opts in (["--typical", "0.9"], ["--top-n-sigma", "1.5"], ["--xtc-probability", "0.5"],
                     ["--dynatemp-range", "0.5"], ["--repeat-penalty", "1.2", "--repeat-last-n", "-1"],
                     ["--frequency-penalty", "0.5", "--presence-penalty", "0.3"],
                     ["--dry-multiplier", "0.8", "--dry-penalty-last-n", "-1"],
                     ["--mirostat", "1"], ["--mirostat", "2", "--mirostat-lr", "0.2", "--mirostat-ent", "4"]):
            a = run(*base, "--seed", "5", *opts)
            self.assertEqual(a.returncode, 0, (opts, a.stderr))
            self.assertEqual(len(a.stdout.split()) > 0, True, opts)
            self.assertEqual(run(*base, "--seed", "5", *opts).stdout, a.stdout, opts)
        self.assertEqual(run(*base, "--logit-bias", "12x").returncode, 1)
        self.assertEqual(run(*base, "--logit-bias", "12+inf").returncode, 1)
        r = run(*base, "--mirostat", "3")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"mirostat", r.stderr)

    def test_errors(self):
        r = run("-m", "/nonexistent.gguf", "-p", "x")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"/nonexistent.gguf", r.stderr)
        self.assertEqual(run("-p", "x").returncode, 1)
        self.assertEqual(run("-m", data("models/stories260K.gguf"), "-p", "x", "-n", "abc").returncode, 1)
        self.assertEqual(run("-m", data("models/stories260K.gguf"), "-p", "x", "--bogus", "1").returncode, 1)
        r = run("-m", data("models/stories260K.gguf"), "-p", "Once upon a time", "-n", "10", "-c", "3")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"do not fit a context of 3", r.stderr)
        self.assertEqual(r.stdout, b"")  # nothing echoed before the error


if __name__ == "__main__":
    unittest.main()

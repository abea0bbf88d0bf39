"""The Python binding end to end (run by meson test with FM_LIBRARY and
FM_TEST_DATA set). Reproduces the core runtime's acceptance 1."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fm  # noqa: E402

DATA = os.environ.get("FM_TEST_DATA", "")


def data(rel):
    if not os.path.isdir(DATA):
        raise RuntimeError("test data folder %r is missing" % DATA)
    return os.path.join(DATA, rel)


class TestBinding(unittest.TestCase):
    def test_greedy_text_llama2c(self):
        with open(data("reference/stories260K-llama2c/once-upon-a-time.greedy256.txt"), encoding="utf-8") as f:
            want = f.read()
        with fm.Model(data("models/stories260K.bin"), data("models/tok512.bin")) as m:
            self.assertEqual(m.tokenize("Once upon a time"), [1, 403, 407, 261, 378])
            got = "".join(m.generate("Once upon a time", n=252, temperature=0, echo=True, n_threads=1)) + "\n"
        self.assertEqual(got, want)

    def test_greedy_ids_gguf(self):
        with open(data("reference/stories260K/long_greedy.txt")) as f:
            want = [int(x) for x in f.read().split("\n")[1].split()]
        with fm.Model(data("models/stories260K.gguf")) as m:
            got = list(m.generate("Once upon a time", n=256, temperature=0, ids=True, ignore_eos=True, n_ctx=512))
        self.assertEqual(got, want)

    def test_seeded_sampling_repeats(self):
        with fm.Model(data("models/stories260K.gguf")) as m:
            a = list(m.generate("Once", n=40, temperature=1.0, seed=5, ids=True, ignore_eos=True))
            b = list(m.generate("Once", n=40, temperature=1.0, seed=5, ids=True, ignore_eos=True))
        self.assertEqual(a, b)

    def test_tokenizer_round_trip(self):
        tok = fm.Tokenizer.load(data("vocab/ggml-vocab-llama-spm.gguf"))
        text = "Hello world, ünïcödé 日本 🙂"
        ids = tok.encode(text)
        self.assertEqual(ids[0], tok.special("bos"))
        self.assertEqual(tok.decode(ids), text)
        self.assertEqual(tok.encode("Hello world", add_special=False), [15043, 3186])
        tok.close()

    def test_errors(self):
        with self.assertRaises(fm.FmError) as cm:
            fm.Model("/nonexistent.gguf")
        self.assertEqual(cm.exception.status, "FM_STATUS_IO")
        self.assertIn("/nonexistent.gguf", str(cm.exception))
        tok = fm.Tokenizer.load(data("models/tok512.bin"))
        with self.assertRaises(fm.FmError) as cm:
            tok.encode(b"bad \xff utf-8")
        self.assertEqual(cm.exception.status, "FM_STATUS_INVALID_UTF8")

    def test_version(self):
        self.assertRegex(fm.version(), r"^\d+\.\d+\.\d+$")


if __name__ == "__main__":
    unittest.main()

"""fm-embed and fm-inspect as a user runs them. argv[1] is fm-embed,
argv[2] fm-inspect."""
import json
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
INSPECT = sys.argv.pop(2)
import cli_common  # noqa: E402  (takes fm-embed from argv[1])
from cli_common import data, run  # noqa: E402


def inspect(*args):
    saved = cli_common.BIN
    cli_common.BIN = INSPECT
    try:
        return run(*args)
    finally:
        cli_common.BIN = saved


class TestFmEmbed(unittest.TestCase):
    def test_bert_mean_matches_reference(self):
        r = run("-m", data("models/bert-wpm4k.f32.gguf"), "-p", "Hello world", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        got = out["embeddings"][0]
        with open(data("reference/bert-wpm4k.f32/embeddings_mean.f32"), "rb") as f:
            want = struct.unpack("<64f", f.read(256))  # prompt 0 is "Hello world"
        self.assertEqual(len(got), 64)
        self.assertLess(max(abs(a - b) for a, b in zip(got, want)), 3e-3)
        self.assertEqual(out["cosine"], [[1.0]])

    def test_cosine_matrix_and_options(self):
        r = run("-m", data("models/bert-wpm4k.f32.gguf"), "-p", "a cat", "-p", "a cat", "-p", "the stock market",
                "--no-vectors", "--normalize", "--pooling", "cls")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(lines[0], "cosine similarity:")
        rows = [[float(x) for x in line.split()] for line in lines[1:]]
        self.assertEqual(len(rows), 3)
        self.assertAlmostEqual(rows[0][1], 1.0, places=6)
        self.assertLess(rows[0][2], 0.999)
        r = run("-m", data("models/qwen2-gpt2v4k.f32.gguf"), "-p", "Hello world", "--pooling", "none")
        self.assertEqual(r.returncode, 0, r.stderr)
        # the 4096-token vocabulary splits it as H ell o " world": one vector per token
        self.assertEqual(len(r.stdout.decode().splitlines()), 4)

    def test_errors(self):
        self.assertEqual(run("-m", data("models/bert-wpm4k.f32.gguf")).returncode, 1)
        self.assertEqual(run("-m", data("models/bert-wpm4k.f32.gguf"), "-p", "x", "--pooling", "max").returncode, 1)
        r = run("-m", "/nonexistent.gguf", "-p", "x")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"nonexistent", r.stderr)


class TestFmInspect(unittest.TestCase):
    def test_summary_meta_tensors(self):
        r = inspect("-m", data("models/gpt2-gpt2v4k.f32.gguf"), "--meta", "--tensors")
        self.assertEqual(r.returncode, 0, r.stderr)
        text = r.stdout.decode()
        self.assertRegex(text, r"architecture +gpt2\n")
        self.assertRegex(text, r"parameters +657152 ")  # models.json n_params
        self.assertRegex(text, r"context \(train\) +512\n")
        self.assertRegex(text, r"gpt2.attention.head_count +4\n")
        self.assertRegex(text, r"blk.1.attn_qkv.weight +f32 +\{64, 192\} +49152\n")

    def test_key(self):
        r = inspect("-m", data("models/phi3-spm4k.f32.gguf"), "--key", "tokenizer.chat_template")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(b"{{ bos_token }}"))
        r = inspect("-m", data("models/phi3-spm4k.f32.gguf"), "--key", "no.such.key")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"no.such.key", r.stderr)


if __name__ == "__main__":
    unittest.main()

"""fm-tokenize as a user runs it: ids equal to the references, the --pieces
and --bench outputs, --bos/--special, and errors. argv[1] is the binary."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import data, run  # noqa: E402  (also takes the binary from argv[1])


class TestFmTokenize(unittest.TestCase):
    def test_ids_match_tiktoken(self):
        # same ids as the reference for a whole corpus file
        r = run("-m", data("vocab/cl100k_base.tiktoken"), "-f", data("corpus/code-crlf.txt"))
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = r.stdout.split()
        z = subprocess.run(["zstd", "-dc", data("reference/tokenizer/cl100k_base/code-crlf.ids.zst")],
                           capture_output=True)
        self.assertEqual(z.returncode, 0, "the zstd tool is needed to read the reference")
        self.assertEqual(ids, z.stdout.split())
        self.assertEqual(len(ids), 77509)  # MANIFEST.tsv token count

    def test_pieces_and_flags(self):
        r = run("-m", data("vocab/ggml-vocab-llama-spm.gguf"), "-p", "Hello world", "--pieces")
        self.assertEqual(r.stdout.decode(), "15043\t Hello\n3186\t world\n")
        r = run("-m", data("vocab/ggml-vocab-llama-spm.gguf"), "-p", "Hello world", "--bos")
        self.assertEqual(r.stdout.split(), [b"1", b"15043", b"3186"])
        plain = run("-m", data("models/tok512.bin"), "-p", "a</s>b").stdout.split()
        special = run("-m", data("models/tok512.bin"), "-p", "a</s>b", "--special").stdout.split()
        self.assertNotIn(b"2", plain)
        self.assertIn(b"2", special)
        r = run("-m", data("vocab/r50k_base.tiktoken"), "-f", "-", inp=b"tab\there")
        self.assertEqual(r.stdout.split(), [b"8658", b"197", b"1456"])

    def test_bench_and_color(self):
        r = run("-m", data("vocab/ggml-vocab-gpt-2.gguf"), "-f", data("corpus/en-prose.txt"), "--bench")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"627539 bytes, \d+ tokens, [0-9.]+ MB/s")
        r = run("-m", data("vocab/ggml-vocab-gpt-2.gguf"), "-p", "Hello world", "--color=always")
        self.assertIn(b"\x1b[42mHello\x1b[0m\x1b[44m world\x1b[0m", r.stdout)
        # not a terminal: no escape codes unless always
        r = run("-m", data("vocab/ggml-vocab-gpt-2.gguf"), "-p", "Hello world", "--color")
        self.assertEqual(r.stdout, b"Hello world\n2 tokens\n")
        self.assertEqual(run("-m", data("models/tok512.bin"), "-p", "x", "--color=sometimes").returncode, 1)

    def test_color_keeps_characters_whole(self):
        # issue 20 point 5: stories260K spells these with byte-fallback tokens,
        # 3 per character; each character gets one colour, and the bytes
        # between escape codes are whole UTF-8 characters
        r = run("-m", data("models/stories260K.gguf"), "-p", "日本 ok", "--color=always")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode("utf-8")  # would raise on a cut sequence
        runs = [x for x in out.split("\x1b[0m") if "\x1b[4" in x]
        texts = [x.split("m", 1)[1] for x in (r.split("\x1b[", 1)[1] for r in runs)]
        self.assertIn("日", texts)
        self.assertIn("本", texts)
        self.assertEqual("".join(texts), " 日本 ok" if texts[0].startswith(" ") else "日本 ok")

    def test_errors(self):
        self.assertEqual(run("-m", "/nonexistent", "-p", "x").returncode, 2)
        self.assertEqual(run("-p", "x").returncode, 1)
        self.assertEqual(run("-m", data("models/tok512.bin")).returncode, 1)
        # SentencePiece refuses invalid UTF-8 with a message (argv cannot carry it; use stdin)
        r = run("-m", data("vocab/ggml-vocab-llama-spm.gguf"), "-f", "-", inp=b"bad \xff")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"UTF-8", r.stderr)


if __name__ == "__main__":
    unittest.main()

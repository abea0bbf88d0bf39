"""Memory bounded by the input (issue 19): crafted files that claim huge
counts, ranks or shapes - 2^31 tensors, 2^40 metadata entries, a 2^31-string
vocabulary, 2^40-element arrays, a 2^40 x 2^22 tensor, a one-line .tiktoken
of rank 16,000,000 (loaded after 4.3 s at 1.41 GB resident before), an
implausible llama2.c header, a tokenizer.bin of 2^31-byte tokens - are
refused with a clear error, by the library's own check, and the process's
peak resident memory stays within a fixed budget above what loading a real
small vocabulary takes. Run through fm-tokenize and fm-inspect (argv[1] is
the examples folder), each file in its own process so its peak is its own
(the kernel's peak for a child includes the forking Python's ~16 MB, so
the baseline is measured the same way)."""
import os
import struct
import subprocess
import sys
import tempfile
import unittest

from cli_common import BIN, data

BUDGET_KB = 64 * 1024  # above the baseline
T_U32, T_STR, T_ARR = 4, 8, 9


def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(n_tensors, n_kv, body=b""):
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + body


def kv_str(key, val):
    return s(key) + struct.pack("<I", T_STR) + s(val)


def peak_run(args):
    """(returncode, stderr, peak RSS in KiB) of one run"""
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return p.returncode, err.read().decode(errors="replace"), ru.ru_maxrss


class CraftedFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fm-crafted-")
        rc, err, cls.base_kb = peak_run([os.path.join(BIN, "fm-tokenize"), "-m",
                                         data("vocab/ggml-vocab-gpt-2.gguf"), "-p", "hello"])
        assert rc == 0, err

    def write(self, name, content):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(content)
        return path

    def refused(self, tool, name, content, why):
        path = self.write(name, content)
        args = [os.path.join(BIN, tool), "-m", path] + (["-p", "hi"] if tool == "fm-tokenize" else [])
        rc, err, kb = peak_run(args)
        self.assertEqual(rc, 2, "%s: expected a clean failure (exit 2), got %d: %s" % (name, rc, err))
        self.assertIn(why, err, name)
        if os.environ.get("FM_CRAFTED_VERBOSE"):
            print("%s: %d KiB peak: %s" % (name, kb, err.strip()), file=sys.stderr)
        self.assertLess(kb, self.base_kb + BUDGET_KB,
                        "%s: peak %d KiB, baseline %d KiB" % (name, kb, self.base_kb))
        return err

    def test_gguf_counts(self):
        self.refused("fm-inspect", "tensors.gguf", gguf(1 << 31, 0, b"\0" * 64), "tensor")
        self.refused("fm-inspect", "kvs.gguf", gguf(0, 1 << 40, b"\0" * 64), "more than the file can hold")

    def test_gguf_arrays(self):
        tokens = s("tokenizer.ggml.tokens") + struct.pack("<IIQ", T_ARR, T_STR, 1 << 31) + s("a") * 8
        body = kv_str("general.architecture", "llama") + kv_str("tokenizer.ggml.model", "gpt2") + tokens
        self.refused("fm-tokenize", "strings.gguf", gguf(0, 3, body), "more than the file can hold")
        scores = s("tokenizer.ggml.scores") + struct.pack("<IIQ", T_ARR, T_U32, 1 << 40) + b"\0" * 64
        self.refused("fm-tokenize", "numbers.gguf", gguf(0, 1, scores), "scores")

    def test_gguf_huge_shape(self):
        info = s("t") + struct.pack("<I", 2) + struct.pack("<QQ", 1 << 40, 1 << 22) + struct.pack("<IQ", 0, 0)
        self.refused("fm-inspect", "shape.gguf", gguf(1, 0, info + b"\0" * 64), "t")
        info = s("q") + struct.pack("<I", 2) + struct.pack("<QQ", 1 << 31, 1 << 31) + struct.pack("<IQ", 2, 0)
        self.refused("fm-inspect", "shape-q4.gguf", gguf(1, 0, info + b"\0" * 64), "q")

    def test_tiktoken_huge_rank(self):
        err = self.refused("fm-tokenize", "r50k_base.tiktoken", b"IQ== 16000000\n", "rank")
        self.assertIn("16000000", err)
        self.refused("fm-tokenize", "cl100k_base.tiktoken", b"IQ== 0\nIg== 99999999\n", "rank")

    def test_llama2c_headers(self):
        hdr = struct.pack("<7i", 1 << 20, 1 << 20, 4096, 1 << 10, 1 << 10, 1 << 20, 1 << 20)
        self.refused("fm-inspect", "big.bin", hdr + b"\0" * 1024, "llama2.c")
        # a plausible tiny checkpoint, its tokenizer.bin claiming 2^31-byte tokens
        dim, hidden, vocab, seq = 8, 16, 4, 4
        floats = vocab * dim + (2 * dim + 2 * dim * dim + 2 * dim * dim + 3 * dim * hidden) + dim + seq * 4
        ck = struct.pack("<7i", dim, hidden, 1, 2, 2, vocab, seq) + b"\0" * (4 * floats)
        self.write("tokenizer.bin", struct.pack("<i", 1 << 30) + struct.pack("<fi", 0.0, 1 << 31 - 1) + b"x" * 16)
        self.refused("fm-inspect", "tiny.bin", ck, "tokenizer")


if __name__ == "__main__":
    unittest.main()

"""fm-generate under an address-space limit (ulimit -v) prints its text and
exits. Before issue 19 it never exited between 64 and 256 MB: the threaded
OpenBLAS build started its worker threads when libfm loaded, they blocked
in their own allocation, and OpenBLAS's shutdown joined them. libfm now
links the serial build (test_threads_cap checks that a process that loaded
libfm has no thread before its first context)."""
import subprocess
import unittest

from cli_common import BIN, data

PROMPT_OUT = "Once upon a time, there was a little girl named Lily."


def limited(kib, *args):
    cmd = 'ulimit -v %d && exec "$0" "$@"' % kib
    return subprocess.run(["bash", "-c", cmd, BIN, *args], capture_output=True, timeout=60)


class UlimitTest(unittest.TestCase):
    def test_exits_under_limits(self):
        for mib in (64, 96, 128, 192, 256):
            with self.subTest(mib=mib):
                try:
                    r = limited(mib * 1024, "-m", data("models/stories260K.gguf"), "-p", "Once upon",
                                "-n", "16", "--temp", "0", "-t", "2")
                except subprocess.TimeoutExpired:
                    self.fail("fm-generate did not exit within 60 s under ulimit -v %d MiB" % mib)
                self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
                self.assertIn(PROMPT_OUT, r.stdout.decode())


if __name__ == "__main__":
    unittest.main()

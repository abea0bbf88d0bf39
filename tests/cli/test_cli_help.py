"""Every tool's --help (argv[1]: the examples folder): it exits 0 and lists
options; every option it lists is accepted (`tool OPTION [VALUE] --help`
exits 0: the parser took the option and its value, then printed the help),
so help and parser cannot drift apart; an unknown option is named as such
whatever follows it, and exits 1 with a pointer to --help."""
import os
import re
import subprocess
import sys
import unittest

EXAMPLES = sys.argv.pop(1) if len(sys.argv) > 1 else "build/examples"
TOOLS = ["fm-generate", "fm-tokenize", "fm-embed", "fm-inspect", "fm-bench", "fm-quantize", "fm-perplexity",
         "fm-parallel", "fm-maskbench", "fm-chat", "fm-classify", "fm-eval"]
OPTION = re.compile(r"^  (-[^ ].*?)(?:  |$)")
# a value each kind of placeholder accepts (numbers where the tool wants one)
SAMPLE = {"ID+BIAS": "1+1", "TYPE": "f32", "FORMAT": "md", "P": "0.5", "WHEN": "auto", "NAME": "cpu", "POOLING": "mean",
          "FILE": os.path.abspath(__file__)}  # a file that exists (fm-embed -f reads it while parsing)


def run(tool, *args):
    return subprocess.run([os.path.join(EXAMPLES, tool), *args], capture_output=True, timeout=60)


def listed_options(help_text):
    """[(names, meta or None, optional value?)] from the help's option lines"""
    out = []
    for line in help_text.splitlines():
        m = OPTION.match(line)
        if not m:
            continue
        spec = m.group(1).strip()
        names, meta, optional = spec, None, False
        if "[=" in spec:
            names, meta, optional = spec.split("[=")[0], spec.split("[=")[1].rstrip("]"), True
        elif " " in spec.replace(", ", ","):
            parts = spec.replace(", ", ",").split(" ", 1)
            names, meta = parts[0], parts[1]
        out.append(([n.strip() for n in names.replace(", ", ",").split(",")], meta, optional))
    return out


def sample_value(meta):
    if meta in SAMPLE:
        return SAMPLE[meta]
    if re.fullmatch(r"[A-Z]+(\[,[A-Z]+\.\.\])?", meta) and meta.split("[")[0] in (
            "N", "K", "T", "R", "E", "M", "B", "F", "S", "ETA", "TAU", "EPOCH"):
        return "1"
    return "x"


class TestHelp(unittest.TestCase):
    def test_every_listed_option_is_accepted(self):
        for tool in TOOLS:
            with self.subTest(tool=tool):
                r = run(tool, "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                text = r.stdout.decode()
                self.assertTrue(text.startswith("usage: " + tool), text[:80])
                self.assertEqual(run(tool, "-h").stdout.decode(), text)
                opts = listed_options(text)
                self.assertGreater(len(opts), 2, text)
                for names, meta, optional in opts:
                    for name in names:
                        if name in ("-h", "--help"):
                            continue
                        args = [name] if meta is None or optional else [name, sample_value(meta)]
                        r = run(tool, *args, "--help")
                        self.assertEqual(r.returncode, 0, "%s %s: %s" % (tool, " ".join(args), r.stderr))
                        self.assertTrue(r.stdout.startswith(b"usage: "), (tool, args))
                    if meta is not None and not optional and names[0].startswith("--"):
                        r = run(tool, names[0] + "=" + sample_value(meta), "--help")
                        self.assertEqual(r.returncode, 0, "%s %s=: %s" % (tool, names[0], r.stderr))

    def test_unknown_options_and_missing_values(self):
        for tool in TOOLS:
            with self.subTest(tool=tool):
                for args in (["--no-such-option"], ["--no-such-option", "word"], ["--prompt-typo", "Hi"]):
                    r = run(tool, *args)
                    self.assertEqual(r.returncode, 1, (args, r.stderr))
                    self.assertIn(b"unknown option " + args[0].encode(), r.stderr)
                    self.assertIn(b"--help", r.stderr)
                # a value-taking option at the end: "needs a value"
                opts = [o for o in listed_options(run(tool, "--help").stdout.decode()) if o[1] and not o[2]]
                r = run(tool, opts[0][0][0])
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(b"needs a value", r.stderr)

    def test_exit_status_documented(self):
        for tool in TOOLS:
            with self.subTest(tool=tool):
                self.assertIn(b"Exit status: 0", run(tool, "--help").stdout)


if __name__ == "__main__":
    unittest.main()

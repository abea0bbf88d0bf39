"""docs/cli.md carries each tool's --help output verbatim, one ```text block
under its "## fm-..." heading; this test fails when a block differs from
what the built tool prints (argv[1]: the examples folder). With --write it
rewrites the blocks instead (after changing a tool's options)."""
import os
import re
import subprocess
import sys
import unittest

EXAMPLES = sys.argv.pop(1) if len(sys.argv) > 1 else "build/examples"
WRITE = "--write" in sys.argv
if WRITE:
    sys.argv.remove("--write")
DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "cli.md")
TOOLS = ["fm-generate", "fm-chat", "fm-parallel", "fm-tokenize", "fm-embed", "fm-inspect", "fm-bench",
         "fm-perplexity", "fm-quantize", "fm-classify", "fm-eval", "fm-maskbench"]
BLOCK = re.compile(r"(## (fm-[a-z]+)\n\n```text\n)(.*?)(```\n)", re.S)


def help_of(tool):
    r = subprocess.run([os.path.join(EXAMPLES, tool), "--help"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


class TestCliDocs(unittest.TestCase):
    def test_help_blocks_match(self):
        with open(DOC, encoding="utf-8") as f:
            text = f.read()
        if WRITE:
            for tool in TOOLS:
                if "## %s\n" % tool not in text:
                    text += "\n## %s\n\n```text\n```\n" % tool
            text = BLOCK.sub(lambda m: m.group(1) + help_of(m.group(2)) + m.group(4), text)
            with open(DOC, "w", encoding="utf-8") as f:
                f.write(text)
        found = {m.group(2): m.group(3) for m in BLOCK.finditer(text)}
        for tool in TOOLS:
            with self.subTest(tool=tool):
                self.assertIn(tool, found, "docs/cli.md has no '## %s' help block" % tool)
                self.assertEqual(found[tool], help_of(tool),
                                 "docs/cli.md's %s block is stale: run this test with --write" % tool)


if __name__ == "__main__":
    unittest.main()

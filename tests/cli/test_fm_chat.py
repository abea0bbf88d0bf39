"""fm-chat as a user runs it. Render mode against every case of
../shared/reference/chat (byte-identical stdout, or exit 1 with the
reference's error on stderr); a non-interactive conversation on
stories260K with the chatml built-in, where turn 2 decodes only its own
tokens and answers as a cold start with the same history does; the same
through a pseudo-terminal, with Ctrl-C stopping an answer without leaving
and /save, /load and /reset. argv[1] is fm-chat."""
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import BIN, data, run  # noqa: E402

FIXTURE_NOW = "1785024000"  # the fixtures' clock, 2026-07-26
MODEL = "models/stories260K.gguf"
GEN = ["--template", "chatml", "--temp", "0", "-n", "12", "-c", "512", "-t", "1"]
TURN = re.compile(r"turn (\d+): (\d+) prompt tokens, (\d+) reused from the cache, (\d+) decoded")
GENERATED = re.compile(r"turn (\d+): (\d+) tokens generated")


def write(tmp, name, obj):
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        if isinstance(obj, str):
            f.write(obj)
        else:
            json.dump(obj, f)
    return path


def turns(stderr):
    """{turn: (prompt tokens, reused, decoded, generated)}"""
    out = {}
    for m in TURN.finditer(stderr):
        out[int(m.group(1))] = [int(m.group(2)), int(m.group(3)), int(m.group(4))]
    for m in GENERATED.finditer(stderr):
        out[int(m.group(1))].append(int(m.group(2)))
    return out


class TestRender(unittest.TestCase):
    def test_every_fixture_case(self):
        folder = data("reference/chat")
        n_cases = n_errors = 0
        with tempfile.TemporaryDirectory() as tmp:
            for name in sorted(os.listdir(folder)):
                if not name.endswith(".json"):
                    continue
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    fx = json.load(f)
                tmpl = write(tmp, "t.jinja", fx["template"])
                for case in fx["cases"]:
                    args = ["--render", "--template", tmpl, "--messages", write(tmp, "m.json", case["messages"]),
                            "--bos-token", fx["bos_token"], "--eos-token", fx["eos_token"], "--now", FIXTURE_NOW]
                    if "tools" in case:
                        args += ["--tools", write(tmp, "tools.json", case["tools"])]
                    if case["add_generation_prompt"]:
                        args.append("--add-generation-prompt")
                    r = run(*args)
                    n_cases += 1
                    where = "%s %s agp=%s" % (name, case["id"], case["add_generation_prompt"])
                    if "error" in case:
                        n_errors += 1
                        self.assertEqual(r.returncode, 2, where)
                        self.assertEqual(r.stdout, b"", where)
                        self.assertIn(case["error"], r.stderr.decode(), where)
                        self.assertIn("line ", r.stderr.decode(), where)
                    else:
                        self.assertEqual(r.returncode, 0, where + ": " + r.stderr.decode())
                        self.assertEqual(r.stdout.decode("utf-8"), case["expected"], where)
                        self.assertEqual(r.stderr, b"", where)
        self.assertGreaterEqual(n_cases, 250)
        self.assertGreater(n_errors, 0)

    def test_builtin_and_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            msgs = write(tmp, "m.json", [{"role": "user", "content": "Hi"}])
            r = run("--render", "--template", "chatml", "--messages", msgs, "--add-generation-prompt")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
            bad = write(tmp, "bad.jinja", "{% for m in messages %}\n{{ m.content | nosuch }}{% endfor %}")
            r = run("--render", "--template", bad, "--messages", msgs)
            self.assertEqual((r.returncode, r.stdout), (2, b""))
            self.assertIn("line 2, column", r.stderr.decode())
            self.assertIn("nosuch", r.stderr.decode())
            r = run("--render", "--template", os.path.join(tmp, "missing.jinja"), "--messages", msgs)
            self.assertEqual(r.returncode, 2)
            self.assertIn("neither a built-in template nor a readable file", r.stderr.decode())
            r = run("--render", "--template", "chatml", "--messages", write(tmp, "x.json", "[{"))
            self.assertEqual((r.returncode, r.stdout), (2, b""))
            self.assertNotEqual(r.stderr, b"")
            r = run("--render", "--template", "chatml")
            self.assertEqual(r.returncode, 1)
            r = run("--render", "--template", "chatml", "--messages", msgs, "--now", "-5")
            self.assertEqual(r.returncode, 1)


class TestConversation(unittest.TestCase):
    def chat_file(self, tmp, messages, *extra):
        r = run("-m", data(MODEL), *GEN, "--messages", write(tmp, "conv.json", messages), *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.decode(), r.stderr.decode()

    def test_two_turns_decode_only_the_new_one(self):
        with tempfile.TemporaryDirectory() as tmp:
            conv = [{"role": "system", "content": "You tell stories."},
                    {"role": "user", "content": "Tell me about a cat."},
                    {"role": "user", "content": "What did the cat do next?"}]
            out, err = self.chat_file(tmp, conv)
            t = turns(err)
            self.assertEqual(sorted(t), [1, 2], err)
            p1, r1, d1, g1 = t[1]
            p2, r2, d2, g2 = t[2]
            self.assertEqual((r1, d1), (0, p1))
            # the whole first turn - its prompt and its answer - is reused
            self.assertEqual(g1, 12)
            self.assertEqual(r2, p1 + g1, err)
            self.assertEqual(d2, p2 - r2)
            # the second turn's answer with the first answer given in the file
            # (a cold start, everything decoded): same text, unless the first
            # answer's text tokenizes differently from the ids sampled
            self.assertTrue(out.endswith("\n"))
            first = out.split("\n")[0]
            history = conv[:2] + [{"role": "assistant", "content": first}] + conv[2:]
            out2, err2 = self.chat_file(tmp, history)
            self.assertEqual(sorted(turns(err2)), [1])
            self.assertEqual(turns(err2)[1][1], 0)
            self.assertTrue(out.endswith(out2), (out, out2))

    def test_full_window_shifts_out_old_turns(self):
        """-c 220: the fourth turn does not fit with room for an answer;
        the oldest exchange leaves the conversation and, lined up on token
        boundaries, the cache too (the context shift), so the turns kept
        are not decoded again."""
        conv = [{"role": "system", "content": "You tell stories."}] + [
            {"role": "user", "content": q} for q in
            ("Tell me a story about a cat.", "What did the cat do next?", "And the dog?", "How did it end?")]
        with tempfile.TemporaryDirectory() as tmp:
            r = run("-m", data(MODEL), "--template", "chatml", "--temp", "0", "-n", "40", "-c", "220", "-t", "1",
                    "--messages", write(tmp, "conv.json", conv))
            self.assertEqual(r.returncode, 0, r.stderr)
            err = r.stderr.decode()
            t = turns(err)
            self.assertEqual(sorted(t), [1, 2, 3, 4], err)
            for p, reused, decoded, gen in t.values():
                self.assertLessEqual(p + 40, 220, err)  # each prompt left room for the answer (-n 40)
                self.assertEqual(decoded, p - reused)
            shifts = [int(x) for x in re.findall(r"context shift: (\d+) tokens left the cache", err)]
            self.assertEqual(len(shifts), err.count("dropped the"), err)
            self.assertGreaterEqual(len(shifts), 1, err)
            # turn 4 came after a shift and kept turn 3 (its prompt and answer) cached
            self.assertIn("dropped the 1 oldest exchange(s); shifted the cache\nfm-chat: context shift", err)
            p3, _, _, g3 = t[3]
            self.assertGreaterEqual(t[4][1], p3 + g3 - shifts[-1], err)
            self.assertGreater(t[4][1], 100, err)

    def test_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = run("-m", data(MODEL), "--messages", write(tmp, "c.json", {"role": "user"}))
            self.assertEqual(r.returncode, 2)
            self.assertIn("not a JSON array", r.stderr.decode())
            r = run("-m", data(MODEL), "--template", "nosuch-template", "--messages", write(tmp, "c.json", []))
            self.assertEqual(r.returncode, 2)
            r = run("-m", os.path.join(tmp, "missing.gguf"))
            self.assertEqual(r.returncode, 2)
            self.assertIn("load model", r.stderr.decode())
            r = run("-m", data(MODEL), "-c", "-1")
            self.assertEqual(r.returncode, 1)


class TestTerminal(unittest.TestCase):
    """Interactive on a pseudo-terminal: stdin and stdout are the tty,
    stderr is a pipe the test reads the statistics from."""

    def setUp(self):
        self.master, slave = pty.openpty()
        self.p = subprocess.Popen([BIN, "-m", data(MODEL), "--template", "chatml", "--temp", "0", "-t", "1",
                                   "-c", "32768", "-n", "30000", "--system", "You tell stories."],
                                  stdin=slave, stdout=slave, stderr=subprocess.PIPE)
        os.close(slave)
        self.err = b""
        self.out = b""

    def tearDown(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self.p.stderr.close()
        os.close(self.master)

    def wait_err(self, pattern, count=1, timeout=120):
        """Reads stderr (and drains the tty) until `pattern` occurs `count` times."""
        end = time.time() + timeout
        while len(re.findall(pattern, self.err.decode(errors="replace"))) < count:
            left = end - time.time()
            self.assertGreater(left, 0, "timed out waiting for %r; stderr:\n%s" % (pattern, self.err.decode()))
            r, _, _ = select.select([self.p.stderr, self.master], [], [], left)
            if self.p.stderr in r:
                chunk = os.read(self.p.stderr.fileno(), 65536)
                self.assertNotEqual(chunk, b"", "fm-chat exited; stderr:\n" + self.err.decode())
                self.err += chunk
            if self.master in r:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:
                    pass

    def say(self, line):
        os.write(self.master, line.encode() + b"\n")

    def test_turns_interrupt_and_commands(self):
        # turn 1 runs long: Ctrl-C stops the answer, fm-chat stays
        self.say("Tell me a long story about a dog.")
        self.wait_err(r"turn 1: \d+ prompt tokens")
        time.sleep(0.3)
        self.p.send_signal(signal.SIGINT)
        self.wait_err(r"turn 1: \d+ tokens generated")
        self.assertIn("fm-chat: stopped", self.err.decode())
        g1 = turns(self.err.decode())[1][3]
        self.assertLess(g1, 30000)
        self.assertIsNone(self.p.poll())
        # turn 2 decodes only itself
        self.say("And the cat?")
        self.wait_err(r"turn 2: \d+ prompt tokens")
        self.p.send_signal(signal.SIGINT)
        self.wait_err(r"turn 2: \d+ tokens generated")
        t = turns(self.err.decode())
        p1, r2 = t[1][0], t[2][1]
        self.assertGreaterEqual(r2, p1 + g1 - 1, self.err.decode())
        self.assertEqual(t[2][2], t[2][0] - r2)
        self.assertIn(b"> ", self.out)  # a prompt on the terminal
        with tempfile.TemporaryDirectory() as tmp:
            state = os.path.join(tmp, "chat.state")
            self.say("/save " + state)
            self.wait_err(r"saved 5 messages")
            self.say("/reset")
            self.wait_err(r"the conversation is reset")
            self.say("/load " + state)
            self.wait_err(r"loaded 5 messages")
            # after /load the history is in the cache again: nothing but the new turn is decoded
            self.say("Bye.")
            self.wait_err(r"turn \d+: \d+ prompt tokens", 3)
            self.p.send_signal(signal.SIGINT)
            self.wait_err(r"tokens generated", 3)
            last = list(TURN.finditer(self.err.decode()))[-1]
            self.assertGreaterEqual(int(last.group(3)), t[2][0] + t[2][3] - 1, self.err.decode())
        self.say("/quit")
        self.assertEqual(self.p.wait(timeout=60), 0)


if __name__ == "__main__":
    unittest.main()

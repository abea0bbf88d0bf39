"""fm-classify and fm-eval on stories260K against numbers this test works
out itself from raw logits (the Python binding's Context.decode and
logits, log-softmax in float64 here): each label's log-probability and
normalized probability, the order, and that the prompt is decoded once;
for a synthetic MMLU-style file, the model's letter per question and the
accuracy. argv[1] is fm-classify, argv[2] fm-eval; FM_LIBRARY the library."""
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
from cli_common import BIN as CLASSIFY, data  # noqa: E402  (takes argv[1])
import fm  # noqa: E402

EVAL = sys.argv.pop(1)
MODEL = "models/stories260K.gguf"


def log_softmax(row, t):
    mx = max(row)
    return row[t] - mx - math.log(math.fsum(math.exp(x - mx) for x in row))


def continuation_logprob(model, prompt_ids, cont_ids):
    """sum of log p(cont[i] | ...) from one decode of prompt + continuation"""
    with fm.Context(model, n_ctx=len(prompt_ids) + len(cont_ids), n_threads=1) as ctx:
        ctx.decode(prompt_ids + cont_ids, all_logits=True)
        return math.fsum(log_softmax(ctx.logits(len(prompt_ids) - 1 + i), t) for i, t in enumerate(cont_ids))


def run(*args):
    return subprocess.run(list(args), capture_output=True, timeout=300)


class TestClassify(unittest.TestCase):
    PROMPT = "Once upon a time, there was a little"
    LABELS = [" dog", " girl", " big red ball", " cat", " boy", " tree", " bird", " car", " sun", " happy"]

    def expected(self):
        with fm.Model(data(MODEL)) as m:
            p = m.tokenize(self.PROMPT)
            labels = [m.tokenizer.encode(l, add_special=False, continuation=True) for l in self.LABELS]
            lps = [continuation_logprob(m, p, ids) for ids in labels]
        mx = max(lps)
        z = math.fsum(math.exp(v - mx) for v in lps)
        return p, labels, lps, [math.exp(v - mx) / z for v in lps]

    def test_json_against_logits(self):
        p, labels, lps, probs = self.expected()
        args = [CLASSIFY, "-m", data(MODEL), "-p", self.PROMPT, "-t", "1", "--json"]
        for l in self.LABELS:
            args += ["--label", l]
        r = run(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["prompt_tokens"], len(p))
        got = out["labels"]
        self.assertEqual(len(got), len(self.LABELS))
        order = sorted(range(len(lps)), key=lambda i: -lps[i])
        self.assertEqual([g["label"] for g in got], [self.LABELS[i] for i in order])
        for g, i in zip(got, order):
            self.assertAlmostEqual(g["logprob"], lps[i], delta=1e-4, msg=g["label"])
            self.assertAlmostEqual(g["prob"], probs[i], delta=1e-4, msg=g["label"])
            self.assertEqual(g["tokens"], len(labels[i]))
        self.assertAlmostEqual(sum(g["prob"] for g in got), 1.0, delta=1e-9)
        # one prompt decode plus the labels' tokens (each later label
        # evaluates the prompt's last token again; a label's last token
        # needs no evaluation), not ten prompt decodes
        n_labels = len(self.LABELS)
        want = len(p) + sum(map(len, labels)) - n_labels + (n_labels - 1)
        self.assertEqual(out["tokens_evaluated"], want)
        self.assertLess(out["tokens_evaluated"], 2 * len(p) + sum(map(len, labels)))
        self.assertIn("decoded once", r.stderr.decode())

    def test_text_output_and_errors(self):
        _, _, lps, probs = self.expected()
        r = run(CLASSIFY, "-m", data(MODEL), "-p", self.PROMPT, "--label", self.LABELS[0], "--label", self.LABELS[1])
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [l.split("\t") for l in r.stdout.decode().splitlines()]
        z = math.fsum(math.exp(v) for v in lps[:2])
        want = sorted([(math.exp(lps[i]) / z, lps[i], self.LABELS[i]) for i in range(2)], reverse=True)
        self.assertEqual([l[2] for l in lines], [w[2] for w in want])
        for l, w in zip(lines, want):
            self.assertAlmostEqual(float(l[0]), w[0], delta=2e-6)
            self.assertAlmostEqual(float(l[1]), w[1], delta=1e-4)
        self.assertEqual(run(CLASSIFY, "-m", data(MODEL), "-p", "x").returncode, 1)  # no labels
        self.assertEqual(run(CLASSIFY, "-m", data(MODEL), "-p", "x", "--label", "").returncode, 1)
        r = run(CLASSIFY, "-m", "/nonexistent.gguf", "-p", "x", "--label", " y")
        self.assertEqual(r.returncode, 2)
        self.assertIn("load model", r.stderr.decode())


QUESTIONS = [
    ("What did Lily find in the park?", ["a ball", "a dog", "a cake", "a tree"]),
    ("Who was happy?", ["the cat", "the girl", "the sun", "the mom"]),
    ("What color was the sky?", ["red", "blue", "green", "pink"]),
    ("Where did Tom go?", ["to the park", "to school", "home", "to the sea"]),
    ("What did the bird say?", ["hello", "tweet", "no", "yes"]),
    ("What was in the box?", ["a toy", "a cat", "nothing", "a hat"]),
    ("What did mom bake?", ["bread", "a pie", "cookies", "a cake"]),
    ("Why was Ben sad?", ["he lost his toy", "it rained", "he was tired", "his dog ran away"]),
]
SHOTS = 2
SHOT_ANSWERS = [1, 3]


def block(q, choices, answer=None):
    s = q + "\n" + "".join("%s. %s\n" % ("ABCD"[i], c) for i, c in enumerate(choices)) + "Answer:"
    return s + (" %s\n\n" % "ABCD"[answer] if answer is not None else "")


class TestEval(unittest.TestCase):
    def test_accuracy_against_logits(self):
        head = "The following are multiple choice questions (with answers).\n\n"
        head += "".join(block(q, c, a) for (q, c), a in zip(QUESTIONS[:SHOTS], SHOT_ANSWERS))
        preds, lps_all = [], []
        with fm.Model(data(MODEL)) as m:
            letters = [m.tokenizer.encode(" " + l, add_special=False, continuation=True) for l in "ABCD"]
            for q, c in QUESTIONS[SHOTS:]:
                p = m.tokenize(head + block(q, c))
                lps = [continuation_logprob(m, p, ids) for ids in letters]
                preds.append(max(range(4), key=lambda i: (lps[i], -i)))
                lps_all.append(lps)
        # right on even questions, wrong on odd ones: accuracy known
        answers = [pr if k % 2 == 0 else (pr + 1) % 4 for k, pr in enumerate(preds)]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "q.jsonl")
            with open(path, "w", encoding="utf-8") as f:
                for k, (q, c) in enumerate(QUESTIONS):
                    a = SHOT_ANSWERS[k] if k < SHOTS else answers[k - SHOTS]
                    # letters and indices are both accepted
                    f.write(json.dumps({"question": q, "choices": c, "answer": "ABCD"[a] if k % 3 else a}) + "\n")
            r = run(EVAL, "-m", data(MODEL), "-f", path, "--shots", str(SHOTS), "-c", "1024", "-t", "1", "--verbose")
            self.assertEqual(r.returncode, 0, r.stderr)
            out = r.stdout.decode().splitlines()
            n = len(QUESTIONS) - SHOTS
            right = sum(1 for k in range(n) if k % 2 == 0)
            self.assertEqual(out[-1], "accuracy: %d/%d = %.4f" % (right, n, right / n))
            rows = [l.split("\t") for l in out[:-1]]
            self.assertEqual(len(rows), n)
            for k, row in enumerate(rows):
                self.assertEqual(row[0], str(SHOTS + k + 1))
                self.assertEqual(row[1], "ABCD"[preds[k]], row)
                self.assertEqual(row[2], "ABCD"[answers[k]], row)
                for got, want in zip(row[3].split(","), lps_all[k]):
                    self.assertAlmostEqual(float(got), want, delta=1e-4)
            # the worked examples are decoded once, not once per question
            decoded = int(re.search(r"(\d+) prompt tokens decoded", r.stderr.decode()).group(1))
            with fm.Model(data(MODEL)) as m:
                n_head = len(m.tokenize(head))
                total = sum(len(m.tokenize(head + block(q, c))) for q, c in QUESTIONS[SHOTS:])
            self.assertLessEqual(decoded, total - (n - 1) * (n_head - 8))

            # errors: too few questions for the shots, bad records
            r = run(EVAL, "-m", data(MODEL), "-f", path, "--shots", str(len(QUESTIONS)))
            self.assertEqual(r.returncode, 2)
            self.assertIn("none left", r.stderr.decode())
            for bad in ('{"question": "q", "choices": ["a"], "answer": "A"}\n',
                        '{"question": "q", "choices": ["a", "b"], "answer": "C"}\n',
                        '{"question": "q", "choices": ["a", "b"], "answer": "A"}\n{"question": \n'):
                with open(path, "w", encoding="utf-8") as f:
                    f.write(bad)
                r = run(EVAL, "-m", data(MODEL), "-f", path)
                self.assertEqual(r.returncode, 2, bad)
                self.assertNotEqual(r.stderr, b"")
            self.assertEqual(run(EVAL, "-m", data(MODEL), "-f", os.path.join(tmp, "none.jsonl")).returncode, 2)


if __name__ == "__main__":
    unittest.main()

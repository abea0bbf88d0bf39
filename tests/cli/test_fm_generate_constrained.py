"""Issue 16, acceptance 3: fm-generate --json-schema / --grammar-file /
--regex on stories260K and the shared random models: every output parses
with a JSON parser and validates against its schema (Python's jsonschema),
matches its grammar or expression, and seeded runs repeat. argv[1] is
fm-generate."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import data, run  # noqa: E402

import jsonschema  # noqa: E402  (Debian's python3-jsonschema)

SCHEMAS = [
    # enums, nested objects, arrays with bounds, integer ranges, patterns
    {"type": "object", "properties": {"color": {"enum": ["red", "green", "blue"]},
                                      "size": {"type": "integer", "minimum": 3, "maximum": 17}},
     "required": ["color", "size"], "additionalProperties": False},
    {"type": "object", "properties": {"user": {"type": "object", "properties": {
        "id": {"type": "string", "pattern": "^[a-f0-9]{4}$"}, "admin": {"type": "boolean"}},
        "required": ["id", "admin"], "additionalProperties": False},
        "scores": {"type": "array", "items": {"type": "integer", "minimum": -5, "maximum": 5},
                   "minItems": 2, "maxItems": 3}},
     "required": ["user", "scores"], "additionalProperties": False},
    {"type": "array", "items": {"type": "string", "maxLength": 3}, "minItems": 1, "maxItems": 2},
    {"anyOf": [{"type": "null"}, {"type": "number", "minimum": 0, "exclusiveMaximum": 10}]},
]

MODELS = ["models/stories260K.gguf", "models/llama-gqa.f32.gguf", "models/qwen2-gpt2v4k.f32.gguf"]


def generate(model, *args):
    r = run("-m", data(model), "-p", "Once upon a time", "-n", "600", "-t", "1", *args)
    if r.returncode != 0:
        raise AssertionError(r.stderr.decode())
    out = r.stdout.decode("utf-8", "replace")
    assert out.startswith("Once upon a time"), out[:80]
    return out[len("Once upon a time"):-1], r.stderr.decode()  # the final newline is fm-generate's


class TestConstrained(unittest.TestCase):
    def test_json_schema(self):
        ended = 0
        with tempfile.TemporaryDirectory() as d:
            for i, schema in enumerate(SCHEMAS):
                path = os.path.join(d, "s%d.json" % i)
                with open(path, "w") as f:
                    json.dump(schema, f)
                for model in MODELS:
                    for seed in ("1", "2"):
                        text, err = generate(model, "--json-schema", path, "--seed", seed)
                        again, _ = generate(model, "--json-schema", path, "--seed", seed)
                        self.assertEqual(text, again, "seeded runs repeat")
                        n = int(re.search(r"generation: (\d+) tokens", err).group(1))
                        if n >= 600:
                            continue  # cut by -n: only a prefix
                        ended += 1
                        value = json.loads(text)
                        jsonschema.validate(value, schema)
        self.assertGreater(ended, len(SCHEMAS) * len(MODELS))  # most runs end within the budget

    def test_any_json_and_greedy(self):
        text, err = generate("models/stories260K.gguf", "-j", json.dumps(SCHEMAS[0]), "--temp", "0")
        if "generation: 600 tokens" not in err:
            jsonschema.validate(json.loads(text), SCHEMAS[0])

    def test_grammar_and_regex(self):
        with tempfile.TemporaryDirectory() as d:
            g = os.path.join(d, "g.gbnf")
            with open(g, "w") as f:
                f.write('root ::= " " ("yes" | "no") ", because " [a-z ]{1,30} "."\n')
            for seed in ("3", "4"):
                text, _ = generate("models/stories260K.gguf", "--grammar-file", g, "--seed", seed)
                self.assertRegex(text, r"^ (yes|no), because [a-z ]{1,30}\.$")
                text, _ = generate("models/stories260K.gguf", "--regex", " [A-Z][a-z]{2,8} [0-9]{2}", "--seed", seed)
                self.assertRegex(text, r"^ [A-Z][a-z]{2,8} [0-9]{2}$")

    def test_errors(self):
        r = run("-m", data("models/stories260K.gguf"), "-p", "x", "-j", '{"type": "object", "not": {}}')
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"'not' is not supported", r.stderr)
        r = run("-m", data("models/stories260K.gguf"), "-p", "x", "--regex", "(a")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"without ')'", r.stderr)
        r = run("-m", data("models/stories260K.gguf"), "-p", "x", "--grammar-file", "/nonexistent.gbnf")
        self.assertEqual(r.returncode, 2)
        r = run("-m", data("models/stories260K.gguf"), "-p", "x", "--regex", "a", "-j", "{}")
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main()

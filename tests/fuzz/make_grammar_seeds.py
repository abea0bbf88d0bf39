#!/usr/bin/env python3
"""Seeds for the text front-end fuzzers: JSON Schemas and their patterns
from ../shared/jsonschema (a sample), GBNF grammars from the tests, and the
chat templates of ../shared/reference/chat.

usage: make_grammar_seeds.py SHARED_DIR TESTS_DIR OUT_DIR"""
import json
import os
import re
import sys

shared, tests, out = sys.argv[1:4]
for d in ("gbnf", "json_schema", "regex", "chat"):
    os.makedirs(os.path.join(out, d), exist_ok=True)
n = 0
patterns = set()
for name in sorted(os.listdir(os.path.join(shared, "jsonschema"))):
    if not name.endswith(".jsonl"):
        continue
    with open(os.path.join(shared, "jsonschema", name), encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % 25:
                continue
            schema = json.loads(line)["schema"]
            with open(os.path.join(out, "json_schema", "s%d.json" % n), "w", encoding="utf-8") as g:
                json.dump(schema, g)
            n += 1
            for p in re.findall(r'"pattern": ("(?:[^"\\]|\\.)*")', json.dumps(schema)):
                patterns.add(json.loads(p))
for i, p in enumerate(sorted(patterns)):
    with open(os.path.join(out, "regex", "r%d" % i), "w", encoding="utf-8") as g:
        g.write(p)
# the GBNF sources in the grammar test: C string literals that look like rules
src = open(os.path.join(tests, "api", "test_grammar.c"), encoding="utf-8").read()
k = 0
for lit in re.findall(r'"((?:[^"\\]|\\.)*::=(?:[^"\\]|\\.)*)"', src):
    text = bytes(lit, "utf-8").decode("unicode_escape")
    with open(os.path.join(out, "gbnf", "g%d.gbnf" % k), "w", encoding="utf-8", errors="replace") as g:
        g.write(text)
    k += 1
# chat templates: the real models' (the fixtures)
c = 0
chat_dir = os.path.join(shared, "reference", "chat")
for name in sorted(os.listdir(chat_dir)):
    if name.endswith(".json"):
        with open(os.path.join(chat_dir, name), encoding="utf-8") as f:
            template = json.load(f)["template"]
        with open(os.path.join(out, "chat", "t%d.jinja" % c), "w", encoding="utf-8") as g:
            g.write(template)
        c += 1
print("chat seeds: %d templates" % c)
print("grammar seeds: %d schemas, %d patterns, %d grammars" % (n, len(patterns), k))

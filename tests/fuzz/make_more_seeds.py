#!/usr/bin/env python3
"""Writes the seed corpora of the tokenizer, .tiktoken, llama2.c and sampler
fuzz targets, one folder each under OUT_DIR, from ../shared:

* tokenize/: the llama.cpp vocabulary test strings and the corpus's
  adversarial files (cut to 2 KiB), each prefixed with a vocabulary
  selector and encode/decode flag bytes, over all seven vocabularies;
* tiktoken/: the first 300 lines of each .tiktoken file, and the whole of
  r50k_base cut at 1,000 lines with its specials' neighbourhood;
* llama2c/: tiny llama2.c checkpoints (shared and separate classifier,
  grouped-query attention) with the real tok512.bin;
* sampler/: parameter and logit byte strings that reach every step.

usage: make_more_seeds.py SHARED_DIR OUT_DIR
"""
import os
import random
import struct
import sys

N_VOCABS = 7  # fuzz_tokenize.c's list


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def tokenize_seeds(shared, out):
    texts = []
    for f in sorted(os.listdir(os.path.join(shared, "vocab"))):
        if f.endswith(".inp") and f.startswith("ggml-vocab-gpt-2"):
            raw = open(os.path.join(shared, "vocab", f), "rb").read()
            texts += [t.strip(b"\n") for t in raw.split(b"__ggml_vocab_test__")]
    corpus = os.path.join(shared, "corpus")
    for f in sorted(os.listdir(corpus)):
        if f.startswith("adv-") or f.startswith("code-"):
            texts.append(open(os.path.join(corpus, f), "rb").read()[:2048])
    texts.append(b"<s> [INST] hi [/INST]</s><|endoftext|><|im_start|>user\n\xff\xfe bad \xc3")
    n = 0
    for i, t in enumerate(t for t in texts if t):
        v = i % N_VOCABS
        flags = [0x0, 0x4, 0x8, 0x13, 0x1f][i % 5]
        write(os.path.join(out, "tokenize", "t%03d" % n), bytes([v, flags, i % 4]) + t)
        n += 1
    return n


def tiktoken_seeds(shared, out):
    n = 0
    for i, name in enumerate(["r50k_base", "p50k_base", "cl100k_base", "o200k_base"]):
        path = os.path.join(shared, "vocab", name + ".tiktoken")
        if not os.path.exists(path):
            continue
        lines = open(path, "rb").read().split(b"\n")
        write(os.path.join(out, "tiktoken", name + "-300"), bytes([i]) + b"\n".join(lines[:300]) + b"\n")
        write(os.path.join(out, "tiktoken", name + "-tail"), bytes([i]) + b"\n".join(lines[-50:]))
        n += 2
    return n


def checkpoint(dim, hidden, layers, heads, kv_heads, vocab, seq, shared_cls, rng):
    head = dim // heads
    kv_dim = head * kv_heads
    floats = (vocab * dim + layers * (2 * dim + 2 * dim * dim + 2 * dim * kv_dim + 3 * dim * hidden) + dim
              + seq * head + (0 if shared_cls else vocab * dim))
    hdr = struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab if shared_cls else -vocab, seq)
    return hdr + struct.pack("<%df" % floats, *[rng.gauss(0, 0.2) for _ in range(floats)])


def llama2c_seeds(shared, out):
    tok = open(os.path.join(shared, "models", "tok512.bin"), "rb").read()
    rng = random.Random(5)
    n = 0
    for name, args in (("shared", (16, 32, 1, 2, 2, 512, 16, True)),
                       ("separate-cls", (16, 32, 1, 2, 2, 512, 16, False)),
                       ("gqa-2layer", (16, 24, 2, 4, 2, 512, 8, True))):
        ck = checkpoint(*args, rng)
        write(os.path.join(out, "llama2c", name), struct.pack("<I", len(ck)) + ck + tok)
        n += 1
    return n


def sampler_seeds(out):
    rng = random.Random(9)
    n = 0
    for i in range(24):
        mode = rng.randrange(256)
        body = bytes([mode]) + struct.pack(">H", rng.choice([1, 2, 50, 512, 1000]))
        body += struct.pack(">I", rng.getrandbits(32)) + struct.pack(">I", rng.getrandbits(23))
        vals = [0.0, 1.0, 0.5, 0.95, -1.0, 2.0, 1e-30, 1e30, float("inf"), float("nan"), 40.0, 0.05]
        body += b"".join(struct.pack(">f", rng.choice(vals)) for _ in range(64))
        write(os.path.join(out, "sampler", "s%02d" % i), body)
        n += 1
    return n


def main():
    shared, out = sys.argv[1], sys.argv[2]
    n = tokenize_seeds(shared, out) + tiktoken_seeds(shared, out) + llama2c_seeds(shared, out) + sampler_seeds(out)
    print("%d seeds in %s" % (n, out))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus, made from the shared models:

* every shared GGUF model shrunk to a tiny one of the same architecture:
  its metadata and tokenizer kept, the dimensions cut (embedding 16 or 32,
  one block, 2 heads), fresh small f32 weights (or q8_0 / q4_0 / q4_K ones
  for the llama variants of those types), so a fuzzed input loads and runs
  in well under a millisecond;
* the first 64 KiB of every shared model (headers: metadata and tensor
  directories as the real converters write them).

usage: make_seeds.py SHARED_DIR OUT_DIR
"""
import os
import random
import struct
import sys

ALIGN = 32
T_U32, T_F32, T_STR, T_ARR = 4, 6, 8, 9
SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
F32, Q4_0, Q8_0, Q4_K = 0, 2, 8, 12
BLOCK = {F32: (1, 4), Q4_0: (32, 18), Q8_0: (32, 34), Q4_K: (256, 144)}


def read_gguf(path):
    """Returns (kvs, tensors): kvs as [key, type, raw value bytes], tensors as (name, shape)."""
    d = open(path, "rb").read()
    o = 0

    def u(fmt):
        nonlocal o
        v = struct.unpack_from("<" + fmt, d, o)[0]
        o += struct.calcsize(fmt)
        return v

    def skip_value(t):
        nonlocal o
        if t == T_STR:
            n = u("Q")  # read first: u() moves o
            o += n
        elif t == T_ARR:
            et, n = u("I"), u("Q")
            for _ in range(n):
                skip_value(et)
        else:
            o += SCALAR[t]

    assert d[:4] == b"GGUF"
    o = 8
    nt, nk = u("Q"), u("Q")
    kvs = []
    for _ in range(nk):
        n = u("Q")
        key = d[o:o + n].decode()
        o += n
        t = u("I")
        start = o
        skip_value(t)
        kvs.append([key, t, d[start:o]])
    tensors = []
    for _ in range(nt):
        n = u("Q")
        name = d[o:o + n].decode()
        o += n
        nd = u("I")
        shape = [u("Q") for _ in range(nd)]
        u("I"), u("Q")
        tensors.append((name, shape))
    return kvs, tensors


def s_bytes(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(path, kvs, tensors):
    """tensors: (name, shape, type, data bytes)."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for key, t, raw in kvs:
        out += s_bytes(key) + struct.pack("<I", t) + raw
    off = 0
    offsets = []
    for name, shape, typ, data in tensors:
        offsets.append(off)
        off += (len(data) + ALIGN - 1) // ALIGN * ALIGN
    for (name, shape, typ, data), o in zip(tensors, offsets):
        out += s_bytes(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", x) for x in shape)
        out += struct.pack("<IQ", typ, o)
    out += b"\0" * (-len(out) % ALIGN)
    for name, shape, typ, data in tensors:
        out += data + b"\0" * (-len(data) % ALIGN)
    with open(path, "wb") as f:
        f.write(out)


def weights(shape, typ, rng):
    n = 1
    for x in shape:
        n *= x
    if typ == F32 or len(shape) == 1:
        return struct.pack("<%df" % n, *[rng.gauss(0, 0.3) for _ in range(n)]), F32
    be, bb = BLOCK[typ]
    blocks = bytearray(rng.getrandbits(8) for _ in range(n // be * bb))
    for b in range(n // be):  # sane half-precision scales (0.01..0.06)
        at = b * bb + (208 if typ == 14 else 0)
        struct.pack_into("<H", blocks, at, 0x2000 + rng.randrange(0x800))
        if typ == Q4_K:
            struct.pack_into("<H", blocks, at + 2, 0x2000 + rng.randrange(0x800))
    return bytes(blocks), typ


def shrink(src, dst, typ, seed):
    kvs, tensors = read_gguf(src)
    arch = next(raw for k, t, raw in kvs if k == "general.architecture")[8:].decode()
    E = 256 if typ == Q4_K else (32 if typ != F32 else 16)
    F, H, CTX = 2 * E, 2, 32
    D = E // H
    old = {k: raw for k, t, raw in kvs}
    heads = struct.unpack("<I", old[arch + ".attention.head_count"])[0]
    kv_heads = struct.unpack("<I", old.get(arch + ".attention.head_count_kv", struct.pack("<I", heads)))[0]
    HKV = 1 if kv_heads < heads else H  # keep grouped-query attention where the model has it
    new = {"embedding_length": E, "block_count": 1, "feed_forward_length": F, "attention.head_count": H,
           "attention.head_count_kv": HKV, "context_length": CTX, "rope.dimension_count": D,
           "attention.sliding_window": CTX}
    for kv in kvs:
        suffix = kv[0][len(arch) + 1:]
        if kv[0].startswith(arch + ".") and suffix in new:
            kv[1], kv[2] = T_U32, struct.pack("<I", new[suffix])
    V = next(shape for name, shape in tensors if name == "token_embd.weight")[1]
    old_f = struct.unpack("<I", old[arch + ".feed_forward_length"])[0]
    KVD, QKV = HKV * D, E + 2 * HKV * D
    rng = random.Random(seed)
    out = []
    for name, shape in tensors:
        if name.startswith("blk.") and not name.startswith("blk.0."):
            continue
        role = name[6:] if name.startswith("blk.0.") else name
        if role in ("token_embd.weight", "output.weight"):
            mapped = [E, V]
        elif role == "position_embd.weight":
            mapped = [E, CTX]
        elif role == "token_types.weight":
            mapped = [E, shape[1]]
        elif "norm" in role or role in ("attn_q.bias", "attn_output.bias", "ffn_down.bias"):
            mapped = [E]
        elif role in ("attn_k.bias", "attn_v.bias"):
            mapped = [KVD]
        elif role == "attn_qkv.bias":
            mapped = [QKV]
        elif role == "ffn_up.bias":
            mapped = [F]
        elif role in ("attn_q.weight", "attn_output.weight"):
            mapped = [E, E]
        elif role in ("attn_k.weight", "attn_v.weight"):
            mapped = [E, KVD]
        elif role == "attn_qkv.weight":
            mapped = [E, QKV]
        elif role in ("ffn_gate.weight", "ffn_up.weight"):
            mapped = [E, 2 * F if shape[1] == 2 * old_f else F]
        elif role == "ffn_down.weight":
            mapped = [F, E]
        else:
            raise SystemExit("%s: no rule to shrink tensor %s" % (src, name))
        data, t = weights(mapped, typ if "norm" not in name else F32, rng)
        out.append((name, mapped, t, data))
    write_gguf(dst, kvs, out)


def main():
    shared, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    models = os.path.join(shared, "models")
    n = 0
    for i, f in enumerate(sorted(os.listdir(models))):
        path = os.path.join(models, f)
        with open(path, "rb") as src, open(os.path.join(dst, "head-" + f), "wb") as out:
            out.write(src.read(65536))
        n += 1
        if (not f.endswith(".f32.gguf") and f != "stories260K.gguf") or f.startswith("llama-gqa"):
            continue  # (llama-gqa's 32000-token vocabulary would make a 2 MB seed)
        shrink(path, os.path.join(dst, "tiny-" + f), F32, i)
        n += 1
        if f.startswith("llama-k256"):
            for typ, name in ((Q8_0, "q8_0"), (Q4_0, "q4_0"), (Q4_K, "q4_k")):
                shrink(path, os.path.join(dst, "tiny-llama-%s.gguf" % name), typ, i)
                n += 1
    print("%d seeds in %s" % (n, dst))


if __name__ == "__main__":
    main()

"""The Python binding end to end (run by meson test with FM_LIBRARY and
FM_TEST_DATA set). Reproduces the core runtime's acceptance 1."""
import json
import math
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fm  # noqa: E402

DATA = os.environ.get("FM_TEST_DATA", "")


def data(rel):
    if not os.path.isdir(DATA):
        raise RuntimeError("test data folder %r is missing" % DATA)
    return os.path.join(DATA, rel)


class TestBinding(unittest.TestCase):
    def test_greedy_text_llama2c(self):
        with open(data("reference/stories260K-llama2c/once-upon-a-time.greedy256.txt"), encoding="utf-8") as f:
            want = f.read()
        with fm.Model(data("models/stories260K.bin"), data("models/tok512.bin")) as m:
            self.assertEqual(m.tokenize("Once upon a time"), [1, 403, 407, 261, 378])
            got = "".join(m.generate("Once upon a time", n=252, temperature=0, echo=True, n_threads=1)) + "\n"
        self.assertEqual(got, want)

    def test_greedy_ids_gguf(self):
        with open(data("reference/stories260K/long_greedy.txt")) as f:
            want = [int(x) for x in f.read().split("\n")[1].split()]
        with fm.Model(data("models/stories260K.gguf")) as m:
            got = list(m.generate("Once upon a time", n=256, temperature=0, ids=True, ignore_eos=True, n_ctx=512))
        self.assertEqual(got, want)

    def test_seeded_sampling_repeats(self):
        with fm.Model(data("models/stories260K.gguf")) as m:
            a = list(m.generate("Once", n=40, temperature=1.0, seed=5, ids=True, ignore_eos=True))
            b = list(m.generate("Once", n=40, temperature=1.0, seed=5, ids=True, ignore_eos=True))
        self.assertEqual(a, b)

    def test_stop_strings_and_sampling_options(self):
        with open(data("reference/stories260K-llama2c/once-upon-a-time.greedy256.txt"), encoding="utf-8") as f:
            full = f.read()
        with fm.Model(data("models/stories260K.gguf")) as m:
            gen = full[len("Once upon a time"):]
            for stop in ("She loved", " red", ["ball", "She loved"]):
                got = "".join(m.generate("Once upon a time", n=252, temperature=0, stop=stop, n_threads=1))
                first = min(gen.index(x) for x in ([stop] if isinstance(stop, str) else stop))
                self.assertEqual(got, gen[:first], stop)
            greedy = list(m.generate("Once upon a time", n=20, temperature=0, ids=True))
            banned = list(m.generate("Once upon a time", n=20, temperature=0, ids=True,
                                     logit_bias={greedy[0]: -math.inf}))
            self.assertNotEqual(banned[0], greedy[0])
            pen = list(m.generate("Once upon a time", n=40, temperature=0, ids=True, repeat_penalty=2.0))
            self.assertNotEqual(pen, list(m.generate("Once upon a time", n=40, temperature=0, ids=True)))
            a = list(m.generate("Once", n=30, ids=True, seed=3, mirostat=2, dry_multiplier=0.8, typical_p=0.9))
            b = list(m.generate("Once", n=30, ids=True, seed=3, mirostat=2, dry_multiplier=0.8, typical_p=0.9))
            self.assertEqual(a, b)
            with self.assertRaises(TypeError):
                list(m.generate("Once", n=3, no_such_option=1))
            with self.assertRaises(fm.FmError):
                list(m.generate("Once", n=3, mirostat=7))

    def test_tokenizer_round_trip(self):
        tok = fm.Tokenizer.load(data("vocab/ggml-vocab-llama-spm.gguf"))
        text = "Hello world, ünïcödé 日本 🙂"
        ids = tok.encode(text)
        self.assertEqual(ids[0], tok.special("bos"))
        self.assertEqual(tok.decode(ids), text)
        self.assertEqual(tok.encode("Hello world", add_special=False), [15043, 3186])
        tok.close()

    def test_quantize(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "q8.gguf")
            seen = []
            fm.quantize(data("models/llama-k256.f32.gguf"), out, "q8_0", pure=True, progress=seen.append)
            self.assertEqual(seen[-1], 1.0)
            with fm.Model(out) as m:
                self.assertEqual(m.tokenize("Once upon a time"), [1, 403, 407, 261, 378])
            with self.assertRaises(fm.FmError) as e:
                fm.quantize(data("models/llama-k256.q4_0.gguf"), out + "2", "Q4_K_M")
            self.assertEqual(e.exception.status, "FM_STATUS_UNSUPPORTED")
            with self.assertRaises(fm.FmError) as e:
                fm.quantize(data("models/llama-k256.f32.gguf"), out + "3", "Q9_K")
            self.assertEqual(e.exception.status, "FM_STATUS_NOT_FOUND")
            with self.assertRaises(fm.FmError) as e:
                fm.quantize(data("models/llama-k256.f32.gguf"), out + "4", "Q8_0", progress=lambda done: True)
            self.assertEqual(e.exception.status, "FM_STATUS_CANCELLED")
            self.assertEqual(sorted(os.listdir(d)), ["q8.gguf"])

    def test_errors(self):
        with self.assertRaises(fm.FmError) as cm:
            fm.Model("/nonexistent.gguf")
        self.assertEqual(cm.exception.status, "FM_STATUS_IO")
        self.assertIn("/nonexistent.gguf", str(cm.exception))
        tok = fm.Tokenizer.load(data("models/tok512.bin"))
        with self.assertRaises(fm.FmError) as cm:
            tok.encode(b"bad \xff utf-8")
        self.assertEqual(cm.exception.status, "FM_STATUS_INVALID_UTF8")

    def test_embeddings(self):
        # BERT mean pooling equals llama.cpp's reference within its 3e-3 bound
        import struct
        with fm.Model(data("models/bert-wpm4k.f32.gguf")) as m:
            info = m.info()
            self.assertEqual((info["arch"], info["n_embd"], info["is_encoder"], info["pooling"]), ("bert", 64, 1, 1))
            got = m.embed("Hello world")
            with open(data("reference/bert-wpm4k.f32/embeddings_mean.f32"), "rb") as f:
                want = struct.unpack("<64f", f.read(256))
            self.assertEqual(len(got), 64)
            self.assertLess(max(abs(a - b) for a, b in zip(got, want)), 3e-3)
            unit = m.embed("Hello world", normalize=True)
            self.assertAlmostEqual(sum(v * v for v in unit), 1.0, places=5)
            rows = m.embed("Hello world", pooling="none")
            self.assertEqual((len(rows), len(rows[0])), (5, 64))  # [CLS] hello wor ##ld [SEP]: 5 ids
            with self.assertRaises(fm.FmError) as e:  # more tokens than its 512 learned positions
                m.embed("word " * 600)
            self.assertEqual(e.exception.status, "FM_STATUS_INVALID_ARGUMENT")
        with fm.Model(data("models/stories260K.gguf")) as m:
            self.assertEqual(len(m.embed("Once upon a time", pooling="last")), 64)

    def test_context_sequences_and_state(self):
        with fm.Model(data("models/stories260K.gguf")) as m:
            a, b = m.tokenize("Once upon a time"), m.tokenize("The little dog")
            with fm.Context(m, n_ctx=64, batch_invariant=True) as alone:
                alone.decode(a)
                want_a = alone.logits()
                alone.clear()
                alone.decode(b)
                want_b = alone.logits()
            ctx = fm.Context(m, n_ctx=128, n_seq_max=2, batch_invariant=True)
            entries = [(t, i, [0], i == len(a) - 1) for i, t in enumerate(a)]
            entries += [(t, i, [1], i == len(b) - 1) for i, t in enumerate(b)]
            ctx.decode_batch(entries)
            self.assertEqual(ctx.logits(len(a) - 1), want_a)
            self.assertEqual(ctx.logits(-1), want_b)
            self.assertEqual(ctx.seq_pos_range(1), (0, len(b) - 1))
            self.assertEqual(ctx.seq_tokens(1), b)
            blob = ctx.save_state()
            ctx.decode_batch([(300, fm.POS_NEXT, [0], True), (300, fm.POS_NEXT, [1], True)])
            after = ctx.logits(0), ctx.logits(1)
            with fm.Context(m, n_ctx=128, n_seq_max=2, batch_invariant=True) as other:
                other.load_state(blob)
                other.decode_batch([(300, fm.POS_NEXT, [0], True), (300, fm.POS_NEXT, [1], True)])
                self.assertEqual((other.logits(0), other.logits(1)), after)
                with self.assertRaises(fm.FmError) as e:
                    other.load_state(blob[:-5])
                self.assertEqual(e.exception.status, "FM_STATUS_BAD_FORMAT")
            ctx.seq_keep(1)
            self.assertEqual(ctx.seq_pos_range(0), (-1, -1))
            with self.assertRaises(fm.FmError):
                ctx.seq_rm(2)
            ctx.close()
            with self.assertRaises(ValueError):
                ctx.decode(a)

    def test_callbacks(self):
        seen = []
        with fm.Model(data("models/stories260K.gguf"), progress=lambda d: seen.append(d)) as m:
            self.assertEqual(seen, [0.0, 0.5, 1.0])
            calls = []
            with fm.Context(m, n_ctx=32, abort=lambda: len(calls) > 2 or calls.append(1)) as ctx:
                with self.assertRaises(fm.FmError) as e:
                    ctx.decode(m.tokenize("Once upon"))
                self.assertEqual(e.exception.status, "FM_STATUS_ABORTED")
                self.assertEqual(ctx.n_past, 0)
        with self.assertRaises(fm.FmError) as e:
            fm.Model(data("models/stories260K.gguf"), progress=lambda d: d >= 0.5)
        self.assertEqual(e.exception.status, "FM_STATUS_CANCELLED")

    def test_chat_templates_match_the_fixtures(self):
        folder = data("reference/chat")
        n = 0
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                fx = json.load(f)
            with fm.ChatTemplate(fx["template"]) as t:
                for case in fx["cases"]:
                    kw = dict(add_generation_prompt=case["add_generation_prompt"], bos_token=fx["bos_token"],
                              eos_token=fx["eos_token"], tools=case.get("tools"), now=1785024000)
                    if "error" in case:
                        with self.assertRaises(fm.FmError) as e:
                            t.render(case["messages"], **kw)
                        self.assertIn(case["error"], str(e.exception))
                    else:
                        self.assertEqual(t.render(case["messages"], **kw), case["expected"], name + " " + case["id"])
                    n += 1
        self.assertGreaterEqual(n, 250)
        self.assertIn("chatml", fm.ChatTemplate.builtin_names())
        with self.assertRaises(fm.FmError) as e:
            fm.ChatTemplate("{% for m in messages %}")
        self.assertIn("line 1, column 4", str(e.exception))

    def test_chat(self):
        msgs = [{"role": "user", "content": "Tell me a story about a cat."}]
        with fm.Model(data("models/stories260K.gguf")) as m:
            with self.assertRaises(fm.FmError) as e:
                m.chat_template()  # stories260K's file has none
            self.assertEqual(e.exception.status, "FM_STATUS_NOT_FOUND")
            reply = m.chat(msgs, n=16, temperature=0, n_ctx=512, n_threads=1)
            text = "<|im_start|>user\nTell me a story about a cat.<|im_end|>\n<|im_start|>assistant\n"
            self.assertEqual(m.chat_prompt(msgs), [1] + m.tokenize(text, add_special=False))
            want = "".join(m.generate([1] + m.tokenize(text, add_special=False), n=16, temperature=0, n_ctx=512,
                                      n_threads=1, stop=["<|im_end|>", "<|im_start|>"]))
            self.assertEqual(reply, want)
            self.assertNotEqual(reply, "")
            self.assertEqual(m.chat(msgs, template="chatml", n=16, temperature=0, n_ctx=512, n_threads=1), reply)

    def test_score_classify_against_logits(self):
        def log_softmax(row, t):
            mx = max(row)
            return row[t] - mx - math.log(math.fsum(math.exp(x - mx) for x in row))

        with fm.Model(data("models/stories260K.gguf")) as m:
            prompt, cont = "Once upon a time, there was a little girl", " named Lily. She"
            r = m.score(prompt, cont, top_k=3)
            p = m.tokenize(prompt)
            c = m.tokenizer.encode(cont, add_special=False, continuation=True)
            self.assertEqual(r["tokens"], c)
            with fm.Context(m, n_ctx=64, n_threads=1) as ctx:
                ctx.decode(p + c, all_logits=True)
                rows = [ctx.logits(len(p) - 1 + i) for i in range(len(c))]
            for i, t in enumerate(c):
                self.assertAlmostEqual(r["logprobs"][i], log_softmax(rows[i], t), delta=1e-4)
                self.assertEqual(r["ranks"][i], sum(1 for x in rows[i] if x > rows[i][t]))
                best = max(range(len(rows[i])), key=lambda v: (rows[i][v], -v))
                self.assertEqual(r["top"][i][0][0], best)
                self.assertAlmostEqual(r["top"][i][0][1], log_softmax(rows[i], best), delta=1e-4)
            self.assertAlmostEqual(r["sum"], math.fsum(r["logprobs"]), delta=1e-9)
            labels = [" girl", " dog", " big red ball"]
            got = m.classify("Once upon a time, there was a little", labels)
            self.assertEqual(sorted(g[0] for g in got), sorted(labels))
            self.assertAlmostEqual(sum(g[2] for g in got), 1.0, delta=1e-12)
            for label, lp, _ in got:
                self.assertAlmostEqual(lp, m.score("Once upon a time, there was a little", label)["sum"], delta=1e-5)
            self.assertEqual([g[1] for g in got], sorted((g[1] for g in got), reverse=True))
            with self.assertRaises(ValueError):
                m.score("x", "")

    def test_perplexity_equals_llama_perplexity(self):
        with open(data("reference/perplexity/README.md"), encoding="utf-8") as f:
            ref = f.read()
        want = [float(v) for v in re.findall(r"\[\d+\](\d+\.\d+)", ref)]
        final = re.search(r"Final estimate: PPL = (\d+\.\d+) \+/- (\d+\.\d+)", ref)
        with open(data("corpus/en-prose.txt"), encoding="utf-8") as f:
            text = f.read()
        with fm.Model(data("models/stories260K.gguf")) as m:
            ppl, err, running = m.perplexity(text, n_ctx=128, chunks=40, n_threads=1)
        # the reference prints 4 decimals; score() evaluates 127 of each
        # chunk's 128 tokens (the last needs no logits), a batch shape whose
        # float sums differ from a full decode's by ~1e-7 relative
        self.assertEqual(len(running), 40)
        for got, ref_v in zip(running, want):
            self.assertAlmostEqual(got, ref_v, delta=5e-5 + 1e-6 * ref_v)
        self.assertAlmostEqual(ppl, float(final.group(1)), delta=6e-5)
        self.assertAlmostEqual(err, float(final.group(2)), delta=6e-6)

    def test_lifetimes_never_crash(self):
        ids = None
        m = fm.Model(data("models/stories260K.gguf"))
        ids = m.tokenize("Once upon a time")
        tok = m.tokenizer
        # a generator suspended when its model is closed raises on its next step
        g = m.generate("Once upon a time", n=50, temperature=0, ids=True)
        first = next(g)
        ctx = fm.Context(m, n_ctx=64)
        m.close()
        with self.assertRaises(fm.ClosedError):
            next(g)
        for call in (lambda: m.tokenize("x"), lambda: tok.encode("x"), lambda: tok.n_vocab, m.info,
                     lambda: m.embed("x"), lambda: list(m.generate("x", n=2)), lambda: m.detokenize([1]),
                     lambda: m.chat([{"role": "user", "content": "x"}]), lambda: m.score("a", " b"),
                     lambda: fm.Context(m), m.chat_template):
            with self.assertRaises(fm.ClosedError):
                call()
        self.assertIsNotNone(m._h)  # the open context keeps the weights
        ctx.decode(ids)  # and works
        self.assertEqual(len(ctx.logits()), 512)
        self.assertEqual(max(range(512), key=ctx.logits().__getitem__), first)
        ctx.close()
        self.assertIsNone(m._h)  # freed with its last user
        for call in (lambda: ctx.decode(ids), ctx.logits, ctx.clear, lambda: ctx.seq_tokens(0),
                     ctx.save_state, lambda: ctx.score(ids, [1])):
            with self.assertRaises(fm.ClosedError):
                call()
        ctx.close()
        m.close()  # twice is fine
        self.assertTrue(issubclass(fm.ClosedError, fm.Error) and issubclass(fm.ClosedError, ValueError))
        t = fm.ChatTemplate.builtin("chatml")
        t.close()
        with self.assertRaises(fm.ClosedError):
            t.render([])
        st = fm.Tokenizer.load(data("models/tok512.bin"))
        st.close()
        with self.assertRaises(fm.ClosedError):
            st.encode("x")
        # one error class per status
        with fm.Model(data("models/stories260K.gguf")) as m2:
            with fm.Context(m2, n_ctx=8) as c2:
                with self.assertRaises(fm.ContextFullError) as e:
                    c2.decode(list(range(1, 12)))
                self.assertEqual((e.exception.status, e.exception.code), ("FM_STATUS_CONTEXT_FULL", -6))
                self.assertIsInstance(e.exception, fm.FmError)
            with self.assertRaises(fm.NotFoundError):
                m2.chat_template()
        with self.assertRaises(fm.IoError):
            fm.Model(data("models/no-such-file.gguf"))

    def test_library_lookup_errors(self):
        import subprocess
        code = "import sys; sys.path.insert(0, %r); import fm" % os.path.join(os.path.dirname(__file__), "..")
        env = dict(os.environ, FM_LIBRARY="/nonexistent/libfm.so")
        env.pop("LD_PRELOAD", None)
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"FM_LIBRARY=/nonexistent/libfm.so cannot be loaded", r.stderr)
        env.pop("FM_LIBRARY")
        env.pop("LD_LIBRARY_PATH", None)
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
        if r.returncode != 0:  # no libfm installed on this machine: the message says what was tried
            self.assertIn(b"beside the package", r.stderr)
            self.assertIn(b"system loader: libfm.so.1", r.stderr)

    def test_completion_calls(self):
        with fm.Model(data("models/stories260K.gguf")) as m:
            want = "".join(m.generate("Once upon a time", n=12, temperature=0))
            # a continuation keeps its first token's space (only an echoed prompt loses the dummy prefix)
            self.assertEqual("".join(m.generate("Once upon a", n=3, temperature=0)), " time, there")
            r = m.create_completion("Once upon a time", max_tokens=12, temperature=0, logprobs=3)
            self.assertEqual(r["object"], "text_completion")
            c = r["choices"][0]
            self.assertEqual((c["text"], c["finish_reason"]), (want, "length"))
            self.assertEqual(r["usage"], {"prompt_tokens": 5, "completion_tokens": 12, "total_tokens": 17})
            ids = list(m.generate("Once upon a time", n=12, temperature=0, ids=True))
            with fm.Context(m, n_ctx=32) as ctx:
                ref = ctx.score(m.tokenize("Once upon a time"), ids)
            self.assertEqual(c["logprobs"]["token_logprobs"], ref["logprobs"])  # the C scoring call's numbers
            self.assertEqual("".join(c["logprobs"]["tokens"]), want)
            for lp, top in zip(c["logprobs"]["token_logprobs"], c["logprobs"]["top_logprobs"]):
                self.assertEqual(len(top), 3)
                self.assertAlmostEqual(max(top.values()), lp, delta=1e-12)  # greedy: the best one
            chunks = list(m.create_completion("Once upon a time", max_tokens=12, temperature=0, stream=True))
            self.assertEqual("".join(ch["choices"][0]["text"] for ch in chunks), want)
            self.assertEqual([ch["choices"][0]["finish_reason"] for ch in chunks][-1], "length")
            self.assertTrue(all(ch["id"] == chunks[0]["id"] for ch in chunks))
            stopped = m.create_completion("Once upon a time", max_tokens=12, temperature=0, stop=" little")
            self.assertEqual(stopped["choices"][0]["text"], want[:want.index(" little")])
            self.assertEqual(stopped["choices"][0]["finish_reason"], "stop")

            # chat, with its output constrained by a JSON Schema
            schema = {"type": "object", "additionalProperties": False, "required": ["name", "age", "pet"],
                      "properties": {"name": {"type": "string", "maxLength": 6},
                                     "age": {"type": "integer", "minimum": 1, "maximum": 99},
                                     "pet": {"enum": ["cat", "dog"]}}}
            msgs = [{"role": "user", "content": "Give me JSON."}]
            r = m.create_chat_completion(msgs, response_format={"type": "json_object", "schema": schema},
                                         temperature=0, max_tokens=64, n_ctx=512)
            self.assertEqual(r["object"], "chat.completion")
            msg = r["choices"][0]["message"]
            self.assertEqual((msg["role"], r["choices"][0]["finish_reason"]), ("assistant", "stop"))
            obj = json.loads(msg["content"])
            self.assertEqual(sorted(obj), ["age", "name", "pet"])
            self.assertTrue(1 <= obj["age"] <= 99 and obj["pet"] in ("cat", "dog") and len(obj["name"]) <= 6, obj)
            r2 = m.create_chat_completion(msgs, response_format={"type": "json_schema", "json_schema": {"schema": schema}},
                                          temperature=0, max_tokens=64, n_ctx=512)
            self.assertEqual(r2["choices"][0]["message"]["content"], msg["content"])
            plain = m.create_chat_completion(msgs, temperature=0, max_tokens=10, n_ctx=512)
            self.assertEqual(plain["choices"][0]["message"]["content"],
                             m.chat(msgs, n=10, temperature=0, n_ctx=512, top_k=40, top_p=0.95, min_p=0.05))
            chunks = list(m.create_chat_completion(msgs, temperature=0, max_tokens=10, n_ctx=512, stream=True))
            self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant"})
            self.assertEqual("".join(ch["choices"][0]["delta"].get("content", "") for ch in chunks),
                             plain["choices"][0]["message"]["content"])
            self.assertEqual(chunks[-1]["choices"][0]["finish_reason"], "length")
            with self.assertRaises(ValueError):
                m.create_chat_completion(msgs, response_format={"type": "xml"})
            with self.assertRaises(fm.InvalidArgumentError):
                fm.Grammar.from_json_schema('{"type": "nonsense"}')
            vecs = m.embed(["Once upon a time", "The little dog"])
            self.assertEqual([len(v) for v in vecs], [64, 64])
            self.assertEqual(vecs[1], m.embed("The little dog"))

    def test_sampler_and_persistent_context(self):
        with fm.Model(data("models/stories260K.gguf")) as m:
            p1 = m.tokenize("Once upon a time")
            want = list(m.generate(p1, n=20, temperature=0, ids=True))
            greedy = fm.Sampler.chain().greedy()
            self.assertEqual(greedy.steps, ["greedy"])
            with fm.Context(m, n_ctx=128) as ctx:
                got = list(ctx.generate(p1, greedy, n=20))
                self.assertEqual((got, ctx.reused), (want, 0))
                # the next prompt extends the first and its answer: only the new tokens are decoded
                p2 = p1 + got + m.tokenizer.encode(" The end.", add_special=False, continuation=True)
                more = list(ctx.generate(p2, greedy, n=10))
                self.assertEqual(ctx.reused, len(p1) + len(got))
                self.assertEqual(more, list(m.generate(p2, n=10, temperature=0, ids=True)))
            s = fm.Sampler.chain(seed=7).top_k(40).top_p(0.9).min_p(0.05).temperature(0.8).dist()
            self.assertEqual(s.steps, ["top-k", "top-p", "min-p", "temperature", "dist"])
            c = s.clone()
            with fm.Context(m, n_ctx=128) as ctx:
                a = list(ctx.generate(p1, s, n=15))
                ctx.clear()
                b = list(ctx.generate(p1, c, n=15))
            self.assertEqual(a, b)  # a clone continues the same random stream
            s.reset()
            s.set_seed(7)
            d = fm.Sampler(temperature=0.8, seed=7, top_k=40, top_p=0.9, min_p=0.05, tokenizer=m.tokenizer)
            self.assertIn("dist", d.steps)
            g = fm.Sampler.chain().grammar(fm.Grammar.from_regex("[0-9]{3}"), m.tokenizer).greedy()
            with fm.Context(m, n_ctx=64) as ctx:
                digits = m.detokenize(list(ctx.generate(p1, g, n=10)))
            self.assertRegex(digits, r"^ ?[0-9]{3}$")
            with self.assertRaises(fm.InvalidArgumentError):
                fm.Sampler.chain().top_p(2.0)
            with self.assertRaises(TypeError):
                fm.Sampler(no_such_option=1)
            s.close()
            with self.assertRaises(fm.ClosedError):
                s.top_k(3)

    def test_metadata(self):
        with fm.Model(data("models/stories260K.gguf")) as m:
            md = m.metadata()
            self.assertEqual(md["general.architecture"], "llama")
            self.assertEqual(m.meta("llama.context_length"), "128")
            self.assertEqual(md["tokenizer.ggml.tokens"], "[array of 512]")
            self.assertEqual(len(md), m.info()["n_meta"])
            with self.assertRaises(fm.NotFoundError):
                m.meta("no.such.key")
        with self.assertRaises(fm.ClosedError):
            m.metadata()

    def test_version(self):
        self.assertRegex(fm.version(), r"^\d+\.\d+\.\d+$")
        with open(os.path.join(os.path.dirname(__file__), "..", "pyproject.toml"), encoding="utf-8") as f:
            self.assertEqual(re.search(r'^version = "(.*)"', f.read(), re.M).group(1), fm.version())


if __name__ == "__main__":
    unittest.main()

// Times the npm tokenizers `tiktoken` (OpenAI's Rust core as WASM) and
// `gpt-tokenizer` (pure JS) on the corpus, as bench_tokenizer times libfm.
// usage: node bench_npm_tokenizers.mjs NODE_MODULES_PARENT CORPUS_DIR [REPS] [text]
// Medians of REPS runs per file (the adversarial files, seconds each in
// these libraries, once); "text" = natural files, "all" = every file.
// With "text": tiktoken's cl100k_base on the natural files only (the
// reference of run_tokenizer_bench.sh's paired rounds).
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const [prefix, corpusDir, repsArg, mode] = process.argv.slice(2);
const reps = Number(repsArg || 3);
const textOnly = mode === "text";
const require = createRequire(join(resolve(prefix), "package.json"));
const { get_encoding } = require("tiktoken");

const natural = (f) => !f.startsWith("adv-") && f !== "unicode-versions.txt";
const files = readdirSync(corpusDir).filter((f) => f.endsWith(".txt") && (!textOnly || natural(f))).sort();
const texts = Object.fromEntries(files.map((f) => [f, readFileSync(join(corpusDir, f), "utf8")]));
const bytes = Object.fromEntries(files.map((f) => [f, Buffer.byteLength(texts[f], "utf8")]));
const median = (v) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];

function measure(name, encode, reset) {
  let tText = 0, bText = 0, tAll = 0, bAll = 0;
  // untimed warm-up on the largest natural file: the JIT settles and the
  // WASM heap grows to what the timed runs need (else the first timed
  // file pays for it, and a round of one rep reads half speed)
  encode(texts[files.filter(natural).reduce((a, f) => (bytes[f] > bytes[a] ? f : a))]);
  for (const f of files) {
    const n = f.startsWith("adv-") ? 1 : reps;
    const times = [];
    for (let r = 0; r < n; r++) {
      reset();
      const t0 = process.hrtime.bigint();
      encode(texts[f]);
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const t = median(times);
    tAll += t;
    bAll += bytes[f];
    if (natural(f)) (tText += t), (bText += bytes[f]);
  }
  console.log(`${name.padEnd(40)} text ${(bText / tText / 1e6).toFixed(2).padStart(7)} MB/s   all ${(bAll / tAll / 1e6).toFixed(2).padStart(7)} MB/s`);
}

for (const encName of textOnly ? ["cl100k_base"] : ["cl100k_base", "o200k_base"]) {
  const enc = get_encoding(encName);
  measure(`tiktoken (npm, wasm) ${encName}`, (t) => enc.encode_ordinary(t), () => {});
  enc.free();
  if (textOnly) break;
  const gpt = require(`gpt-tokenizer/cjs/encoding/${encName}`);
  const none = { disallowedSpecial: new Set() };
  measure(`gpt-tokenizer (npm, js) ${encName}`, (t) => gpt.encode(t, none), () => gpt.clearMergeCache());
}

// Times the npm tokenizers `tiktoken` (OpenAI's Rust core as WASM) and
// `gpt-tokenizer` (pure JS) on the corpus, as bench_tokenizer times libfm.
// usage: node bench_npm_tokenizers.mjs NODE_MODULES_PARENT CORPUS_DIR [REPS]
// Medians of REPS runs per file (the adversarial files, seconds each in
// these libraries, once); "text" = natural files, "all" = every file.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const [prefix, corpusDir, repsArg] = process.argv.slice(2);
const reps = Number(repsArg || 3);
const require = createRequire(join(resolve(prefix), "package.json"));
const { get_encoding } = require("tiktoken");

const files = readdirSync(corpusDir).filter((f) => f.endsWith(".txt")).sort();
const natural = (f) => !f.startsWith("adv-") && f !== "unicode-versions.txt";
const texts = Object.fromEntries(files.map((f) => [f, readFileSync(join(corpusDir, f), "utf8")]));
const bytes = Object.fromEntries(files.map((f) => [f, Buffer.byteLength(texts[f], "utf8")]));
const median = (v) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];

function measure(name, encode, reset) {
  let tText = 0, bText = 0, tAll = 0, bAll = 0;
  encode(Object.values(texts).join("").slice(0, 10000)); // untimed warm-up
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

for (const encName of ["cl100k_base", "o200k_base"]) {
  const enc = get_encoding(encName);
  measure(`tiktoken (npm, wasm) ${encName}`, (t) => enc.encode_ordinary(t), () => {});
  enc.free();
  const gpt = require(`gpt-tokenizer/cjs/encoding/${encName}`);
  const none = { disallowedSpecial: new Set() };
  measure(`gpt-tokenizer (npm, js) ${encName}`, (t) => gpt.encode(t, none), () => gpt.clearMergeCache());
}

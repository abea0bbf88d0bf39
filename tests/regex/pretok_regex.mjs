// Shows that each hand-written pre-tokenizer equals its family's regex:
// runs the regexes (as tiktoken and llama.cpp write them) with Node's regex
// engine over every corpus file and compares the pieces with libfm's.
// usage: node pretok_regex.mjs PRETOK_DUMP CORPUS_DIR
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [dump, corpusDir] = process.argv.slice(2);

// \s is Unicode White_Space here (JS's \s adds U+FEFF and lacks U+0085).
const WS = "\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const S = `[${WS}]`, NS = `[^${WS}]`;
const fix = (re) => re.replaceAll("\\s", S).replaceAll("\\S", NS).replaceAll(`[^${S}`, `[^${WS}`).replaceAll(`[${S}`, `[${WS}`);

const GPT2 = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
const CL100K = String.raw`(?:'[sSſ]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const LLAMA3 = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN2 = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const C = String.raw`(?:'[sSſ]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])`;
const O200K = String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+${C}?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*${C}?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const DS_LETTERS = String.raw`\u{41}-\u{5A}\u{61}-\u{7A}\u{B5}\u{C0}-\u{D6}\u{D8}-\u{F6}\u{F8}-\u{1BA}\u{1BC}-\u{1BF}\u{1C4}-\u{293}\u{295}-\u{2AF}\u{370}-\u{373}\u{376}-\u{377}\u{37B}-\u{37D}\u{37F}\u{386}\u{388}-\u{38A}\u{38C}\u{38E}-\u{3A1}\u{3A3}-\u{3F5}\u{3F7}-\u{481}\u{48A}-\u{52F}\u{531}-\u{556}\u{10A0}-\u{10C5}\u{13A0}-\u{13F5}\u{13F8}-\u{13FD}\u{1C90}-\u{1CBA}\u{1CBD}-\u{1CBF}\u{1D00}-\u{1D2B}\u{1D6B}-\u{1D77}\u{1D79}-\u{1D9A}\u{1E00}-\u{1F15}\u{1F18}-\u{1F1D}\u{1F20}-\u{1F45}\u{1F48}-\u{1F4D}\u{1F50}-\u{1F57}\u{1F59}\u{1F5B}\u{1F5D}\u{1F5F}-\u{1F7D}\u{1F80}-\u{1FB4}\u{1FB6}-\u{1FBC}\u{1FBE}\u{1FC2}-\u{1FC4}\u{1FC6}-\u{1FCC}\u{1FD0}-\u{1FD3}\u{1FD6}-\u{1FDB}\u{1FE0}-\u{1FEC}\u{1FF2}-\u{1FF4}\u{1FF6}-\u{1FFC}\u{2102}\u{2107}\u{210A}-\u{2113}\u{2115}\u{2119}-\u{211D}\u{2124}\u{2126}\u{2128}\u{212A}-\u{212D}\u{212F}-\u{2134}\u{2139}\u{213C}-\u{213F}\u{2145}-\u{2149}\u{214E}\u{2183}-\u{2184}\u{2C00}-\u{2C7B}\u{2C7E}-\u{2CE4}\u{2CEB}-\u{2CEE}\u{2CF2}-\u{2CF3}\u{A640}-\u{A66D}\u{A680}-\u{A69B}\u{A722}-\u{A76F}\u{A771}-\u{A787}\u{A78B}-\u{A78E}\u{AB70}-\u{ABBF}\u{FB00}-\u{FB06}\u{FB13}-\u{FB17}\u{FF21}-\u{FF3A}\u{FF41}-\u{FF5A}\u{10400}-\u{1044F}\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}`; // the ranges of llama.cpp's explicit class, escaped

// A stage: the regex, and whether llama.cpp runs it over code points with
// non-ASCII white space replaced by U+000B (its std::wregex path).
const st = (re, wregex = false) => ({ re: new RegExp(fix(re), "gu"), wregex });
const FAMILIES = {
  "gpt-2": [st(GPT2)], r50k_base: [st(GPT2)], cl100k_base: [st(CL100K)], o200k_base: [st(O200K)],
  "llama-bpe": [st(LLAMA3)], qwen2: [st(QWEN2)],
  falcon: [st(String.raw`[\p{P}\$\+<=>\^~\|\x60]+`), st(GPT2), st("[0-9][0-9][0-9]", true)],
  default: [st(String.raw`[\p{P}\$\+<=>\^~\|]+`), st(GPT2), st(String.raw`\p{N}+`), st("[0-9][0-9][0-9]", true)],
  starcoder: [st(String.raw`\p{N}`), st(GPT2)],
  "deepseek-coder": [st("[\r\n]", true), st(String.raw`\s?\p{L}+`), st(String.raw`\s?\p{P}+`),
                     st("[一-龥ࠀ-一가-퟿]+", true), st(String.raw`\p{N}`)],
  "deepseek-llm": [st("[\r\n]", true), st(String.raw`\s?[${DS_LETTERS}]+`, true),
                   st(String.raw`\s?[!-/:-~！-／：-～‘-‟　-。]+`, true), st(String.raw`\s+$`), st("[一-龥ࠀ-一가-퟿]+", true),
                   st(String.raw`\p{N}+`)],
};

const wsRe = new RegExp(`[\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]`, "gu");

// Splits like llama.cpp's unicode_regex_split: every stage cuts every piece;
// matches and the text between them both become pieces.
function split(stages, text) {
  let pieces = [text];
  for (const { re, wregex } of stages) {
    const next = [];
    for (const p of pieces) {
      const subject = wregex ? p.replace(wsRe, "\v") : p;
      let last = 0;
      for (const m of subject.matchAll(re)) {
        if (m[0].length === 0) continue;
        if (m.index > last) next.push(p.slice(last, m.index));
        next.push(p.slice(m.index, m.index + m[0].length));
        last = m.index + m[0].length;
      }
      if (last < p.length) next.push(p.slice(last));
    }
    pieces = next;
  }
  return pieces.map((p) => Buffer.byteLength(p, "utf8"));
}

// Besides the corpus, a text drawn at random (fixed seed) from characters
// at the edges of the classes the regexes use: cased, title-case, modifier
// and other letters, the three kinds of mark (a mark can be the optional
// prefix and a letter at once), digits of all three N categories, every
// kind of white space, apostrophes before s/t/re/ſ, punctuation next to
// \r \n and '/', format characters, 4-byte symbols.
const EDGE = ["a", "z", "A", "Z", "s", "S", "t", "r", "e", "'", "'", "0", "7", " ", " ", " ", "\t", "\r", "\n", ".",
  "/", "!", "$", "`", "_", "-", "é", "É", "ª", "²", "\u00a0", "\u0085", "\u0301", "\u0903", "\u20dd", "ǅ", "ʰ",
  "中", "一", "가", "ก", "п", "П", "ſ", "٣", "Ⅻ", "\u3000", "\u2003", "、", "！", "€", "😀", "\u200d", "\u00ad"];
function edgeText(n) {
  let x = 12345, out = "";
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8;
  while (out.length < n) {
    const c = EDGE[next() % EDGE.length];
    out += next() % 4 === 0 ? c.repeat(1 + (next() % 5)) : c; // runs too
  }
  return out;
}
const tmp = mkdtempSync(join(tmpdir(), "pretok-"));
writeFileSync(join(tmp, "edge-cases.txt"), edgeText(200000));
const inputs = readdirSync(corpusDir).filter((f) => f.endsWith(".txt")).sort().map((f) => join(corpusDir, f));
inputs.push(join(tmp, "edge-cases.txt"));

let failed = 0, passed = 0;
for (const path of inputs) {
  const file = path.slice(path.lastIndexOf("/") + 1);
  if (file === "unicode-versions.txt") continue; // Node's tables are Unicode 17, libfm's 15: differ by design
  const text = readFileSync(path, "utf8");
  for (const [family, stages] of Object.entries(FAMILIES)) {
    const want = split(stages, text);
    const got = execFileSync(dump, [family, path], { maxBuffer: 1 << 28 })
      .toString().trim().split("\n").filter((x) => x !== "").map(Number);
    let i = 0;
    while (i < want.length && i < got.length && want[i] === got[i]) i++;
    if (i === want.length && i === got.length) passed++;
    else {
      failed++;
      console.log(`FAIL ${family} ${file}: piece ${i} differs (regex ${want.length} pieces, libfm ${got.length})`);
    }
  }
}
rmSync(tmp, { recursive: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

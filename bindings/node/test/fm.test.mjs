// The Node binding end to end on stories260K (run by meson test with
// FM_LIBRARY and FM_TEST_DATA set): load, tokenizer, greedy text against
// the reference, streaming, chat through chatml, JSON-schema output,
// embeddings of a list, log-probs equal to the C scoring call, saved
// state, two sequences, the event loop kept free, and every lifetime
// misuse throwing instead of crashing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fm from '../index.mjs';
import { createRequire } from 'node:module';

const DATA = process.env.FM_TEST_DATA;
if (!DATA || !fs.existsSync(DATA)) throw new Error(`test data folder ${DATA} is missing`);
const data = (rel) => path.join(DATA, rel);
const MODEL = data('models/stories260K.gguf');
const collect = async (it) => { let s = ''; for await (const p of it) s += p; return s; };

test('load, info, tokenizer round trip, ESM and CommonJS', async () => {
  const m = await fm.Model.load(MODEL);
  assert.equal(m.info().arch, 'llama');
  assert.equal(m.info().nVocab, 512);
  assert.deepEqual(m.tokenize('Once upon a time'), [1, 403, 407, 261, 378]);
  assert.equal(m.detokenize([1, 403, 407, 261, 378]), 'Once upon a time');
  assert.equal(m.tokenizer.piece(1), '<s>');
  assert.match(fm.version(), /^\d+\.\d+\.\d+$/);
  const cjs = createRequire(import.meta.url)('../fm.cjs');
  assert.equal(cjs.Model, fm.Model);
  m.close();
  await assert.rejects(fm.Model.load(data('models/none.gguf')), (e) => e instanceof fm.FmError && e.status === 'FM_STATUS_IO');
  assert.throws(() => new fm.Model(data('models/none.gguf')), { name: 'FmError', status: 'FM_STATUS_IO' });
});

test('greedy text equals the reference, streaming equals the whole', async () => {
  const m = new fm.Model(MODEL);
  const ref = fs.readFileSync(data('reference/stories260K/long_greedy_text.txt'), 'utf8');
  const got = await collect(m.generate('Once upon a time', { maxTokens: 64, temperature: 0, nCtx: 512 }));
  assert.ok(got.length > 100);
  assert.ok(ref.slice(' Once upon a time'.length).startsWith(got), got);
  const r = await m.createCompletion('Once upon a time', { maxTokens: 20, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.ok(got.startsWith(r.choices[0].text));
  assert.deepEqual(r.usage, { prompt_tokens: 5, completion_tokens: 20, total_tokens: 25 });
  let streamed = '', last = null;
  for await (const ch of await m.createCompletion('Once upon a time', { maxTokens: 20, temperature: 0, stream: true })) {
    streamed += ch.choices[0].text;
    last = ch.choices[0].finish_reason;
  }
  assert.equal(streamed, r.choices[0].text);
  assert.equal(last, 'length');
  const stopped = await m.createCompletion('Once upon a time', { maxTokens: 20, temperature: 0, stop: ' little' });
  assert.equal(stopped.choices[0].text, r.choices[0].text.slice(0, r.choices[0].text.indexOf(' little')));
  assert.equal(stopped.choices[0].finish_reason, 'stop');
  m.close();
});

test('log-probs equal the C scoring call; scores; embeddings of a list', async () => {
  const m = new fm.Model(MODEL);
  const r = await m.createCompletion('Once upon a time', { maxTokens: 8, temperature: 0, logprobs: 2 });
  const ids = m.tokenize(r.choices[0].text, { addSpecial: false, continuation: true });
  const ctx = new fm.Context(m, { nCtx: 64 });
  const s = await ctx.score(m.tokenize('Once upon a time'), ids, { topK: 2 });
  assert.deepEqual(r.choices[0].logprobs.token_logprobs, s.logprobs);
  assert.equal(r.choices[0].logprobs.tokens.join(''), r.choices[0].text);
  for (const [i, lp] of s.logprobs.entries()) {
    assert.equal(s.ranks[i], 0); // greedy
    assert.equal(s.top[i][0][1], lp);
  }
  assert.ok(Math.abs(s.sum - s.logprobs.reduce((a, b) => a + b, 0)) < 1e-9);
  ctx.close();
  const vecs = m.embed(['Once upon a time', 'The little dog']);
  assert.deepEqual(vecs.map((v) => v.length), [64, 64]);
  assert.deepEqual(Array.from(vecs[1]), Array.from(m.embed('The little dog')));
  m.close();
});

test('chat through chatml, and JSON-schema output that parses', async () => {
  const m = new fm.Model(MODEL);
  const msgs = [{ role: 'user', content: 'Tell me a story about a cat.' }];
  const text = '<|im_start|>user\nTell me a story about a cat.<|im_end|>\n<|im_start|>assistant\n';
  assert.deepEqual(m.chatPrompt(msgs), [1, ...m.tokenize(text, { addSpecial: false })]);
  const r = await m.createChatCompletion(msgs, { temperature: 0, maxTokens: 12, nCtx: 512 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  const want = await collect(m.generate(m.chatPrompt(msgs), { temperature: 0, maxTokens: 12, nCtx: 512,
                                                             stop: ['<|im_end|>', '<|im_start|>'] }));
  assert.equal(r.choices[0].message.content, want);
  const chunks = [];
  for await (const ch of await m.createChatCompletion(msgs, { temperature: 0, maxTokens: 12, nCtx: 512, stream: true })) chunks.push(ch);
  assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant' });
  assert.equal(chunks.map((c) => c.choices[0].delta.content ?? '').join(''), want);
  const schema = { type: 'object', additionalProperties: false, required: ['name', 'age', 'pet'],
                   properties: { name: { type: 'string', maxLength: 6 }, age: { type: 'integer', minimum: 1, maximum: 99 },
                                 pet: { enum: ['cat', 'dog'] } } };
  const j = await m.createChatCompletion([{ role: 'user', content: 'Give me JSON.' }],
    { temperature: 0, maxTokens: 64, nCtx: 512, responseFormat: { type: 'json_object', schema } });
  const obj = JSON.parse(j.choices[0].message.content);
  assert.deepEqual(Object.keys(obj).sort(), ['age', 'name', 'pet']);
  assert.ok(obj.age >= 1 && obj.age <= 99 && ['cat', 'dog'].includes(obj.pet) && obj.name.length <= 6);
  assert.equal(j.choices[0].finish_reason, 'stop');
  const t = fm.ChatTemplate.builtin('llama3');
  assert.equal(t.render([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true, bosToken: '<s>' }),
    '<s><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
  assert.throws(() => new fm.ChatTemplate('{% if x %}'), (e) => e.status === 'FM_STATUS_INVALID_ARGUMENT' && /line 1, column 4/.test(e.message));
  t.close();
  m.close();
});

test('saved state and two sequences', async () => {
  const m = new fm.Model(MODEL);
  const a = m.tokenize('Once upon a time'), b = m.tokenize('The little dog');
  const ctx = new fm.Context(m, { nCtx: 64, nSeqMax: 2 });
  await ctx.decode(a);
  const la = ctx.logits();
  const blob = ctx.saveState();
  assert.ok(blob.length > 0);
  ctx.clear();
  await ctx.decode(b);
  const lb = ctx.logits();
  ctx.loadState(blob);
  assert.deepEqual(ctx.seqTokens(0), a);
  ctx.clear();
  const entries = [];
  for (let i = 0; i < a.length; i++) entries.push({ token: a[i], pos: i, seqIds: [0], logits: i === a.length - 1 });
  for (let i = 0; i < b.length; i++) entries.push({ token: b[i], pos: i, seqIds: [1], logits: i === b.length - 1 });
  await ctx.decodeBatch(entries);
  const ga = ctx.logits(a.length - 1), gb = ctx.logits(-1);
  for (let v = 0; v < 512; v++) {
    assert.ok(Math.abs(ga[v] - la[v]) < 1e-4 && Math.abs(gb[v] - lb[v]) < 1e-4);
  }
  assert.deepEqual(ctx.seqTokens(1), b);
  const full = new fm.Context(m, { nCtx: 4 });
  await assert.rejects(full.decode(a), (e) => e.status === 'FM_STATUS_CONTEXT_FULL');
  full.close();
  ctx.close();
  m.close();
});

test('the event loop keeps running during a generation', async () => {
  const m = new fm.Model(MODEL);
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 0);
  let out;
  try {
    out = await collect(m.generate('Once upon a time', { maxTokens: 200, temperature: 0, nCtx: 512 }));
  } finally {
    clearInterval(timer);
  }
  assert.ok(out.length > 0);
  assert.ok(ticks > 10, `only ${ticks} timer ticks during the generation`);
  m.close();
});

test('lifetime misuse throws, never crashes', async () => {
  const m = new fm.Model(MODEL);
  const ids = m.tokenize('Once upon a time');
  const gen = m.generate('Once upon a time', { maxTokens: 50, temperature: 0 });
  const first = await gen.next();
  assert.equal(first.done, false);
  const ctx = new fm.Context(m, { nCtx: 64 });
  m.close();
  await assert.rejects(gen.next(), { name: 'FmError', status: 'closed' });
  for (const call of [() => m.tokenize('x'), () => m.tokenizer.encode('x'), () => m.info(), () => m.embed('x'),
                      () => m.detokenize([1]), () => new fm.Context(m), () => m.chatPrompt([])]) {
    assert.throws(call, { name: 'FmError', status: 'closed' });
  }
  await assert.rejects(m.createCompletion([1, 2], { maxTokens: 2 }), { status: 'closed' });
  await ctx.decode(ids); // the context keeps the weights
  assert.equal(ctx.logits().length, 512);
  // closed while a decode runs on a worker thread: freed when it returns
  const pending = ctx.decode([13]);
  ctx.close();
  await pending;
  await assert.rejects(ctx.decode(ids), { status: 'closed' });
  assert.throws(() => ctx.logits(), { status: 'closed' });
  assert.throws(() => ctx.seqTokens(0), { status: 'closed' });
  assert.throws(() => ctx.saveState(), { status: 'closed' });
  ctx.close();
  m.close();
  const g = fm.Grammar.fromRegex('[0-9]+');
  g.close();
  assert.throws(() => g._live(), { status: 'closed' });
  const t = fm.ChatTemplate.builtin('chatml');
  t.close();
  assert.throws(() => t.render([]), { status: 'closed' });
  assert.throws(() => fm.Grammar.fromJsonSchema('{"type": "nonsense"}'), { status: 'FM_STATUS_INVALID_ARGUMENT' });
});

test('metadata, score, a sampler chain and a persistent context', async () => {
  const m = new fm.Model(MODEL);
  const md = m.metadata();
  assert.equal(md['general.architecture'], 'llama');
  assert.equal(m.meta('llama.context_length'), '128');
  assert.equal(Object.keys(md).length, m.info().nMeta);
  assert.throws(() => m.meta('no.such.key'), { status: 'FM_STATUS_NOT_FOUND' });
  const sc = await m.score('Once upon a time', ', there was');
  assert.equal(sc.logprobs.length, sc.tokens.length);
  assert.ok(sc.sum < 0);
  const p1 = m.tokenize('Once upon a time');
  const want = [];
  for await (const t of m.generate(p1, { maxTokens: 1, temperature: 0 })) want.push(t);
  const greedy = new fm.Sampler().greedy();
  assert.deepEqual(greedy.steps, ['greedy']);
  const ctx = new fm.Context(m, { nCtx: 128 });
  const got = [];
  for await (const t of ctx.generate(p1, greedy, { maxTokens: 20 })) got.push(t);
  assert.equal(ctx.reused, 0);
  const text = m.detokenize(got, { stripLeadingSpace: false });
  const ref = fs.readFileSync(data('reference/stories260K/long_greedy_text.txt'), 'utf8');
  assert.ok(ref.slice(' Once upon a time'.length).startsWith(text), text);
  const p2 = [...p1, ...got, ...m.tokenize(' The end.', { addSpecial: false, continuation: true })];
  const more = [];
  for await (const t of ctx.generate(p2, greedy, { maxTokens: 5 })) more.push(t);
  assert.equal(ctx.reused, p1.length + got.length); // only the new text was decoded
  const s = new fm.Sampler({ seed: 7 }).topK(40).topP(0.9).minP(0.05).temperature(0.8).dist();
  assert.deepEqual(s.steps, ['top-k', 'top-p', 'min-p', 'temperature', 'dist']);
  const c = s.clone();
  ctx.clear();
  const a = [];
  for await (const t of ctx.generate(p1, s, { maxTokens: 10 })) a.push(t);
  ctx.clear();
  const b = [];
  for await (const t of ctx.generate(p1, c, { maxTokens: 10 })) b.push(t);
  assert.deepEqual(a, b);
  const g = new fm.Sampler().grammar(fm.Grammar.fromRegex('[0-9]{3}'), m).greedy();
  ctx.clear();
  const digits = [];
  for await (const t of ctx.generate(p1, g, { maxTokens: 10 })) digits.push(t);
  assert.match(m.detokenize(digits, { stripLeadingSpace: false }), /^ ?[0-9]{3}$/);
  assert.throws(() => new fm.Sampler().topP(2), { status: 'FM_STATUS_INVALID_ARGUMENT' });
  s.close();
  assert.throws(() => s.topK(3), { status: 'closed' });
  ctx.close();
  m.close();
});

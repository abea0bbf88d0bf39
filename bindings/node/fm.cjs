'use strict';
// libfm for Node.js over koffi (prebuilt, no compile step). The library is
// found through $FM_LIBRARY, else a copy beside this file, else the system
// loader. Long calls (model load, decode, each generation step) run on
// koffi's worker threads, so they do not block the event loop. Every call
// on a closed object throws FmError('closed'); an object closed while one of
// its calls is running is freed when that call returns.

const koffi = require('koffi');
const fs = require('fs');
const path = require('path');

const LIB_NAMES = ['libfm.so.1', 'libfm.so.0', 'libfm.so', 'libfm.dylib', 'fm.dll'];

function openLibrary() {
  const env = process.env.FM_LIBRARY;
  if (env) {
    try {
      return koffi.load(env);
    } catch (e) {
      throw new Error(`libfm: FM_LIBRARY=${env} cannot be loaded: ${e.message}`);
    }
  }
  const tried = [];
  for (const name of LIB_NAMES) {
    const p = path.join(__dirname, name);
    if (!fs.existsSync(p)) { tried.push(`beside the package: no ${p}`); continue; }
    try { return koffi.load(p); } catch (e) { tried.push(`beside the package: ${p}: ${e.message}`); }
  }
  for (const name of LIB_NAMES.slice(0, 2)) {
    try { return koffi.load(name); } catch (e) { tried.push(`system loader: ${name}: ${e.message}`); }
  }
  throw new Error('libfm not found; tried $FM_LIBRARY (unset), then\n  ' + tried.join('\n  ') +
                  "\nset FM_LIBRARY to the library's path, or install libfm");
}

const lib = openLibrary();
for (const t of ['fm_model', 'fm_tokenizer', 'fm_context', 'fm_sampler', 'fm_detokenizer', 'fm_stop', 'fm_batch',
                 'fm_grammar', 'fm_chat_template']) koffi.opaque(t);
const ModelParams = koffi.struct('fm_model_params', {
  struct_size: 'uint32_t', flags: 'uint32_t', tokenizer_path: 'const char *', progress: 'void *',
  progress_user: 'void *' });
const ContextParams = koffi.struct('fm_context_params', {
  struct_size: 'uint32_t', n_ctx: 'uint32_t', n_batch: 'uint32_t', n_threads: 'int32_t', backend: 'const char *',
  flags: 'uint32_t', kv_type: 'int32_t', n_seq_max: 'uint32_t', abort: 'void *', abort_user: 'void *' });
const ChatParams = koffi.struct('fm_chat_params', {
  struct_size: 'uint32_t', add_generation_prompt: 'int32_t', bos_token: 'const char *', eos_token: 'const char *',
  tools: 'const char *', variables: 'const char *', now: 'int64_t', max_output: 'uint64_t', max_steps: 'uint64_t' });
const ScoreParams = koffi.struct('fm_score_params', {
  struct_size: 'uint32_t', seq: 'int32_t', top_k: 'int32_t', logprobs: 'double *', ranks: 'int32_t *',
  top_tokens: 'int32_t *', top_logprobs: 'double *' });

const F = {};
for (const decl of [
  'const char *fm_version(void)',
  'const char *fm_status_name(int s)',
  'const char *fm_last_error(void)',
  'int fm_model_params_init(_Out_ fm_model_params *p, size_t size)',
  'int fm_model_load(const char *path, const fm_model_params *p, _Out_ fm_model **out)',
  'void fm_model_free(fm_model *m)',
  'fm_tokenizer *fm_model_tokenizer(fm_model *m)',
  'int64_t fm_model_get_info(fm_model *m, int what)',
  'const char *fm_model_arch(fm_model *m)',
  'int32_t fm_tokenizer_n_vocab(fm_tokenizer *t)',
  'int32_t fm_tokenizer_special(fm_tokenizer *t, int which)',
  'int fm_tokenizer_is_eog(fm_tokenizer *t, int32_t id)',
  'int fm_tokenizer_encode(fm_tokenizer *t, const char *text, size_t len, uint32_t flags, int32_t *out, size_t cap, _Out_ size_t *n)',
  'int fm_tokenizer_decode(fm_tokenizer *t, const int32_t *ids, size_t n, uint32_t flags, uint8_t *buf, size_t cap, _Out_ size_t *nb)',
  'int fm_tokenizer_token_to_piece(fm_tokenizer *t, int32_t id, uint32_t flags, uint8_t *buf, size_t cap, _Out_ size_t *nb)',
  'int fm_detokenizer_new(fm_tokenizer *t, uint32_t flags, _Out_ fm_detokenizer **out)',
  'int fm_detokenizer_push(fm_detokenizer *d, int32_t id, uint8_t *buf, size_t cap, _Out_ size_t *nb)',
  'int fm_detokenizer_flush(fm_detokenizer *d, uint8_t *buf, size_t cap, _Out_ size_t *nb)',
  'void fm_detokenizer_free(fm_detokenizer *d)',
  'int fm_stop_new(const char **strings, size_t n, _Out_ fm_stop **out)',
  'int fm_stop_feed(fm_stop *s, const uint8_t *text, size_t len, _Out_ void **out, _Out_ size_t *n)',
  'int fm_stop_flush(fm_stop *s, _Out_ void **out, _Out_ size_t *n)',
  'int32_t fm_stop_matched(fm_stop *s)',
  'void fm_stop_free(fm_stop *s)',
  'int fm_context_params_init(_Out_ fm_context_params *p, size_t size)',
  'int fm_context_new(fm_model *m, const fm_context_params *p, _Out_ fm_context **out)',
  'void fm_context_free(fm_context *c)',
  'int fm_context_decode(fm_context *c, const int32_t *ids, size_t n, uint32_t mode)',
  'void *fm_context_logits(fm_context *c, int32_t i)',
  'uint32_t fm_context_n_past(fm_context *c)',
  'int fm_context_clear(fm_context *c)',
  'int fm_context_seq_rm(fm_context *c, int32_t seq, int32_t p0, int32_t p1)',
  'int fm_context_seq_cp(fm_context *c, int32_t src, int32_t dst, int32_t p0, int32_t p1)',
  'int fm_context_seq_tokens(fm_context *c, int32_t seq, int32_t *out, size_t cap, _Out_ size_t *n)',
  'int fm_context_state_save(fm_context *c, int32_t seq, uint8_t *buf, size_t cap, _Out_ size_t *n)',
  'int fm_context_state_load(fm_context *c, int32_t seq, const uint8_t *buf, size_t len)',
  'int fm_context_embed(fm_context *c, const int32_t *ids, size_t n, int32_t pooling, uint32_t flags, float *out, size_t cap, _Out_ size_t *n_out)',
  'int fm_batch_new(_Out_ fm_batch **out)',
  'void fm_batch_free(fm_batch *b)',
  'int fm_batch_add(fm_batch *b, int32_t token, int32_t pos, const int32_t *seqs, int32_t n_seq, int logits)',
  'int fm_context_decode_batch(fm_context *c, fm_batch *b)',
  'int fm_score_params_init(_Out_ fm_score_params *p, size_t size)',
  'int fm_context_score(fm_context *c, const int32_t *prompt, size_t np, const int32_t *cont, size_t nc, const fm_score_params *p, _Out_ double *sum)',
  'int fm_sampler_new_chain(uint64_t seed, _Out_ fm_sampler **out)',
  'int fm_sampler_add_penalties(fm_sampler *s, int32_t last_n, double repeat, double freq, double presence)',
  'int fm_sampler_add_mirostat_v2(fm_sampler *s, double tau, double eta)',
  'int fm_sampler_add_xtc(fm_sampler *s, double p, double t, int32_t min_keep)',
  'void fm_sampler_reset(fm_sampler *s)',
  'int fm_sampler_clone(fm_sampler *s, _Out_ fm_sampler **out)',
  'int32_t fm_sampler_n_steps(fm_sampler *s)',
  'const char *fm_sampler_step_name(fm_sampler *s, int32_t i)',
  'int fm_model_meta(fm_model *m, const char *key, uint8_t *buf, size_t cap, _Out_ size_t *n)',
  'const char *fm_model_meta_key(fm_model *m, int64_t i)',
  'int fm_sampler_add(fm_sampler *s, int step, double value)',
  'int fm_sampler_add_grammar(fm_sampler *s, fm_grammar *g, fm_tokenizer *t)',
  'int fm_sampler_sample(fm_sampler *s, void *logits, int32_t n_vocab, _Out_ int32_t *out)',
  'int fm_sampler_accept(fm_sampler *s, int32_t token, uint32_t flags)',
  'void fm_sampler_free(fm_sampler *s)',
  'int fm_grammar_from_json_schema(const char *schema, size_t len, uint32_t flags, _Out_ fm_grammar **out)',
  'int fm_grammar_parse_gbnf(const char *text, size_t len, const char *root, _Out_ fm_grammar **out)',
  'int fm_grammar_from_regex(const char *re, size_t len, _Out_ fm_grammar **out)',
  'void fm_grammar_free(fm_grammar *g)',
  'int fm_chat_template_new(const char *text, size_t len, _Out_ fm_chat_template **out)',
  'int fm_chat_template_builtin(const char *name, _Out_ fm_chat_template **out)',
  'int fm_chat_template_from_model(fm_model *m, _Out_ fm_chat_template **out)',
  'void fm_chat_template_free(fm_chat_template *t)',
  'int fm_chat_params_init(_Out_ fm_chat_params *p, size_t size)',
  'int fm_chat_render_json(fm_chat_template *t, const char *msgs, size_t len, const fm_chat_params *p, uint8_t *buf, size_t cap, _Out_ size_t *n)',
]) {
  const f = lib.func(decl);
  F[f.info.name] = f;
}

const BUFFER_TOO_SMALL = -7;
const NOT_FOUND = -8;

/** A libfm call failed: `status` is the fm_status name ("FM_STATUS_CONTEXT_FULL",
 *  or "closed" for a call on a closed object), `code` its number. */
class FmError extends Error {
  constructor(code, message) {
    const status = code === null ? 'closed' : F.fm_status_name(code);
    super(`${message ?? F.fm_last_error()} (${status})`);
    this.name = 'FmError';
    this.status = status;
    this.code = code;
  }
}

function check(s) {
  if (s !== 0) throw new FmError(s);
}

function closed(what) {
  return new FmError(null, `the ${what} is closed`);
}

/** Runs a koffi function on a worker thread; resolves with its status checked. */
function callAsync(fn, ...args) {
  return new Promise((resolve, reject) => {
    fn.async(...args, (err, res) => {
      if (err) reject(err);
      else if (typeof res === 'number' && res !== 0) reject(new FmError(res));
      else resolve(res);
    });
  });
}

function ids32(ids) {
  return ids instanceof Int32Array ? ids : Int32Array.from(ids);
}

/** Bytes of a size-query-then-fill call: fill(buf, cap, nOut) returns a status. */
function withBuffer(fill, first = 256) {
  let cap = first;
  for (;;) {
    const buf = Buffer.alloc(Math.max(cap, 1));
    const n = [0];
    const s = fill(buf, cap, n);
    if (s === BUFFER_TOO_SMALL && n[0] > cap) { cap = n[0]; continue; }
    check(s);
    return buf.subarray(0, n[0]);
  }
}

/** Something with a native handle: close() frees it once nothing uses it. */
class Handle {
  constructor(what) { this._what = what; this._h = null; this._closed = false; this._busy = 0; }
  _live() {
    if (this._closed || !this._h) throw closed(this._what);
    return this._h;
  }
  _hold() { this._live(); this._busy++; }
  _release() { this._busy--; this._freeIfIdle(); }
  _freeIfIdle() {
    if (this._closed && this._busy === 0 && this._h) { this._free(this._h); this._h = null; }
  }
  /** No more calls (they throw); the memory goes when the last running call ends. */
  close() { this._closed = true; this._freeIfIdle(); }
}

class Tokenizer {
  constructor(model) { this._model = model; }
  _live() { this._model._live(); return this._model._tok; }
  get nVocab() { return F.fm_tokenizer_n_vocab(this._live()); }
  special(which) {
    const t = F.fm_tokenizer_special(this._live(), { bos: 0, eos: 1, unk: 2, pad: 3, sep: 4, cls: 5, mask: 6 }[which]);
    return t < 0 ? null : t;
  }
  /** Token ids of `text`. */
  encode(text, { addSpecial = true, parseSpecial = false, continuation = false } = {}) {
    const h = this._live();
    const bytes = Buffer.from(text, 'utf8');
    const flags = (addSpecial ? 0x8 : 0) | (parseSpecial ? 0x4 : 0) | (continuation ? 0x10 : 0);
    let cap = bytes.length + 8;
    for (;;) {
      const out = new Int32Array(cap);
      const n = [0];
      const s = F.fm_tokenizer_encode(h, bytes, bytes.length, flags, out, cap, n);
      if (s === BUFFER_TOO_SMALL) { cap = n[0]; continue; }
      check(s);
      return Array.from(out.subarray(0, n[0]));
    }
  }
  decode(ids, { stripLeadingSpace = true, renderSpecial = false } = {}) {
    const h = this._live();
    const a = ids32(ids);
    const flags = (stripLeadingSpace ? 0x2 : 0) | (renderSpecial ? 0x1 : 0);
    return withBuffer((b, cap, n) => F.fm_tokenizer_decode(h, a, a.length, flags, b, cap, n), 16 * a.length + 16)
      .toString('utf8');
  }
  piece(token, { renderSpecial = true } = {}) {
    const h = this._live();
    return withBuffer((b, cap, n) => F.fm_tokenizer_token_to_piece(h, token, renderSpecial ? 1 : 0, b, cap, n))
      .toString('utf8');
  }
}

/** A model file's weights and tokenizer. `new Model(path)` loads on this
 *  thread; `await Model.load(path)` on a worker thread. */
class Model extends Handle {
  constructor(path, { _handle } = {}) {
    super('model');
    this.path = path;
    if (_handle) this._h = _handle;
    else {
      const p = {}, out = [null];
      check(F.fm_model_params_init(p, koffi.sizeof(ModelParams)));
      check(F.fm_model_load(path, p, out));
      this._h = out[0];
    }
    this._tok = F.fm_model_tokenizer(this._h);
    this.tokenizer = new Tokenizer(this);
  }
  static async load(path) {
    const p = {}, out = [null];
    check(F.fm_model_params_init(p, koffi.sizeof(ModelParams)));
    await callAsync(F.fm_model_load, path, p, out);
    return new Model(path, { _handle: out[0] });
  }
  _free(h) { F.fm_model_free(h); }
  tokenize(text, opts) { return this.tokenizer.encode(text, opts); }
  detokenize(ids, opts) { return this.tokenizer.decode(ids, opts); }
  info() {
    const h = this._live();
    const names = ['nVocab', 'nEmbd', 'nLayer', 'nHead', 'nHeadKv', 'nCtxTrain', 'nFf', 'nParams', 'sizeBytes',
                   'isEncoder', 'pooling', 'nTensors', 'nMeta'];
    const d = { arch: F.fm_model_arch(h) };
    names.forEach((n, i) => { d[n] = Number(F.fm_model_get_info(h, i)); });
    return d;
  }
  /** Metadata value `key` as text (numbers in decimal, arrays as "[array of N]"). */
  meta(key) {
    const h = this._live();
    return withBuffer((b, cap, n) => {
      const st = F.fm_model_meta(h, key, b, cap, n);
      if (st === BUFFER_TOO_SMALL) n[0] += 1; /* room for the NUL */
      return st;
    }).toString('utf8').replace(/\0$/, '');
  }
  /** Every metadata key, in file order, with its value as meta() gives it. */
  metadata() {
    const h = this._live();
    const out = {};
    for (let i = 0, n = Number(F.fm_model_get_info(h, 12)); i < n; i++) {
      const k = F.fm_model_meta_key(h, i);
      out[k] = this.meta(k);
    }
    return out;
  }
  /** How likely `continuation` (text, tokenized as continuing) is after `prompt`:
   *  {tokens, logprobs, sum, ranks} from one decode (fm_context_score). */
  async score(prompt, continuation, { topK = 0 } = {}) {
    const p = this.tokenize(prompt), c = this.tokenize(continuation, { addSpecial: false, continuation: true });
    const ctx = new Context(this, { nCtx: p.length + c.length });
    try {
      return { tokens: c, ...(await ctx.score(p, c, { topK })) };
    } finally {
      ctx.close();
    }
  }
  /** Embeddings (model pooling) of a text or of each text of a list. */
  embed(texts, { normalize = false } = {}) {
    if (Array.isArray(texts)) return texts.map((t) => this.embed(t, { normalize }));
    const ids = ids32(this.tokenize(texts));
    const ctx = new Context(this, { nCtx: Math.max(ids.length, 1) });
    try {
      const n = [0];
      let s = F.fm_context_embed(ctx._live(), ids, ids.length, -1, 0, null, 0, n);
      if (s !== BUFFER_TOO_SMALL) check(s);
      const out = new Float32Array(n[0]);
      check(F.fm_context_embed(ctx._live(), ids, ids.length, -1, normalize ? 1 : 0, out, out.length, n));
      return out;
    } finally {
      ctx.close();
    }
  }
  /** The model's chat template, or chatml where the file has none. */
  chatTemplate() {
    const out = [null];
    const s = F.fm_chat_template_from_model(this._live(), out);
    if (s === NOT_FOUND) return ChatTemplate.builtin('chatml');
    check(s);
    return new ChatTemplate(null, out[0]);
  }
  /** The conversation's prompt ids through `template` (a ChatTemplate, a
   *  built-in's name, or the model's own): specials parsed, BOS added
   *  unless the template wrote it. */
  chatPrompt(messages, { template = null, tools = null } = {}) {
    const t = template instanceof ChatTemplate ? template
      : typeof template === 'string' ? ChatTemplate.builtin(template) : this.chatTemplate();
    const tok = this.tokenizer;
    const bos = tok.special('bos'), eos = tok.special('eos');
    const bosText = bos === null ? '' : tok.piece(bos), eosText = eos === null ? '' : tok.piece(eos);
    let text;
    try {
      text = t.render(messages, { addGenerationPrompt: true, bosToken: bosText, eosToken: eosText, tools });
    } finally {
      if (t !== template) t.close();
    }
    const ids = tok.encode(text, { addSpecial: false, parseSpecial: true });
    return bos !== null && !(bosText && text.startsWith(bosText)) ? [bos, ...ids] : ids;
  }
  /** Streams the continuation of `prompt` (text or ids) as text pieces:
   *  an async iterator; each decode runs on a worker thread. Options:
   *  maxTokens (128), temperature (0.8; 0 = greedy), topK, topP, minP,
   *  seed, stop (strings), grammar (a Grammar), nCtx, nThreads. */
  async *generate(prompt, opts = {}) {
    const info = opts._info ?? {};
    const maxTokens = opts.maxTokens ?? 128;
    const pIds = typeof prompt === 'string' ? this.tokenize(prompt) : Array.from(prompt);
    this._hold();
    let ctx = null, smp = null, det = null, stop = null;
    info.tokens = [];
    info.finishReason = 'length';
    try {
      ctx = new Context(this, { nCtx: opts.nCtx || pIds.length + maxTokens, nThreads: opts.nThreads ?? 0 });
      smp = makeSampler(this, opts);
      const stops = opts.stop ? (Array.isArray(opts.stop) ? opts.stop : [opts.stop]) : [];
      if (stops.length) {
        const sOut = [null];
        check(F.fm_stop_new(stops, stops.length, sOut));
        stop = sOut[0];
      }
      const dOut = [null];
      check(F.fm_detokenizer_new(this._tok, 0x2, dOut));
      det = dOut[0];
      for (const t of pIds) F.fm_sampler_accept(smp, t, 1);
      await ctx.decode(pIds);
      const nVocab = ctx.nVocab;
      const buf = Buffer.alloc(4096);
      const n = [0], o = [null], on = [0];
      const matched = () => stop !== null && F.fm_stop_matched(stop) >= 0;
      const feed = (len) => {
        if (stop === null) return buf.toString('utf8', 0, len);
        check(F.fm_stop_feed(stop, buf, len, o, on));
        return on[0] ? Buffer.from(koffi.decode(o[0], 'uint8_t', on[0])).toString('utf8') : '';
      };
      for (let i = 0; i < maxTokens; i++) {
        if (this._closed) throw closed('model');
        const tok = [0];
        check(F.fm_sampler_sample(smp, F.fm_context_logits(ctx._live(), -1), nVocab, tok));
        if (F.fm_tokenizer_is_eog(this._tok, tok[0])) { info.finishReason = 'stop'; break; }
        info.tokens.push(tok[0]);
        check(F.fm_detokenizer_push(det, tok[0], buf, buf.length, n));
        const piece = feed(n[0]);
        if (piece) yield piece;
        if (matched()) { info.finishReason = 'stop'; return; }
        if (i + 1 < maxTokens) await ctx.decode([tok[0]]);
      }
      check(F.fm_detokenizer_flush(det, buf, buf.length, n));
      let tail = feed(n[0]);
      if (stop !== null && !matched()) {
        check(F.fm_stop_flush(stop, o, on));
        if (on[0]) tail += Buffer.from(koffi.decode(o[0], 'uint8_t', on[0])).toString('utf8');
      }
      if (tail) yield tail;
    } finally {
      if (det) F.fm_detokenizer_free(det);
      if (stop) F.fm_stop_free(stop);
      if (smp) F.fm_sampler_free(smp);
      if (ctx) ctx.close();
      this._release();
    }
  }
  /** llama-cpp-python's create_completion shape: resolves with
   *  {id, object: 'text_completion', created, model, choices: [{text,
   *  index, logprobs, finish_reason}], usage}; stream: true gives an async
   *  iterator of chunks. logprobs: N adds the tokens' log-probabilities
   *  (fm_context_score) and their N best alternatives. */
  createCompletion(prompt, opts = {}) {
    const pIds = typeof prompt === 'string' ? this.tokenize(prompt) : Array.from(prompt);
    return this._complete(pIds, { maxTokens: 16, temperature: 0.8, ...opts }, false);
  }
  /** create_chat_completion's shape, through the model's chat template;
   *  responseFormat {type: 'json_object', schema} (or {type: 'json_schema',
   *  json_schema: {schema}}) constrains the answer to JSON. */
  createChatCompletion(messages, opts = {}) {
    const pIds = this.chatPrompt(messages, opts);
    let grammar = null;
    const rf = opts.responseFormat ?? opts.response_format;
    if (rf && rf.type === 'json_object') grammar = Grammar.fromJsonSchema(rf.schema ?? { type: 'object' }, { compact: true });
    else if (rf && rf.type === 'json_schema') grammar = Grammar.fromJsonSchema(rf.json_schema.schema, { compact: true });
    else if (rf && rf.type !== 'text') throw new TypeError(`responseFormat type ${rf.type}: use text, json_object or json_schema`);
    const stop = ['<|im_end|>', '<|im_start|>', ...(opts.stop ? [].concat(opts.stop) : [])];
    return this._complete(pIds, { maxTokens: 256, temperature: 0.2, ...opts, stop, grammar }, true);
  }
  _complete(pIds, opts, chat) {
    const id = (chat ? 'chatcmpl-' : 'cmpl-') + Math.random().toString(16).slice(2) + Date.now().toString(16);
    const created = Math.floor(Date.now() / 1000), model = this.path, info = {};
    const object = chat ? 'chat.completion' : 'text_completion';
    const pieces = this.generate(pIds, { ...opts, _info: info });
    const choice = (text, finish, lp, delta) => {
      const c = { index: 0, finish_reason: finish };
      if (chat && delta !== undefined) c.delta = delta;
      else if (chat) c.message = { role: 'assistant', content: text };
      else c.text = text;
      if (!chat || lp != null) c.logprobs = lp ?? null;
      return c;
    };
    const done = () => { if (opts.grammar && !opts._keepGrammar && chat) opts.grammar.close(); };
    if (opts.stream) {
      const self = this;
      return (async function* chunks() {
        try {
          const obj = chat ? object + '.chunk' : object;
          if (chat) yield { id, object: obj, created, model, choices: [choice(null, null, null, { role: 'assistant' })] };
          for await (const p of pieces) {
            yield { id, object: obj, created, model, choices: [choice(p, null, null, chat ? { content: p } : undefined)] };
          }
          yield { id, object: obj, created, model, choices: [choice('', info.finishReason, null, chat ? {} : undefined)] };
        } finally { done(); void self; }
      })();
    }
    return (async () => {
      try {
        let text = '';
        for await (const p of pieces) text += p;
        const lp = opts.logprobs != null ? await this._logprobs(pIds, info.tokens, opts.logprobs) : null;
        const n = info.tokens.length;
        return { id, object, created, model, choices: [choice(text, info.finishReason, lp)],
                 usage: { prompt_tokens: pIds.length, completion_tokens: n, total_tokens: pIds.length + n } };
      } finally { done(); }
    })();
  }
  async _logprobs(pIds, ids, top) {
    if (ids.length === 0) return { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    const ctx = new Context(this, { nCtx: pIds.length + ids.length });
    try {
      const r = await ctx.score(pIds, ids, { topK: top });
      const tokens = ids.map((t) => this.tokenizer.piece(t, { renderSpecial: false }));
      const offsets = [];
      let at = 0;
      for (const p of tokens) { offsets.push(at); at += p.length; }
      const tops = top ? r.top.map((row) => Object.fromEntries(row.map(([t, lp]) =>
        [this.tokenizer.piece(t, { renderSpecial: false }), lp]))) : ids.map(() => null);
      return { tokens, token_logprobs: r.logprobs, top_logprobs: tops, text_offset: offsets };
    } finally {
      ctx.close();
    }
  }
}

function makeSampler(model, opts) {
  const out = [null];
  check(F.fm_sampler_new_chain(BigInt(opts.seed ?? 0xFFFFFFFF) & 0xFFFFFFFFFFFFFFFFn, out));
  const s = out[0];
  try {
    if (opts.grammar) check(F.fm_sampler_add_grammar(s, opts.grammar._live(), model._tok));
    const t = opts.temperature ?? 0.8;
    if (t <= 0) check(F.fm_sampler_add(s, 4, 0));
    else {
      check(F.fm_sampler_add(s, 0, opts.topK ?? 40));
      check(F.fm_sampler_add(s, 1, opts.topP ?? 0.95));
      check(F.fm_sampler_add(s, 2, opts.minP ?? 0.05));
      check(F.fm_sampler_add(s, 3, t));
      check(F.fm_sampler_add(s, 5, 0));
    }
  } catch (e) {
    F.fm_sampler_free(s);
    throw e;
  }
  return s;
}

/** A sampler chain built step by step (fm_sampler): new Sampler({seed}).topK(40).topP(0.9).temperature(0.7).dist(),
 *  or .greedy(); grammar(g, model) constrains it. sample(ctx) picks (and accepts) a token. */
class Sampler extends Handle {
  constructor({ seed = 0 } = {}) {
    super('sampler');
    const out = [null];
    check(F.fm_sampler_new_chain(BigInt(seed), out));
    this._h = out[0];
    this._keep = [];
  }
  _free(h) { F.fm_sampler_free(h); }
  _step(step, value = 0) { check(F.fm_sampler_add(this._live(), step, value)); return this; }
  topK(k) { return this._step(0, k); }
  topP(p) { return this._step(1, p); }
  minP(p) { return this._step(2, p); }
  temperature(t) { return this._step(3, t); }
  greedy() { return this._step(4); }
  dist() { return this._step(5); }
  typicalP(p) { return this._step(6, p); }
  topNSigma(n) { return this._step(7, n); }
  penalties({ lastN = 64, repeat = 1.0, frequency = 0, presence = 0 } = {}) {
    check(F.fm_sampler_add_penalties(this._live(), lastN, repeat, frequency, presence)); return this;
  }
  xtc(probability, threshold, minKeep = 1) { check(F.fm_sampler_add_xtc(this._live(), probability, threshold, minKeep)); return this; }
  mirostatV2(tau = 5, eta = 0.1) { check(F.fm_sampler_add_mirostat_v2(this._live(), tau, eta)); return this; }
  grammar(g, model) {
    check(F.fm_sampler_add_grammar(this._live(), g._live(), (model._live(), model._tok)));
    this._keep.push(g, model);
    return this;
  }
  get steps() {
    const h = this._live();
    return Array.from({ length: F.fm_sampler_n_steps(h) }, (_, i) => F.fm_sampler_step_name(h, i));
  }
  /** The token picked from `ctx`'s logits row i (accepted by the steps). */
  sample(ctx, i = -1) {
    const p = F.fm_context_logits(ctx._live(), i);
    if (!p) throw new FmError(-1);
    const tok = [0];
    check(F.fm_sampler_sample(this._live(), p, ctx.nVocab, tok));
    return tok[0];
  }
  accept(token, { skipConstraints = false } = {}) { check(F.fm_sampler_accept(this._live(), token, skipConstraints ? 1 : 0)); }
  reset() { F.fm_sampler_reset(this._live()); }
  clone() {
    const out = [null];
    check(F.fm_sampler_clone(this._live(), out));
    const c = new Sampler();
    F.fm_sampler_free(c._h); /* the empty chain the constructor made */
    c._h = out[0];
    c._keep = [...this._keep];
    return c;
  }
}

/** A KV cache over a model (which it keeps alive) holding up to nSeqMax
 *  sequences. decode/decodeBatch/score are async (worker thread). */
class Context extends Handle {
  constructor(model, { nCtx = 0, nBatch = 512, nThreads = 0, nSeqMax = 1 } = {}) {
    super('context');
    model._hold();
    this._model = model;
    try {
      const p = {}, out = [null];
      check(F.fm_context_params_init(p, koffi.sizeof(ContextParams)));
      Object.assign(p, { n_ctx: nCtx, n_batch: nBatch, n_threads: nThreads, n_seq_max: nSeqMax });
      check(F.fm_context_new(model._h, p, out));
      this._h = out[0];
    } catch (e) {
      model._release();
      this._model = null;
      throw e;
    }
    this.nVocab = F.fm_tokenizer_n_vocab(model._tok);
  }
  _free(h) {
    F.fm_context_free(h);
    const m = this._model;
    this._model = null;
    if (m) m._release();
  }
  async _run(fn, ...args) {
    this._hold();
    try { return await callAsync(fn, this._h, ...args); } finally { this._release(); }
  }
  /** Evaluates ids as sequence 0 after its last position. */
  decode(ids, { allLogits = false } = {}) {
    const a = ids32(ids);
    return this._run(F.fm_context_decode, a, a.length, allLogits ? 1 : 0);
  }
  decodeSync(ids, { allLogits = false } = {}) {
    const a = ids32(ids);
    check(F.fm_context_decode(this._live(), a, a.length, allLogits ? 1 : 0));
  }
  /** Entries {token, pos (-1: next), seqIds: [...], logits: bool} in one forward pass. */
  async decodeBatch(entries) {
    const out = [null];
    check(F.fm_batch_new(out));
    const b = out[0];
    try {
      for (const e of entries) {
        const seqs = Int32Array.from(e.seqIds ?? [0]);
        check(F.fm_batch_add(b, e.token, e.pos ?? -1, seqs, seqs.length, e.logits ? 1 : 0));
      }
      await this._run(F.fm_context_decode_batch, b);
    } finally {
      F.fm_batch_free(b);
    }
  }
  /** Brings sequence 0 to `ids`, decoding only what differs from what it
   *  holds; resolves with how many prompt tokens were reused. */
  async prompt(ids) {
    const have = this.seqTokens(0);
    let common = 0;
    while (common < have.length && common < ids.length && have[common] === ids[common]) common++;
    if (common === ids.length) common--; /* the last token again, for its logits */
    this.seqRm(0, common, -1);
    await this.decodeBatch(ids.slice(common).map((t, i, rest) =>
      ({ token: t, pos: common + i, seqIds: [0], logits: i === rest.length - 1 })));
    return common;
  }
  /** Token ids after `ids` sampled by `sampler` (an async iterator); the
   *  prompt's common prefix with the cache is not decoded again and the
   *  generated tokens stay cached. `this.reused` tells how many were reused. */
  async *generate(ids, sampler, { maxTokens = 128 } = {}) {
    this.reused = await this.prompt(Array.from(ids));
    for (let i = 0; i < maxTokens; i++) {
      const t = sampler.sample(this);
      if (F.fm_tokenizer_is_eog(this._model._tok, t)) return;
      yield t;
      await this.decode([t]);
    }
  }
  /** Logits after token i of the last batch, copied into a Float32Array. */
  logits(i = -1) {
    const p = F.fm_context_logits(this._live(), i);
    if (!p) throw new FmError(-1);
    return Float32Array.from(koffi.decode(p, 'float', this.nVocab));
  }
  get nPast() { return F.fm_context_n_past(this._live()); }
  clear() { check(F.fm_context_clear(this._live())); }
  seqRm(seq, p0 = 0, p1 = -1) { check(F.fm_context_seq_rm(this._live(), seq, p0, p1)); }
  seqCp(src, dst, p0 = 0, p1 = -1) { check(F.fm_context_seq_cp(this._live(), src, dst, p0, p1)); }
  seqTokens(seq = 0) {
    const h = this._live(), n = [0];
    const s = F.fm_context_seq_tokens(h, seq, null, 0, n);
    if (s !== 0 && s !== BUFFER_TOO_SMALL) check(s);
    const out = new Int32Array(Math.max(n[0], 1));
    check(F.fm_context_seq_tokens(h, seq, out, n[0], n));
    return Array.from(out.subarray(0, n[0]));
  }
  /** The state of `seq` (-1: everything) as a Buffer, and back. */
  saveState(seq = -1) {
    const h = this._live();
    return Buffer.from(withBuffer((b, cap, n) => F.fm_context_state_save(h, seq, b, cap, n), 0));
  }
  loadState(buf, seq = -1) { check(F.fm_context_state_load(this._live(), seq, buf, buf.length)); }
  /** fm_context_score: {logprobs, sum, ranks, top?} of `cont` after
   *  `prompt` (ids; [] = what sequence `seq` holds). */
  async score(prompt, cont, { seq = 0, topK = 0 } = {}) {
    const p = {};
    check(F.fm_score_params_init(p, koffi.sizeof(ScoreParams)));
    const n = cont.length;
    const lps = new Float64Array(Math.max(n, 1)), ranks = new Int32Array(Math.max(n, 1));
    const tt = new Int32Array(Math.max(n * topK, 1)), tl = new Float64Array(Math.max(n * topK, 1));
    Object.assign(p, { seq, top_k: topK, logprobs: lps, ranks, top_tokens: topK ? tt : null,
                       top_logprobs: topK ? tl : null });
    const a = ids32(prompt), c = ids32(cont), sum = [0];
    await this._run(F.fm_context_score, a.length ? a : null, a.length, c, n, p, sum);
    const r = { logprobs: Array.from(lps.subarray(0, n)), sum: sum[0], ranks: Array.from(ranks.subarray(0, n)) };
    if (topK) r.top = Array.from({ length: n }, (_, i) =>
      Array.from({ length: topK }, (_, j) => [tt[i * topK + j], tl[i * topK + j]]));
    return r;
  }
}

/** An output constraint: Grammar.fromJsonSchema(schema), fromGbnf(text), fromRegex(re). */
class Grammar extends Handle {
  constructor(h) { super('grammar'); this._h = h; }
  _free(h) { F.fm_grammar_free(h); }
  static fromJsonSchema(schema, { compact = false } = {}) {
    const text = typeof schema === 'string' ? schema : JSON.stringify(schema);
    const out = [null];
    check(F.fm_grammar_from_json_schema(text, Buffer.byteLength(text), compact ? 1 : 0, out));
    return new Grammar(out[0]);
  }
  static fromGbnf(text, root = null) {
    const out = [null];
    check(F.fm_grammar_parse_gbnf(text, Buffer.byteLength(text), root, out));
    return new Grammar(out[0]);
  }
  static fromRegex(re) {
    const out = [null];
    check(F.fm_grammar_from_regex(re, Buffer.byteLength(re), out));
    return new Grammar(out[0]);
  }
}

/** A compiled chat template (Jinja, rendered as transformers does). */
class ChatTemplate extends Handle {
  constructor(text, _handle = null) {
    super('chat template');
    if (_handle) { this._h = _handle; return; }
    const out = [null];
    check(F.fm_chat_template_new(text, Buffer.byteLength(text), out));
    this._h = out[0];
  }
  static builtin(name) {
    const out = [null];
    check(F.fm_chat_template_builtin(name, out));
    return new ChatTemplate(null, out[0]);
  }
  _free(h) { F.fm_chat_template_free(h); }
  render(messages, { addGenerationPrompt = false, bosToken = '', eosToken = '', tools = null, variables = null,
                     now = 0 } = {}) {
    const h = this._live();
    const p = {};
    check(F.fm_chat_params_init(p, koffi.sizeof(ChatParams)));
    Object.assign(p, { add_generation_prompt: addGenerationPrompt ? 1 : 0, bos_token: bosToken, eos_token: eosToken,
                       tools: tools ? JSON.stringify(tools) : null, variables: variables ? JSON.stringify(variables) : null,
                       now });
    const msgs = JSON.stringify(messages);
    return withBuffer((b, cap, n) => F.fm_chat_render_json(h, msgs, Buffer.byteLength(msgs), p, b, cap, n), 4096)
      .toString('utf8');
  }
}

module.exports = { FmError, Model, Tokenizer, Context, Sampler, Grammar, ChatTemplate, version: () => F.fm_version() };

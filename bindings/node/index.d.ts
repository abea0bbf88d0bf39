// Types of the libfm Node binding (fm.cjs / index.mjs).

export class FmError extends Error {
  /** The fm_status name ("FM_STATUS_CONTEXT_FULL"), or "closed" for a call on a closed object. */
  status: string;
  /** The fm_status number, null for "closed". */
  code: number | null;
}

export interface EncodeOptions { addSpecial?: boolean; parseSpecial?: boolean; continuation?: boolean }
export interface DecodeOptions { stripLeadingSpace?: boolean; renderSpecial?: boolean }

export class Tokenizer {
  readonly nVocab: number;
  special(which: 'bos' | 'eos' | 'unk' | 'pad' | 'sep' | 'cls' | 'mask'): number | null;
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
  piece(token: number, opts?: { renderSpecial?: boolean }): string;
}

export interface ModelInfo {
  arch: string; nVocab: number; nEmbd: number; nLayer: number; nHead: number; nHeadKv: number;
  nCtxTrain: number; nFf: number; nParams: number; sizeBytes: number; isEncoder: number; pooling: number;
  nTensors: number; nMeta: number;
}

export interface GenerateOptions {
  maxTokens?: number; temperature?: number; topK?: number; topP?: number; minP?: number; seed?: number;
  stop?: string | string[]; grammar?: Grammar; nCtx?: number; nThreads?: number;
}

export interface CompletionOptions extends GenerateOptions { logprobs?: number; stream?: boolean }

export interface ChatMessage { role: string; content: string | null; [member: string]: unknown }

export interface ChatCompletionOptions extends CompletionOptions {
  template?: ChatTemplate | string; tools?: unknown[];
  responseFormat?: { type: 'text' } | { type: 'json_object'; schema?: object } |
    { type: 'json_schema'; json_schema: { schema: object } };
}

export interface Logprobs {
  tokens: string[]; token_logprobs: number[]; top_logprobs: (Record<string, number> | null)[]; text_offset: number[];
}

export interface Completion {
  id: string; object: 'text_completion'; created: number; model: string;
  choices: { index: number; text: string; logprobs: Logprobs | null; finish_reason: 'stop' | 'length' }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export interface ChatCompletion {
  id: string; object: 'chat.completion'; created: number; model: string;
  choices: { index: number; message: { role: 'assistant'; content: string }; finish_reason: 'stop' | 'length';
             logprobs?: Logprobs }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export interface ChatCompletionChunk {
  id: string; object: 'chat.completion.chunk'; created: number; model: string;
  choices: { index: number; delta: { role?: 'assistant'; content?: string }; finish_reason: 'stop' | 'length' | null }[];
}

export class Model {
  constructor(path: string);
  static load(path: string): Promise<Model>;
  readonly path: string;
  readonly tokenizer: Tokenizer;
  close(): void;
  tokenize(text: string, opts?: EncodeOptions): number[];
  detokenize(ids: ArrayLike<number>, opts?: DecodeOptions): string;
  info(): ModelInfo;
  meta(key: string): string;
  metadata(): Record<string, string>;
  score(prompt: string, continuation: string, opts?: { topK?: number }): Promise<Score & { tokens: number[] }>;
  embed(text: string, opts?: { normalize?: boolean }): Float32Array;
  embed(texts: string[], opts?: { normalize?: boolean }): Float32Array[];
  chatTemplate(): ChatTemplate;
  chatPrompt(messages: ChatMessage[], opts?: { template?: ChatTemplate | string; tools?: unknown[] }): number[];
  generate(prompt: string | ArrayLike<number>, opts?: GenerateOptions): AsyncGenerator<string, void, void>;
  createCompletion(prompt: string | ArrayLike<number>, opts?: CompletionOptions & { stream?: false }): Promise<Completion>;
  createCompletion(prompt: string | ArrayLike<number>, opts: CompletionOptions & { stream: true }):
    AsyncGenerator<Completion, void, void>;
  createChatCompletion(messages: ChatMessage[], opts?: ChatCompletionOptions & { stream?: false }): Promise<ChatCompletion>;
  createChatCompletion(messages: ChatMessage[], opts: ChatCompletionOptions & { stream: true }):
    AsyncGenerator<ChatCompletionChunk, void, void>;
}

export interface BatchEntry { token: number; pos?: number; seqIds?: number[]; logits?: boolean }
export interface Score { logprobs: number[]; sum: number; ranks: number[]; top?: [number, number][][] }

export class Context {
  constructor(model: Model, opts?: { nCtx?: number; nBatch?: number; nThreads?: number; nSeqMax?: number });
  readonly nVocab: number;
  readonly nPast: number;
  close(): void;
  decode(ids: ArrayLike<number>, opts?: { allLogits?: boolean }): Promise<void>;
  decodeSync(ids: ArrayLike<number>, opts?: { allLogits?: boolean }): void;
  decodeBatch(entries: BatchEntry[]): Promise<void>;
  logits(i?: number): Float32Array;
  clear(): void;
  seqRm(seq: number, p0?: number, p1?: number): void;
  seqCp(src: number, dst: number, p0?: number, p1?: number): void;
  seqTokens(seq?: number): number[];
  saveState(seq?: number): Buffer;
  loadState(state: Uint8Array, seq?: number): void;
  score(prompt: ArrayLike<number>, continuation: ArrayLike<number>, opts?: { seq?: number; topK?: number }): Promise<Score>;
  /** Brings sequence 0 to ids, decoding only what differs from the cache; resolves with the tokens reused. */
  prompt(ids: ArrayLike<number>): Promise<number>;
  generate(ids: ArrayLike<number>, sampler: Sampler, opts?: { maxTokens?: number }): AsyncGenerator<number, void, void>;
  /** Prompt tokens the last generate() reused from the cache. */
  reused?: number;
}

export class Sampler {
  constructor(opts?: { seed?: number });
  topK(k: number): this; topP(p: number): this; minP(p: number): this; temperature(t: number): this;
  greedy(): this; dist(): this; typicalP(p: number): this; topNSigma(n: number): this;
  penalties(opts?: { lastN?: number; repeat?: number; frequency?: number; presence?: number }): this;
  xtc(probability: number, threshold: number, minKeep?: number): this;
  mirostatV2(tau?: number, eta?: number): this;
  grammar(g: Grammar, model: Model): this;
  readonly steps: string[];
  sample(ctx: Context, i?: number): number;
  accept(token: number, opts?: { skipConstraints?: boolean }): void;
  reset(): void;
  clone(): Sampler;
  close(): void;
}

export class Grammar {
  static fromJsonSchema(schema: object | string, opts?: { compact?: boolean }): Grammar;
  static fromGbnf(text: string, root?: string | null): Grammar;
  static fromRegex(pattern: string): Grammar;
  close(): void;
}

export class ChatTemplate {
  constructor(text: string);
  static builtin(name: string): ChatTemplate;
  close(): void;
  render(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean; bosToken?: string; eosToken?: string;
                                           tools?: unknown[] | null; variables?: object | null; now?: number }): string;
}

export function version(): string;

declare const fm: {
  FmError: typeof FmError; Model: typeof Model; Tokenizer: typeof Tokenizer; Context: typeof Context; Sampler: typeof Sampler;
  Grammar: typeof Grammar; ChatTemplate: typeof ChatTemplate; version: typeof version;
};
export default fm;

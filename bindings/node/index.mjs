// ESM entry: the same objects as the CommonJS one (fm.cjs).
import fm from './fm.cjs';

export const { FmError, Model, Tokenizer, Context, Sampler, Grammar, ChatTemplate, version } = fm;
export default fm;

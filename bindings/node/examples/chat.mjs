// A streaming chat: node examples/chat.mjs MODEL.gguf "your question"
import fm from '../index.mjs';

const [modelPath, question = 'Tell me a story about a cat.'] = process.argv.slice(2);
const model = await fm.Model.load(modelPath);
const messages = [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: question }];
for await (const chunk of await model.createChatCompletion(messages, { maxTokens: 64, temperature: 0, stream: true })) {
  process.stdout.write(chunk.choices[0].delta.content ?? '');
}
process.stdout.write('\n');
model.close();

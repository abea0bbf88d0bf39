// An answer that is JSON of a given schema: node examples/json.mjs MODEL.gguf
import fm from '../index.mjs';

const model = await fm.Model.load(process.argv[2]);
const schema = {
  type: 'object', additionalProperties: false, required: ['name', 'age', 'pet'],
  properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer', minimum: 1, maximum: 99 },
                pet: { enum: ['cat', 'dog'] } },
};
const r = await model.createChatCompletion([{ role: 'user', content: 'Describe a child and a pet as JSON.' }],
  { maxTokens: 64, temperature: 0, responseFormat: { type: 'json_object', schema } });
const answer = JSON.parse(r.choices[0].message.content);
console.log(JSON.stringify(answer));
model.close();

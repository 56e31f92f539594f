/** The body checks that run before JSON.parse and authentication (src/api/input-guards.ts). */
import { jsonNestingDepth, MAX_JSON_DEPTH, refuseDeepJson } from '../../src/api/input-guards';
import { HttpError } from '../../src/http/errors';

describe('jsonNestingDepth', () => {
  it.each([
    ['a scalar', '42', 0],
    ['an empty object', '{}', 1],
    ['a deploy body', JSON.stringify({ deckies: [{ name: 'a', service_config: { ssh: { banner: 'x' } } }] }), 5],
    ['brackets inside strings do not count', JSON.stringify({ a: '[[[[{{{{', b: ['\\"[[[', '"]]]'] }), 2],
    ['escaped quotes keep the string open', '{"a":"\\"[[[[[[","b":[1]}', 2],
    ['siblings do not add up', '[[1],[2],[3],{"a":4}]', 2],
  ])('%s', (_label, text, depth) => {
    expect(jsonNestingDepth(text)).toBe(depth);
  });

  it('100,000 nested arrays: no recursion, and the scan stops past the limit', () => {
    const text = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(jsonNestingDepth(text)).toBe(100_000);
    expect(jsonNestingDepth(text, MAX_JSON_DEPTH)).toBe(MAX_JSON_DEPTH + 1);
  });
});

describe('refuseDeepJson (express.json verify)', () => {
  const verify =
    (text: string, encoding: string | null = 'utf-8') =>
    () =>
      refuseDeepJson({} as never, {}, Buffer.from(text, encoding === 'utf-16le' ? 'utf16le' : 'utf8'), encoding);

  it(`passes ${MAX_JSON_DEPTH} levels and refuses ${MAX_JSON_DEPTH + 1} with a 400 naming the limit`, () => {
    expect(verify('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH))).not.toThrow();
    const deep = '{"a":'.repeat(MAX_JSON_DEPTH + 1) + '1' + '}'.repeat(MAX_JSON_DEPTH + 1);
    expect(verify(deep)).toThrow(new HttpError(400, 'json_too_deep', `the JSON body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`));
  });

  it('reads UTF-16 bodies as such; a charset it cannot read is 415', () => {
    expect(verify('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1), 'utf-16le')).toThrow(/levels deep/);
    let err: unknown;
    try {
      verify('{}', 'utf-32')();
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ status: 415, code: 'unsupported_charset' });
  });
});

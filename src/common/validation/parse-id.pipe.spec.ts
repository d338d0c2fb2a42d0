import { AppException } from '../errors/app.exception';
import { ParseSha256Pipe, ParseUuidPipe } from './parse-id.pipe';

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => null,
    (error: unknown) => error,
  );
}

describe('id pipes', () => {
  const uuid = new ParseUuidPipe('API key not found');
  const sha = new ParseSha256Pipe('Circuit not found');

  it('pass a well-formed id through (UUIDs in either case, lowercased as stored)', async () => {
    const id = '0f8fad5b-d9cb-469f-a165-70867728950e';
    await expect(uuid.transform(id)).resolves.toBe(id);
    await expect(uuid.transform(id.toUpperCase())).resolves.toBe(id);
    await expect(sha.transform('c'.repeat(64))).resolves.toBe('c'.repeat(64));
  });

  it.each([
    ['not-a-uuid', uuid, 'API key not found'],
    ['0f8fad5b-d9cb-469f-a165-70867728950', uuid, 'API key not found'],
    ["0f8fad5b-d9cb-469f-a165-70867728950e' OR 1=1", uuid, 'API key not found'],
    ['C'.repeat(64), sha, 'Circuit not found'],
    ['c'.repeat(63), sha, 'Circuit not found'],
  ])('answer %j with the route’s own 404', async (id, pipe, message) => {
    const error = await refusal(pipe.transform(id));
    expect(error).toBeInstanceOf(AppException);
    const e = error as AppException;
    expect({ status: e.getStatus(), code: e.code, message: e.message }).toEqual({
      status: 404,
      code: 'not_found',
      message,
    });
  });

  it('refuse after the current turn, so a refusal made in the same turn (an invalid body) comes first', async () => {
    const order: string[] = [];
    const id = uuid.transform('bad').catch(() => order.push('id'));
    const body = Promise.resolve()
      .then(() => Promise.resolve())
      .then(() => order.push('body'));
    await Promise.all([id, body]);
    expect(order).toEqual(['body', 'id']);
  });
});

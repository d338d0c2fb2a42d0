import { AppException } from '../errors/app.exception';
import { IdempotencyKeyPipe } from './idempotency-key';

describe('IdempotencyKeyPipe', () => {
  const pipe = new IdempotencyKeyPipe();
  const refusal = async (value: unknown) => {
    const error = (await pipe.transform(value).catch((e: unknown) => e)) as AppException;
    return (error.extra.details as { field: string; message: string }[])[0];
  };

  it('takes a key of printable ASCII, and no header at all', async () => {
    expect(await pipe.transform('order-42')).toBe('order-42');
    expect(await pipe.transform(undefined)).toBeUndefined();
  });

  it('names a header sent twice (Node joins the two with ", ") instead of calling it malformed', async () => {
    expect(await refusal('a1, a2')).toEqual({
      field: 'Idempotency-Key',
      message: 'Idempotency-Key is given 2 times: give it once',
    });
  });

  it('calls a malformed key malformed, spaces after commas included', async () => {
    for (const value of ['has space', 'a1, ', 'x'.repeat(256), '', 'é']) {
      expect(await refusal(value)).toEqual({
        field: 'Idempotency-Key',
        message: 'Idempotency-Key must be 1–255 printable ASCII characters',
      });
    }
  });
});

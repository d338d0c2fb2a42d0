import { AppException } from '../errors/app.exception';
import { SHA256_HEX_PATTERN } from '../validation/sha256';
import { decodeCursor, encodeCursor } from './cursor';

const ID = '00000000-0000-0000-0000-000000000000';
const forged = (t: unknown, id: unknown = ID) =>
  Buffer.from(JSON.stringify({ t, id })).toString('base64url').replace(/=+$/, '');

function refusal(raw: string, idPattern?: RegExp): unknown {
  try {
    decodeCursor(raw, idPattern);
  } catch (error) {
    return error;
  }
  return null;
}

describe('decodeCursor', () => {
  it('reads back what encodeCursor wrote, for any time a row can have', () => {
    for (const at of [new Date(0), new Date('2026-06-01T12:00:00.123Z'), new Date('0001-01-01T00:00:00Z')]) {
      const cursor = { t: at.toISOString(), id: ID };
      expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    }
    const circuit = { t: '9999-12-31T23:59:59.999Z', id: 'a'.repeat(64) };
    expect(decodeCursor(encodeCursor(circuit), SHA256_HEX_PATTERN)).toEqual(circuit);
    expect(decodeCursor(undefined)).toBeNull();
    expect(decodeCursor('')).toBeNull();
  });

  it.each([
    // Date.parse reads each of these; PostgreSQL's `::timestamptz` refuses them or reads another time.
    '2026',
    '1',
    '+275760-09-13T00:00:00.000Z',
    '-000001-01-01T00:00:00.000Z',
    '0000-01-01T00:00:00.000Z',
    '2026-02-30T00:00:00.000Z',
    '2026-01-01T24:00:00.000Z',
    // Times toISOString never writes.
    '2026-06-01T12:00:00Z',
    '2026-06-01T12:00:00.123456Z',
    '2026-06-01T12:00:00.123+00:00',
    '2026-06-01 12:00:00.123Z',
    'Mon, 01 Jun 2026 12:00:00 GMT',
    '2026-W01',
    ' 2026-06-01T12:00:00.123Z',
    1767225600000,
    null,
  ])('refuses a cursor whose time is %j with the 422 naming `cursor`', (t) => {
    const error = refusal(forged(t));
    expect(error).toBeInstanceOf(AppException);
    expect((error as AppException).getStatus()).toBe(422);
    expect((error as AppException).extra.details).toEqual([
      { field: 'cursor', message: 'cursor is not a valid cursor' },
    ]);
  });

  it('refuses a 64-hex cursor with a forged time on the lists keyed by SHA-256', () => {
    expect(refusal(forged('2026', 'a'.repeat(64)), SHA256_HEX_PATTERN)).toBeInstanceOf(AppException);
  });
});

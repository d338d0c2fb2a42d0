import { IsDateTime, isDateTime } from './date-time';
import { validationDetails } from '../../../test/support/validation-details';

class Window {
  @IsDateTime() since!: string;
}

const MESSAGE = 'since must be an RFC 3339 date-time, e.g. 2026-12-01T00:00:00Z';

const details = (since: unknown) => validationDetails(Window, { since });

describe('IsDateTime', () => {
  it.each([
    '2026-12-01T00:00:00Z',
    '2026-12-01T00:00:00.123Z',
    '2026-12-01T23:59:59.123456789Z',
    '2026-12-01T00:00:00+02:00',
    '2026-12-01T00:00:00-15:59',
    '2024-02-29T12:00:00Z',
    '2000-02-29T12:00:00Z',
    '0001-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
  ])('accepts %s', async (since) => {
    expect(isDateTime(since)).toBe(true);
    expect(await details(since)).toEqual([]);
  });

  it.each([
    // Each passes IsISO8601({ strict: true }): JavaScript reads most as Invalid Date, PostgreSQL as an error.
    '2026',
    '2026-12',
    '2026-12-01',
    '20260101',
    '2026-W01',
    '2026-W01-1',
    '2026-001',
    '2026-12-01T00:00',
    '2026-12-01T00:00:00',
    '2026-12-01 00:00:00Z',
    '2026-12-01t00:00:00z',
    '20261201T000000Z',
    // Dates Date.parse rolls over, and times or offsets JavaScript and PostgreSQL do not both read as written.
    '2026-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-00-01T00:00:00Z',
    '2026-12-00T00:00:00Z',
    '0000-01-01T00:00:00Z',
    '2026-12-01T24:00:00Z',
    '2026-12-01T00:60:00Z',
    '2026-12-01T23:59:60Z',
    '2026-12-01T00:00:00+16:00',
    '2026-12-01T00:00:00+0200',
    `2026-12-01T00:00:00.${'1'.repeat(10)}Z`,
    '+275760-09-13T00:00:00.000Z',
    '-000001-01-01T00:00:00.000Z',
    ' 2026-12-01T00:00:00Z',
    '2026-12-01T00:00:00Z\n',
    '',
  ])('refuses %j with the date-time message', async (since) => {
    expect(isDateTime(since)).toBe(false);
    expect(await details(since)).toEqual([{ field: 'since', message: MESSAGE }]);
  });

  it('refuses a value that is not a string', async () => {
    for (const since of [1767225600000, null, ['2026-12-01T00:00:00Z'], { at: '2026-12-01T00:00:00Z' }]) {
      expect(await details(since)).toEqual([{ field: 'since', message: MESSAGE }]);
    }
  });
});

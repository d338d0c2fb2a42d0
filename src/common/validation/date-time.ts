import { ValidateBy } from 'class-validator';

/**
 * RFC 3339 (date, 'T', time, optional fraction, 'Z' or ±hh:mm), narrowed to what both JavaScript and
 * PostgreSQL's `::timestamptz` read: years 0001–9999 (PostgreSQL has no year 0), seconds 00–59 (JavaScript has
 * no leap second), offsets within ±15:59 (PostgreSQL refuses wider ones) and up to nine fraction digits
 * (nanoseconds; PostgreSQL refuses very long fields). IsISO8601({ strict: true }) also passed "2026",
 * "2026-W01" and "20260101", which JavaScript reads as Invalid Date and PostgreSQL as another time or an
 * error: a 500 where a 422 belongs.
 */
const RFC3339_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:0\d|1[0-5]):[0-5]\d)$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const isLeapYear = (year: number): boolean => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);

// Date.parse rolls "2026-02-30" over to March 2; PostgreSQL refuses it.
function isCalendarDate(year: number, month: number, day: number): boolean {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const days = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1];
  return day <= days;
}

export function isDateTime(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const match = RFC3339_DATE_TIME.exec(value);
  return (
    match !== null &&
    isCalendarDate(Number(match[1]), Number(match[2]), Number(match[3])) &&
    Number.isFinite(Date.parse(value))
  );
}

/** A date-time field: RFC 3339 (see RFC3339_DATE_TIME), so `new Date(value)` and `::timestamptz` agree on it. */
export function IsDateTime(): PropertyDecorator {
  return ValidateBy({
    name: 'isDateTime',
    validator: {
      validate: (value: unknown) => isDateTime(value),
      defaultMessage: () => '$property must be an RFC 3339 date-time, e.g. 2026-12-01T00:00:00Z',
    },
  });
}

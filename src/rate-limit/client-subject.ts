import { LruCache } from '../common/cache/lru-cache';
import ipaddr from 'ipaddr.js';

/** The subject of an address, parsed: ~4 µs with ipaddr.js, paid by every rate-limited request without the memo. */
function subjectOf(address: string): string {
  if (!ipaddr.isValid(address)) return 'unknown';
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const bytes = parsed.toByteArray().slice(0, 8).concat([0, 0, 0, 0, 0, 0, 0, 0]);
  return `${ipaddr.fromByteArray(bytes).toString()}/64`;
}

/**
 * The longest text remembered: an IPv6 address with an IPv4 tail is at most 45 characters, plus a zone id. Behind
 * a trusted proxy the address comes from X-Forwarded-For, which a client can fill with anything: such text is
 * parsed each time, never kept, so the memo stays under ~1 MB.
 */
const MAX_REMEMBERED_LENGTH = 64;

/**
 * Subjects of the addresses seen lately, the least recently seen forgotten first: a client cycling through
 * addresses (an IPv6 /64 holds many) costs memory only up to the bound, and itself the parse again.
 */
export class SubjectMemo {
  private readonly subjects: LruCache<string, string>;

  constructor(maxEntries: number) {
    this.subjects = new LruCache({ maxEntries });
  }

  get size(): number {
    return this.subjects.size;
  }

  /** Whether the subject of `address` is remembered (without making it more recent). */
  remembers(address: string): boolean {
    return this.subjects.has(address);
  }

  subjectOf(address: string): string {
    if (address.length > MAX_REMEMBERED_LENGTH) return subjectOf(address);
    let subject = this.subjects.get(address);
    if (subject === undefined) {
      subject = subjectOf(address);
      this.subjects.set(address, subject);
    }
    return subject;
  }
}

const memo = new SubjectMemo(10_000);

/**
 * The rate-limit identity of a client address. IPv4 (and IPv4-mapped IPv6) is the address itself; IPv6 is its
 * /64, because one host usually controls a whole /64 and could otherwise rotate addresses to dodge its limit.
 */
export function clientSubject(address: string | undefined): string {
  return address ? memo.subjectOf(address) : 'unknown';
}

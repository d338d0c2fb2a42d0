import ipaddr from 'ipaddr.js';

/**
 * The rate-limit identity of a client address. IPv4 (and IPv4-mapped IPv6) is the address itself; IPv6 is its
 * /64, because one host usually controls a whole /64 and could otherwise rotate addresses to dodge its limit.
 */
export function clientSubject(address: string | undefined): string {
  if (!address || !ipaddr.isValid(address)) return 'unknown';
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const bytes = parsed.toByteArray().slice(0, 8).concat([0, 0, 0, 0, 0, 0, 0, 0]);
  return `${ipaddr.fromByteArray(bytes).toString()}/64`;
}

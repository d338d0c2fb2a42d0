import { randomInt } from 'node:crypto';

// 198.18.0.0/15 is set aside for benchmarking (RFC 2544): no test config trusts it or lists it anywhere.
// A random start per process keeps addresses apart across Jest workers and across runs that share Redis.
const HOSTS = 254; // .1 to .254 in each /24
const SPACE = 512 * HOSTS; // the /15's 512 /24s
let next = randomInt(SPACE);

/** A client address no other call in this process has returned: a fresh rate-limit and audit identity. */
export function freshClientIp(): string {
  const n = next++ % SPACE;
  const subnet = Math.floor(n / HOSTS);
  return `198.${18 + (subnet >> 8)}.${subnet & 0xff}.${(n % HOSTS) + 1}`;
}

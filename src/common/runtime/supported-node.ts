/**
 * The Node versions VCP runs on, as package.json's `engines` says: 20.19+ on the 20 line, else 22.12+. They
 * are the first that require() ES modules without a flag, which the server needs (@fastify/static requires the
 * ESM-only content-disposition); an older Node fails at its first require of one with an ERR_REQUIRE_ESM stack.
 */
export const SUPPORTED_NODE = '^20.19.0 || >=22.12.0';

/** Why this Node cannot run VCP, in a sentence for the person who started it; null when it can. */
export function unsupportedNodeReason(version: string = process.versions.node): string | null {
  const [major, minor] = version.split('.').map(Number);
  const supported = major === 20 ? minor >= 19 : major === 22 ? minor >= 12 : major > 22;
  if (supported) return null;
  return `VCP needs Node.js 20.19 or later on the 20 line, or 22.12 or later (22 or 24 LTS recommended); this is ${version}`;
}

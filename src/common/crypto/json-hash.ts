import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';

/**
 * The pinned hash of a JSON value for third-party nodes: lowercase hex SHA-256 of its RFC 8785 (JCS)
 * canonical form. JCS fixes key order, number spelling and string escaping, so a node in any language that
 * serializes the same value gets the same hash. `undefined` (no value) hashes as JSON `null`.
 */
export function jsonSha256Hex(value: unknown): string {
  const canonical = canonicalize(value === undefined ? null : value) ?? 'null';
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

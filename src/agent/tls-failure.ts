/** Node's names (`error.code`) for a server certificate that does not chain to a CA this machine trusts. */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const OUT_OF_DATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const OTHER_HOST = 'ERR_TLS_CERT_ALTNAME_INVALID';

/**
 * What a TLS certificate failure means and the way out, or null when `code` is none. Said apart from "cannot
 * reach the server": the server is up, and no retry or restart helps until the operator acts. The agent never
 * turns verification off (the node key would go to whoever answers): it trusts a CA it is given.
 */
export function certificateProblem(code: unknown): string | null {
  if (typeof code !== 'string') return null;
  if (UNTRUSTED.has(code)) {
    return (
      `${code}: the server's TLS certificate is not trusted here (self-signed, or from a CA this machine does ` +
      "not know): give that CA's certificate to the agent as NODE_EXTRA_CA_CERTS=<ca.pem>"
    );
  }
  if (OUT_OF_DATE.has(code)) {
    return `${code}: the server's TLS certificate is not valid now (expired, or this machine's clock is off)`;
  }
  if (code === OTHER_HOST) {
    return `${code}: the server's TLS certificate is not for this host name: give --server a name it holds`;
  }
  return null;
}

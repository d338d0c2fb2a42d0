import { isFQDN, isIP } from 'class-validator';
import { ParsedVariable, urlAllowingNoHost } from '../common/config/variables';

/** Where a DATABASE_URL points, read as node-postgres (pg-connection-string) reads it. */
export interface PostgresEndpoint {
  /** A host name or IP address, or the directory of a Unix socket (an absolute path). */
  host: string;
  /** As written ('' when left out: 5432). */
  port: string;
  database: string;
  socket: boolean;
}

const SCHEME = /^postgres(ql)?:\/\//i;

/**
 * The endpoint of a `postgres://` or `postgresql://` URL, or null when node-postgres could not connect with it
 * (no host, a malformed host or port, another scheme). Besides `user:password@host:port/database`, it takes the
 * forms node-postgres takes for a Unix socket: the directory in the `host` query parameter
 * (`postgresql:///vcp?host=/var/run/postgresql`, Cloud SQL's `postgres://u:p@/vcp?host=/cloudsql/…`) or
 * percent-encoded as the host (`postgres://u@%2Fvar%2Frun%2Fpostgresql/vcp`). A `host` or `port` query
 * parameter wins over the URL's own, as in node-postgres. Only host, port and database are read: the other
 * parameters (sslmode, …) are left to the driver.
 */
export function postgresEndpoint(raw: string): PostgresEndpoint | null {
  if (!SCHEME.test(raw)) return null;
  try {
    const { url, hostless } = urlAllowingNoHost(raw);
    const named = hostless ? '' : decodeURIComponent(url.hostname.replace(/^\[(.+)\]$/, '$1'));
    const host = url.searchParams.get('host') || named;
    const port = url.searchParams.get('port') || url.port;
    const socket = host.startsWith('/');
    if (!host || !(socket || isIP(host) || isFQDN(host, { require_tld: false, allow_underscores: true })))
      return null;
    if (port && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65_535)) return null;
    return { host, port, database: decodeURI(url.pathname.slice(1)), socket };
  } catch {
    return null; // not a URL at all, or a malformed percent-escape
  }
}

/** DATABASE_URL's rule (its message is `isPostgresUrl` in common/config/problems.ts). */
export const PostgresUrlVariable = () =>
  ParsedVariable('isPostgresUrl', (raw) => postgresEndpoint(raw) !== null);

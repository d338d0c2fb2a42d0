import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { CoreConfig } from '../common/config/core.config';
import type { DatabaseConfig } from './database.config';
import { postgresEndpoint } from './postgres-url';

/**
 * What names one deployment in a shared Redis: its database (server or socket directory, port and name, without
 * credentials), or, on the embedded database, this host's data directory. Replicas of one deployment share it;
 * two deployments on one Redis do not.
 */
export function deploymentScope(
  database: Pick<DatabaseConfig, 'url'>,
  core: Pick<CoreConfig, 'dataDir'>,
): string {
  let scope: string;
  const endpoint = database.url ? postgresEndpoint(database.url) : null;
  if (endpoint?.socket) {
    scope = `${endpoint.host}:${endpoint.port === '5432' ? '' : endpoint.port}/${endpoint.database}`;
  } else if (database.url) {
    const url = new URL(database.url);
    // One database however its URL is written: host names are case-insensitive (a URL keeps their case for
    // postgres:), and a port left out is PostgreSQL's 5432 (written as before, without it).
    const port = url.port === '5432' ? '' : url.port;
    scope = `${url.hostname.toLowerCase()}:${port}${url.pathname}`;
  } else scope = `embedded:${hostname()}:${core.dataDir}`;
  return createHash('sha256').update(scope).digest('hex').slice(0, 16);
}

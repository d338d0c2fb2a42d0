import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { CoreConfig } from '../common/config/core.config';
import type { DatabaseConfig } from './database.config';

/**
 * What names one deployment in a shared Redis: its database (server, port and name, without credentials), or,
 * on the embedded database, this host's data directory. Replicas of one deployment share it; two deployments
 * on one Redis do not.
 */
export function deploymentScope(
  database: Pick<DatabaseConfig, 'url'>,
  core: Pick<CoreConfig, 'dataDir'>,
): string {
  let scope: string;
  if (database.url) {
    const url = new URL(database.url);
    scope = `${url.hostname}:${url.port}${url.pathname}`;
  } else scope = `embedded:${hostname()}:${core.dataDir}`;
  return createHash('sha256').update(scope).digest('hex').slice(0, 16);
}

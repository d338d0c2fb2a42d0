import { isURL } from 'class-validator';
import Redis, { RedisOptions } from 'ioredis';
import { ParsedVariable, urlAllowingNoHost } from '../common/config/variables';

/** Where a REDIS_URL on a Unix socket points. */
export interface RedisSocket {
  /** The socket file (an absolute path). */
  path: string;
  db?: number;
  username?: string;
  password?: string;
}

const SOCKET_SCHEME = /^unix:\/\//i;
const TCP_SCHEMES = ['redis', 'rediss'];

/**
 * The socket of a `unix://[user[:password]@]/path/to/redis.sock[?db=n]` URL (the form redis-py and redis-rb
 * read; `username` and `password` may also be query parameters), or null when the URL is no such form, or names
 * no absolute socket path, or a database that is no number.
 */
export function redisSocket(raw: string): RedisSocket | null {
  if (!SOCKET_SCHEME.test(raw)) return null;
  try {
    const { url, hostless } = urlAllowingNoHost(raw);
    if (!hostless && url.hostname !== '') return null;
    if (!url.pathname.startsWith('/') || url.pathname === '/') return null;
    const query = url.searchParams;
    const db = query.get('db');
    if (db !== null && !/^\d{1,5}$/.test(db)) return null;
    const username = url.username ? decodeURIComponent(url.username) : query.get('username');
    const password = url.password ? decodeURIComponent(url.password) : query.get('password');
    return {
      path: decodeURIComponent(url.pathname),
      ...(db === null ? {} : { db: Number(db) }),
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
    };
  } catch {
    return null; // not a URL at all, or a malformed percent-escape
  }
}

export function isRedisUrl(raw: string): boolean {
  if (SOCKET_SCHEME.test(raw)) return redisSocket(raw) !== null;
  return isURL(raw, { protocols: TCP_SCHEMES, require_tld: false, require_protocol: true });
}

/**
 * A client for REDIS_URL: `redis://` and `rediss://` as ioredis reads them, a `unix://` URL by its socket
 * (ioredis has no scheme for one: it would read `unix` as a host name).
 */
export function createRedisClient(url: string, options: RedisOptions): Redis {
  const socket = redisSocket(url);
  return socket ? new Redis({ ...options, ...socket }) : new Redis(url, options);
}

/** REDIS_URL's rule (its message is `isRedisUrl` in common/config/problems.ts). */
export const RedisUrlVariable = () => ParsedVariable('isRedisUrl', isRedisUrl);

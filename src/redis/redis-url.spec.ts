import { createRedisClient, isRedisUrl, redisSocket } from './redis-url';

describe('REDIS_URL forms', () => {
  it.each([
    ['unix:///var/run/redis/redis.sock', { path: '/var/run/redis/redis.sock' }],
    ['unix:///tmp/redis.sock?db=3', { path: '/tmp/redis.sock', db: 3 }],
    [
      'unix://vcp:s%40cret@/run/redis.sock?db=1',
      { path: '/run/redis.sock', db: 1, username: 'vcp', password: 's@cret' },
    ],
    ['unix://:pw@/run/redis.sock', { path: '/run/redis.sock', password: 'pw' }],
    // redis-py's query form of the credentials
    ['unix:///run/redis.sock?password=pw&db=2', { path: '/run/redis.sock', db: 2, password: 'pw' }],
    ['unix:///run/my%20redis.sock', { path: '/run/my redis.sock' }],
  ])('reads %s as a socket', (url, socket) => {
    expect(redisSocket(url)).toEqual(socket);
    expect(isRedisUrl(url)).toBe(true);
  });

  it.each([
    ['a host instead of a path', 'unix://localhost/tmp/redis.sock'],
    ['no path', 'unix://'],
    ['only a slash', 'unix:///'],
    ['a database that is no number', 'unix:///tmp/redis.sock?db=two'],
    ['a malformed percent-escape', 'unix:///tmp/%zz.sock'],
    ['another scheme', 'http://localhost:6379'],
    ['no scheme', 'localhost:6379'],
    ['a bare path', '/tmp/redis.sock'],
  ])('refuses %s', (_why, url) => {
    expect(isRedisUrl(url)).toBe(false);
  });

  it.each(['redis://127.0.0.1:6379', 'redis://:pw@cache.internal:6380/2', 'rediss://cache.example.com'])(
    'takes the TCP form %s',
    (url) => expect(isRedisUrl(url)).toBe(true),
  );

  it('connects a socket URL by its path, database and credentials, a TCP URL as ioredis reads it', () => {
    const socket = createRedisClient('unix://:pw@/run/redis.sock?db=4', { lazyConnect: true });
    expect(socket.options).toMatchObject({ path: '/run/redis.sock', db: 4, password: 'pw' });
    const tcp = createRedisClient('redis://cache.internal:6380/2', { lazyConnect: true });
    expect(tcp.options).toMatchObject({ host: 'cache.internal', port: 6380, db: 2 });
    expect(tcp.options.path).toBeUndefined();
    socket.disconnect();
    tcp.disconnect();
  });
});

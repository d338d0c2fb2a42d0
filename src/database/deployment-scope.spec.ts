import { createHash } from 'node:crypto';
import { deploymentScope } from './deployment-scope';

const scopeOf = (url: string) => deploymentScope({ url }, { dataDir: '' });

describe('deploymentScope', () => {
  it('is one scope for the ways of writing one database: replicas share rate limits and wake-ups', () => {
    const scope = scopeOf('postgres://vcp:secret@db.example:5432/vcp');
    for (const url of [
      'postgres://db.example/vcp', // PostgreSQL's default port, left out
      'postgresql://other:creds@DB.Example:5432/vcp?sslmode=require', // host names are case-insensitive
    ])
      expect([url, scopeOf(url)]).toEqual([url, scope]);
  });

  it('tells other databases, ports and servers apart', () => {
    const scope = scopeOf('postgres://db.example:5432/vcp');
    for (const url of [
      'postgres://db.example:5432/vcp_staging',
      'postgres://db.example:5433/vcp',
      'postgres://db2.example:5432/vcp',
    ])
      expect(scopeOf(url)).not.toBe(scope);
  });

  it('keeps the scope a TCP URL had before socket URLs were accepted: Redis keys of running deployments stay put', () => {
    const before = createHash('sha256').update('db.example:/vcp').digest('hex').slice(0, 16);
    expect(scopeOf('postgres://vcp:secret@DB.example:5432/vcp')).toBe(before);
  });

  it('names a socket database by its directory, port and name, however the URL writes them', () => {
    const scope = scopeOf('postgresql:///vcp?host=/var/run/postgresql');
    for (const url of [
      'postgres://vcp@%2Fvar%2Frun%2Fpostgresql/vcp',
      'postgres://other:creds@/vcp?host=/var/run/postgresql',
      'postgresql://localhost:5432/vcp?host=/var/run/postgresql',
    ])
      expect([url, scopeOf(url)]).toEqual([url, scope]);
    for (const url of [
      'postgresql:///vcp?host=/tmp',
      'postgresql:///vcp_staging?host=/var/run/postgresql',
      'postgresql:///vcp?host=/var/run/postgresql&port=5433',
      'postgres://localhost/vcp',
    ])
      expect([url, scopeOf(url)]).not.toEqual([url, scope]);
  });
});

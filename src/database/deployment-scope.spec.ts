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
});

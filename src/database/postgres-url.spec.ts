import { parse } from 'pg-connection-string';
import { postgresEndpoint } from './postgres-url';

describe('postgresEndpoint', () => {
  it.each([
    [
      'postgres://vcp:secret@db.internal:5432/vcp',
      { host: 'db.internal', port: '5432', database: 'vcp', socket: false },
    ],
    [
      'postgresql://db.example/vcp?sslmode=require',
      { host: 'db.example', port: '', database: 'vcp', socket: false },
    ],
    ['postgres://u@[::1]:6543/vcp', { host: '::1', port: '6543', database: 'vcp', socket: false }],
    ['postgres://u@10.0.0.5/vcp', { host: '10.0.0.5', port: '', database: 'vcp', socket: false }],
    // Unix sockets: the directory as a query parameter, libpq's form…
    [
      'postgresql:///vcp?host=/var/run/postgresql',
      { host: '/var/run/postgresql', port: '', database: 'vcp', socket: true },
    ],
    // …with credentials and no host, as Cloud SQL documents it…
    [
      'postgres://vcp:secret@/vcp?host=/cloudsql/project:region:instance',
      { host: '/cloudsql/project:region:instance', port: '', database: 'vcp', socket: true },
    ],
    // …over a placeholder host (the parameter wins, as in node-postgres)…
    [
      'postgresql://vcp@localhost:5433/vcp?host=/tmp',
      { host: '/tmp', port: '5433', database: 'vcp', socket: true },
    ],
    // …or percent-encoded as the host.
    [
      'postgres://vcp@%2Fvar%2Frun%2Fpostgresql/vcp',
      { host: '/var/run/postgresql', port: '', database: 'vcp', socket: true },
    ],
  ])('reads %s as node-postgres connects to it', (url, endpoint) => {
    expect(postgresEndpoint(url)).toEqual(endpoint);
    // The driver's own parser, which is what connects: the same host, port and database.
    const driver = parse(url);
    expect({ host: driver.host, port: driver.port, database: driver.database }).toEqual({
      host: endpoint.host,
      port: endpoint.port,
      database: endpoint.database,
    });
  });

  it.each([
    ['another scheme', 'mysql://root@localhost/db'],
    ['no scheme', 'db.internal:5432/vcp'],
    ['nothing after the scheme', 'postgres://'],
    ['no host and no socket directory', 'postgres:///vcp'],
    ['a space in the host', 'postgres://exa mple.com/vcp'],
    ['a port out of range', 'postgres://db.internal:99999/vcp'],
    ['a port that is no number', 'postgres://db.internal/vcp?port=fifty'],
    ['a relative socket directory', 'postgresql:///vcp?host=run/postgresql'],
    ['a malformed percent-escape', 'postgres://%zz/vcp'],
  ])('refuses %s', (_why, url) => {
    expect(postgresEndpoint(url)).toBeNull();
  });
});

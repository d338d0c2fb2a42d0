/**
 * A PostgreSQL server of the bench's own (initdb into a temporary directory, loopback port), so a fault test
 * can crash and restart it without touching the machine's shared server or anyone else's databases.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

function binDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error('no PostgreSQL server binaries found: set PG_BIN_DIR');
  return join(root, versions[0], 'bin');
}

/** PostgreSQL refuses to run as root: as root, its tools run as the `postgres` user (Debian's packages). */
function asServerUser(): { prefix: string[]; uid: number | null; gid: number | null } {
  if (process.getuid?.() !== 0) return { prefix: [], uid: null, gid: null };
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { prefix: ['runuser', '-u', 'postgres', '--'], uid, gid };
}

export class PrivatePostgres {
  private readonly bin = binDir();
  private readonly user = asServerUser();
  private readonly data: string;

  private constructor(
    private readonly dir: string,
    readonly port: number,
    private readonly durable: boolean,
  ) {
    this.data = join(dir, 'data');
  }

  /**
   * initdb (trust auth on loopback only) into a directory of its own under the system temp directory (the
   * server user must be able to reach it, which a private run directory would not allow) and start.
   */
  static async create(port: number, durable = false): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'vcp-postgres-'));
    const server = new PrivatePostgres(dir, port, durable);
    if (server.user.uid !== null) chownSync(dir, server.user.uid, server.user.gid!);
    server.run('initdb', ['-D', server.data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
    await server.start();
    return server;
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async createDatabase(name: string): Promise<string> {
    const client = new Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  async start(): Promise<void> {
    // Not durable (fault tests): the machine does not crash, the server process does, and the OS cache survives
    // kill -9. Durable (benches): commits cost what they cost in a deployment.
    const options =
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=200` +
      (this.durable ? '' : ' -c fsync=off');
    this.run('pg_ctl', [
      '-D',
      this.data,
      '-o',
      options,
      '-l',
      join(this.dir, 'server.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
    return Promise.resolve();
  }

  /** `immediate` is a crash (no checkpoint, clients cut off); the next start runs crash recovery. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    this.run('pg_ctl', ['-D', this.data, '-m', mode, '-w', '-t', '60', 'stop']);
    return Promise.resolve();
  }

  /** The postmaster's pid (its first line of postmaster.pid); its backends are its children. */
  postmasterPid(): number {
    return Number(readFileSync(join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  }

  /** Stops the server if it runs and deletes its directory. */
  async destroy(): Promise<void> {
    await this.stop('fast').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private run(tool: string, args: string[]): void {
    const [command, ...prefix] = [...this.user.prefix, join(this.bin, tool)];
    const result = spawnSync(command, [...prefix, ...args], { encoding: 'utf8' });
    if (result.status !== 0) {
      throw new Error(`${tool} failed (${result.status}): ${result.stderr || result.stdout}`);
    }
  }
}

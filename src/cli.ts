// First: an unsupported Node gets a sentence, not a stack from the first dependency it cannot load.
import './common/runtime/require-supported-node';
import 'reflect-metadata';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { EX_CONFIG, SettingsError } from './common/config/problems';

const USAGE =
  'usage: npm run cli -- create-admin <username> [--reset-password]   (the password is read from the terminal ' +
  'or stdin; an existing account is made admin only with its own password, unless --reset-password sets it)';

/** Reads the password without echoing it on a terminal; from a pipe, reads lines as they come. */
async function readPasswords(count: number): Promise<string[]> {
  const interactive = Boolean(process.stdin.isTTY);
  let muted = false;
  const output = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: interactive });
  const lines = rl[Symbol.asyncIterator]();
  const answers: string[] = [];
  for (const prompt of ['Password: ', 'Repeat password: '].slice(0, count)) {
    if (interactive) {
      process.stderr.write(prompt);
      muted = true;
    }
    const next = await lines.next();
    muted = false;
    if (interactive) process.stderr.write('\n');
    if (next.done) break;
    answers.push(String(next.value));
  }
  rl.close();
  return answers;
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const resetPassword = argv.includes('--reset-password');
  const [command, username, ...rest] = argv.filter((arg) => arg !== '--reset-password');
  if (command !== 'create-admin' || !username || rest.length > 0) {
    console.error(USAGE);
    return 2;
  }
  // Loaded only for a command that runs: usage and --help answer at once, without the app's ~2,500 modules.
  const [{ NestFactory }, { AppModule }, { AdminBootstrapService, describeAdminOutcome }, { loadConfig }] =
    await Promise.all([
      import('@nestjs/core'),
      import('./app.module.js'),
      import('./admin/admin-bootstrap.service.js'),
      import('./config/load-config.js'),
    ]);
  const config = loadConfig({
    ...process.env,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ADMIN_USERNAME: '',
    ADMIN_PASSWORD: '',
    // A one-shot command: it must not start an embedded node (issue 17).
    EMBEDDED_NODE: 'off',
  });
  // The database first (an embedded one in use by the server is refused here), then the password: nobody
  // types a password twice to learn the command could not have run. Errors are printed below, without Nest's
  // stack trace.
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), {
    logger: false,
    abortOnError: false,
  });
  try {
    const [password, repeated] = await readPasswords(2);
    if (!password) {
      console.error('no password given');
      return 2;
    }
    if (repeated !== undefined && repeated !== password) {
      console.error('the passwords do not match');
      return 2;
    }
    const outcome = await app
      .get(AdminBootstrapService)
      .ensureAdmin(username, password, 'cli', resetPassword);
    // Asked for an admin with this password and not given one: a provisioning script must not read success.
    if (outcome === 'password not its own') {
      console.error(describeAdminOutcome(username, outcome));
      return EX_CONFIG;
    }
    console.log(describeAdminOutcome(username, outcome));
    return 0;
  } finally {
    await app.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    // As the server: a bad variable, or an account that exists with another password (AdminPasswordMismatch).
    process.exit(error instanceof SettingsError ? EX_CONFIG : 1);
  },
);

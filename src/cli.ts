// First: an unsupported Node gets a sentence, not a stack from the first dependency it cannot load.
import './common/runtime/require-supported-node';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { AdminBootstrapService } from './admin/admin-bootstrap.service';
import { AppModule } from './app.module';
import { ConfigValidationError } from './common/config/problems';
import { loadConfig } from './config/load-config';

const USAGE =
  'usage: npm run cli -- create-admin <username>   (the password is read from the terminal or stdin)';

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
  const [command, username] = argv;
  if (command !== 'create-admin' || !username) {
    console.error(USAGE);
    return 2;
  }
  const [password, repeated] = await readPasswords(2);
  if (!password) {
    console.error('no password given');
    return 2;
  }
  if (repeated !== undefined && repeated !== password) {
    console.error('the passwords do not match');
    return 2;
  }
  const config = loadConfig({
    ...process.env,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ADMIN_USERNAME: '',
    ADMIN_PASSWORD: '',
    // A one-shot command: it must not start an embedded node (issue 17).
    EMBEDDED_NODE: 'off',
  });
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), {
    logger: ['error', 'warn'],
  });
  try {
    const outcome = await app.get(AdminBootstrapService).ensureAdmin(username, password, 'cli');
    console.log(`admin "${username}": ${outcome}`);
    return 0;
  } finally {
    await app.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigValidationError || error instanceof Error ? error.message : error);
    process.exit(1);
  },
);

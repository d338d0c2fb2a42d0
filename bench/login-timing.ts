/**
 * Login timing and event-loop health at the production bcrypt cost (BCRYPT_COST, default 12):
 *  1. median login time for an unknown user vs a known user with a wrong password (the ratio should be
 *     1 ± 0.2: equal timing means no account enumeration by timing);
 *  2. event-loop lag p99 while 50 logins run at once (bcrypt runs on libuv's pool, not the loop; target < 20 ms).
 * The server is the real app in a child process (bench/servers/vcp.ts, as the HTTP benches start it); the
 * logins are sent from this process over loopback, and the lag is measured inside the server (BENCH_MODULE=login:
 * a histogram started and read around the 50 logins). Runs on DATABASE_URL when set, else on the embedded
 * database (PGlite executes queries on the main thread, so its lag is higher). Prints numbers; asserts nothing.
 *
 *   npm run bench:login            (ROUNDS=20 to change the sample size)
 */
import { LIFTED_RATE_LIMITS } from './support/bench-env';
import { median, startServer } from './support/http-harness';

const ROUNDS = Number(process.env.ROUNDS ?? 20);

async function main(): Promise<void> {
  const server = await startServer('vcp', 'vcp', {
    // The bench's ~40 failed and 50 concurrent logins all come from one client: the auth tier (and its count of
    // failed authentications) would answer 429 long before bcrypt is timed.
    ...LIFTED_RATE_LIMITS,
    BENCH_MODULE: 'login',
  });
  try {
    await measure(`${server.url}/api/v1`);
  } finally {
    await server.stop();
  }
}

async function measure(base: string): Promise<void> {
  const call = async (method: 'GET' | 'POST', path: string, body?: object) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const post = (path: string, body?: object) => call('POST', path, body);
  const registered = await post('/auth/register', {
    username: 'bench_user',
    password: 'correct horse battery',
  });
  if (registered.status >= 300) throw new Error(`register answered ${registered.status}`);

  const time = async (payload: object) => {
    const started = performance.now();
    const { status } = await post('/auth/login', payload);
    if (status !== 401) throw new Error(`expected 401, got ${status}`);
    return performance.now() - started;
  };
  const known: number[] = [];
  const unknown: number[] = [];
  await time({ username: 'nobody_here', password: 'wrong password' }); // warm the dummy hash
  for (let i = 0; i < ROUNDS; i++) {
    // Interleaved so drift in machine load hits both samples alike.
    known.push(await time({ username: 'bench_user', password: 'wrong password' }));
    unknown.push(await time({ username: `nobody_${i}`, password: 'wrong password' }));
  }
  const ratio = median(unknown) / median(known);
  const database = process.env.DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite';
  // The server's own setting, as it read it (BCRYPT_COST or its default).
  const bcryptCost = (await call('GET', '/bench/login/settings')).body.bcrypt_cost;
  console.log(`bcrypt cost ${String(bcryptCost)}, ${ROUNDS} rounds each, on ${database}`);
  console.log(`login, known user, wrong password: median ${median(known).toFixed(1)} ms`);
  console.log(`login, unknown user             : median ${median(unknown).toFixed(1)} ms`);
  console.log(
    `ratio unknown/known: ${ratio.toFixed(2)} (target 0.80–1.20) ${Math.abs(ratio - 1) <= 0.2 ? 'OK' : 'MISS'}`,
  );

  await post('/bench/login/lag/start');
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: 50 }, () =>
      post('/auth/login', { username: 'bench_user', password: 'correct horse battery' }),
    ),
  );
  const elapsed = performance.now() - started;
  const p99 = Number((await post('/bench/login/lag/stop')).body.p99_ms);
  const refused = answers.filter((res) => res.status !== 200);
  if (refused.length > 0) throw new Error(`${refused.length} of 50 logins answered ${refused[0].status}`);
  console.log(`50 concurrent logins: ${elapsed.toFixed(0)} ms total`);
  console.log(
    `event-loop lag p99 in the server during them: ${p99.toFixed(1)} ms (target < 20) ${p99 < 20 ? 'OK' : 'MISS'}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

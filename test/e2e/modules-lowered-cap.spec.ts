import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config';
import { bootApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { TEST_DEFAULTS } from '../support/config';
import { createTestEnv, describeEachDatabase, TestEnv } from '../support/databases';
import { name, section } from '../support/wasm-encoding';
import { fixture, sha256 } from '../support/wasm';

const HIGH = 256 * 1024;
const LOW = 64 * 1024;

/**
 * WASM_MAX_MODULE_BYTES lowered under a module already stored: the limit governs new uploads; the stored
 * module stays listed, readable, downloadable, runnable and deletable (it was a 404 everywhere but the list).
 */
describeEachDatabase('a module stored before WASM_MAX_MODULE_BYTES was lowered (%s)', (database) => {
  let env: TestEnv;
  let app: NestFastifyApplication | undefined;
  let alice: Session;
  // echo, padded past LOW with a custom section (ignored by both runtimes).
  const big = Buffer.concat([
    fixture('echo'),
    Buffer.from(section(0, [...name('vcp-padding'), ...randomBytes(LOW + 1024)])),
  ]);
  const id = sha256(big);

  const inject = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
    app!.inject({
      method,
      url: `/api/v1${url}`,
      headers: {
        ...bearer(alice.accessToken),
        ...(Buffer.isBuffer(payload) ? { 'content-type': 'application/wasm' } : {}),
      },
      payload: payload as string | Buffer | undefined,
    });

  beforeAll(async () => {
    env = await createTestEnv(database, { WASM_MAX_MODULE_BYTES: String(HIGH), WASM_DEFAULT_RUNTIME: 'v8' });
    app = await bootApp(env.config);
    alice = await newSession(app, 'cap');
    expect((await inject('POST', '/modules', big)).statusCode).toBe(201);
    await app.close();
    // The same data dir, database and roots, with the limit below the module's size.
    const lowered = loadConfig({
      ...TEST_DEFAULTS,
      DATA_DIR: env.dataDir,
      WASM_ALLOWED_ROOTS: join(env.dataDir, 'wasm-modules'),
      ...(env.db ? { DATABASE_URL: env.db.url } : {}),
      WASM_MAX_MODULE_BYTES: String(LOW),
      WASM_DEFAULT_RUNTIME: 'v8',
    });
    app = await bootApp(lowered);
  });

  afterAll(async () => {
    await app?.close();
    await env?.dispose();
  });

  it('is listed, read, downloaded and run as before', async () => {
    const listed = await inject('GET', '/modules');
    expect(listed.json<{ items: { module_id: string }[] }>().items.map((m) => m.module_id)).toContain(id);
    const meta = await inject('GET', `/modules/${id}`);
    expect(meta.statusCode).toBe(200);
    expect(meta.json()).toMatchObject({ module_id: id, size_bytes: big.length });
    const download = await inject('GET', `/modules/${id}/download`);
    expect(download.statusCode).toBe(200);
    expect(download.rawPayload.equals(big)).toBe(true);
    const run = await inject('POST', `/modules/${id}/run`, { inputs: { n: 1 } });
    expect(run.statusCode).toBe(200);
    expect(run.json()).toMatchObject({ outcome: 'ok', stdout: { n: 1 } });
  });

  it('cannot be uploaded again (413: the limit governs uploads), and is deleted like any other', async () => {
    const again = await inject('POST', '/modules', big);
    expect(again.statusCode).toBe(413);
    expect(again.json()).toMatchObject({ error: 'payload_too_large' });
    expect((await inject('DELETE', `/modules/${id}`)).statusCode).toBe(200);
    expect((await inject('GET', `/modules/${id}`)).statusCode).toBe(404);
    const listed = await inject('GET', '/modules');
    expect(listed.json<{ items: { module_id: string }[] }>().items.map((m) => m.module_id)).not.toContain(id);
  });
});

import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AgentProcess, startNodeScript } from '../support/agent-process';
import { useAgentServer } from '../support/agent-server';
import { eventually } from '../support/eventually';
import { circuitPayload } from '../support/zk';

const EXAMPLE = join(__dirname, '../../examples/minimal-node.mjs');
const VERIFY_RECEIPT = join(__dirname, '../../dist/src/receipts/verify-receipt.js');
const fixture = (name: string) => readFileSync(join(__dirname, `../fixtures/wasm/${name}.wasm`));

/**
 * "Anyone can write a node": examples/minimal-node.mjs, written from README and the OpenAPI document alone
 * (no import from src/ or dist/, its own JCS), is a node of the server process like the agent: it registers
 * with a user key holding only nodes:write, claims, runs the module, signs, and its result completes the task
 * with a receipt that verifies offline. The same program signing non-canonical JSON is refused (422
 * signature_invalid), so the signature is really checked.
 */
describe('a node written from the documentation (examples/minimal-node.mjs)', () => {
  // Leases shorter than a run below, so that only heartbeat renewals keep it.
  const admin = { username: 'admin', password: 'change this admin password' };
  const cluster = useAgentServer('writer', {
    RUN_LEASE_SECS: '4',
    ADMIN_USERNAME: admin.username,
    ADMIN_PASSWORD: admin.password,
  });
  const { api } = cluster;
  let userKey = '';
  /** The honest node's data dir (its key pair and node key), kept between the tests. */
  let goodDir = '';

  beforeAll(async () => {
    const res = await api('POST', '/api-keys', { name: 'node-writer', scopes: ['nodes:write'] });
    expect(res.status).toBe(201);
    userKey = res.json.api_key as string;
    goodDir = cluster.tempDir();
  });

  const startNode = (nodeId: string, dataDir: string, env: Record<string, string> = {}) =>
    cluster.track(
      startNodeScript(EXAMPLE, [], {
        VCP_SERVER_URL: cluster.base,
        VCP_API_KEY: userKey,
        VCP_NODE_ID: nodeId,
        VCP_NODE_DIR: dataDir,
        ...env,
      }),
    );
  const event = (node: AgentProcess, name: string) => {
    const found = node.events().find((e) => e.event === name);
    if (!found) throw new Error(`no ${name} event yet:\n${node.output()}`);
    return found;
  };
  const submit = async (module: string, inputs: unknown, maxSecs = 30) => {
    const res = await api('POST', '/tasks', {
      task_type: 'wasm_execution',
      wasm_module: fixture(module).toString('base64'),
      inputs,
      requirements: { min_nodes: 1, max_execution_time_sec: maxSecs },
    });
    expect(res.status).toBe(201);
    return res.json as { task_id: string; module_id: string };
  };
  const taskOf = (taskId: string) => api('GET', `/tasks/${taskId}`).then((res) => res.json);
  const completed = (taskId: string, node: AgentProcess) =>
    eventually(
      async () => {
        const t = await taskOf(taskId);
        if (t.status !== 'completed') throw new Error(`${t.status}: ${t.status_reason}\n${node.output()}`);
        return t;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  const stop = async (node: AgentProcess) => {
    node.child.kill('SIGTERM');
    expect(await node.exited).toEqual({ code: 0, signal: null });
    expect(event(node, 'stopped')).toBeDefined();
  };

  it('completes a wasm_execution task as its own node, with a receipt that verifies offline', async () => {
    const node = startNode('minimal-1', goodDir);
    await eventually(() => event(node, 'started'), { timeoutMs: 20_000 });
    // Keys out of order, floats, negatives, nesting: what the module echoes and both hashes must agree on.
    const inputs = { zeta: 'héllo ✓', n: [1, 2.5, -3, 1e21], nested: { b: true, a: null } };
    const task = await submit('echo', inputs);

    const done = await completed(task.task_id, node);
    expect(done.result).toEqual(inputs);
    expect(done.runs).toEqual([
      expect.objectContaining({ node_id: 'minimal-1', status: 'succeeded', outcome: 'ok' }),
    ]);

    // It registered the public key it signs with, and heartbeats as that node.
    const registered = (await api('GET', '/nodes/minimal-1')).json;
    expect(registered.public_key).toBe(event(node, 'started').public_key);
    expect(registered.last_heartbeat).not.toBeNull();

    const receipt = await api('GET', `/tasks/${task.task_id}/receipt`);
    expect(receipt.status).toBe(200);
    expect(receipt.json.receipt).toMatchObject({ module_hash: task.module_id, verification: 'none' });
    expect(receipt.json.receipt.runs).toEqual([
      expect.objectContaining({ node_id: 'minimal-1', node_public_key: registered.public_key }),
    ]);
    const file = join(cluster.tempDir(), 'receipt.json');
    writeFileSync(file, JSON.stringify(receipt.json));
    const serverKey = (await api('GET', '/receipts/public-key')).json.public_key as string;
    const { stdout } = await promisify(execFile)(process.execPath, [
      VERIFY_RECEIPT,
      file,
      '--public-key',
      serverKey,
    ]);
    expect(stdout).toMatch(/holds {3}run signatures: 1 run signature\(s\) verify/);
    expect(stdout).toMatch(/all \d+ checks hold\n$/);

    await stop(node);
  });

  it('signing non-canonical JSON is refused (422 signature_invalid) and the task waits for an honest node', async () => {
    const task = await submit('echo', { b: 2, a: 1 });
    const liar = startNode('minimal-bad', cluster.tempDir(), { MINIMAL_NODE_NONCANONICAL: '1' });
    const answer = await eventually(() => event(liar, 'result'), { timeoutMs: 30_000, intervalMs: 50 });
    expect(answer).toMatchObject({
      status: 422,
      answer: { error: 'validation_error', reason: 'signature_invalid' },
    });
    // A node whose signatures the server refuses stops (as the agent does, exit 78) rather than claim more.
    expect((await liar.exited).code).toBe(78);
    const refused = await taskOf(task.task_id);
    expect(refused.status).toBe('pending');
    expect(refused.runs).toEqual([
      expect.objectContaining({ node_id: 'minimal-bad', status: 'expired', outcome: 'signature_invalid' }),
    ]);

    // The honest program, started again on its data dir (its stored node key, no registration), completes it.
    const node = startNode('minimal-1', goodDir, { VCP_API_KEY: '' });
    const done = await completed(task.task_id, node);
    expect(done.result).toEqual({ a: 1, b: 2 });
    expect(done.runs.map((r: { node_id: string }) => r.node_id)).toEqual(['minimal-bad', 'minimal-1']);
    await stop(node);
  });

  it('runs a deterministic task (the default) as the server engine does: same clock and random bytes', async () => {
    const node = startNode('minimal-det', cluster.tempDir());
    const task = await submit('clock_random', { salt: 'x' });
    const done = await completed(task.task_id, node);
    const onServer = await api('POST', `/modules/${task.module_id}/run`, {
      inputs: { salt: 'x' },
      deterministic: true,
    });
    expect(onServer.json.outcome).toBe('ok');
    expect(done.result).toEqual(onServer.json.stdout);
    expect(done.result.random).toMatch(/^[0-9a-f]{32}$/);
    await stop(node);
  });

  it('renews its lease by heartbeats while a run outlasts it, and reports the run when it ends', async () => {
    const node = startNode('minimal-long', cluster.tempDir());
    const task = await submit('loop', null, 9); // spins until its 9 s timeout, past two 4 s leases
    const reported = await eventually(
      () => node.events().find((e) => e.event === 'result') ?? Promise.reject(new Error(node.output())),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(reported).toMatchObject({ outcome: 'timeout', status: 200, answer: { run_status: 'failed' } });
    const runs = (await taskOf(task.task_id)).runs as Record<string, unknown>[];
    expect(runs[0]).toMatchObject({ node_id: 'minimal-long', status: 'failed', outcome: 'timeout' });
    expect((await api('POST', `/tasks/${task.task_id}/cancel`)).status).toBe(200); // no other node runs it
    await stop(node);
  });

  it('refuses a task kind it does not run the documented way: outcome error, signed with the task’s circuit', async () => {
    const login = await api('POST', '/auth/login', admin);
    const registered = await fetch(`${cluster.base}/api/v1/admin/circuits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${login.json.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify(circuitPayload('multiplier', 'groth16', { wasm: true, zkey: true })),
    });
    expect(registered.status).toBe(201);
    const { circuit_id } = (await registered.json()) as { circuit_id: string };
    const posted = await api('POST', '/tasks', {
      task_type: 'zk_proof',
      circuit_id,
      inputs: { public_signals: ['33', '11'], a: '3', b: '11' },
      requirements: { min_nodes: 1, max_execution_time_sec: 30 },
    });
    expect(posted.status).toBe(201);
    const node = startNode('minimal-zk', cluster.tempDir());
    const reported = await eventually(
      () => node.events().find((e) => e.event === 'result') ?? Promise.reject(new Error(node.output())),
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    // Accepted as the node's own fault: the receipt named the circuit although the node ran nothing.
    expect(reported).toMatchObject({ outcome: 'error', status: 200, answer: { run_status: 'failed' } });
    const runs = (await taskOf(posted.json.task_id)).runs as Record<string, unknown>[];
    expect(runs).toEqual([expect.objectContaining({ node_id: 'minimal-zk', outcome: 'error' })]);
    expect((await api('POST', `/tasks/${posted.json.task_id}/cancel`)).status).toBe(200);
    await stop(node);
  });

  it('imports nothing but Node built-ins (no src/, dist/ or package: the documentation is enough)', () => {
    const source = readFileSync(EXAMPLE, 'utf8');
    const imported = [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imported.length).toBeGreaterThan(0);
    expect(imported.filter((specifier) => !specifier.startsWith('node:'))).toEqual([]);
    expect(source).not.toMatch(/\bimport\(|\brequire\(/);
  });
});

import fc from 'fast-check';
import { useAdminApp } from '../support/admin';
import { LeasedRun, TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { TEST_DEFAULTS } from '../support/config';
import {
  fuzzRuns,
  hostileString,
  hostileValue,
  isErrorShape,
  RUNS_PER_ROUTE,
  UNLIMITED_RATES,
} from '../support/fuzz';
import { getTask, submitTask } from '../support/tasks';
import { Q, R, zkFixture, registerCircuit } from '../support/zk';

/**
 * zk_proof results fuzzed as only a node can send them: the proof and public signals of the fixture's valid
 * groth16 proof with one part made hostile (a coordinate past the field, a number as text in another base, a
 * wrong type, a missing point), signed by the node over the receipt that binds the proof. The signature passes,
 * so the proof verifier is all that stands between such a body and the task: it never completes the task, and
 * the answer is a 4xx in the documented shape, never a 5xx.
 */
const STATEMENT = ['33', '11'];

describe('fuzzing zk_proof results with validly signed, damaged proofs', () => {
  const ctx = useAdminApp({ env: { ...TEST_DEFAULTS, ...UNLIMITED_RATES, TASK_RETRY_BASE_MS: '0' } });
  let alice: Session;
  let bob: Session;
  let circuitId: string;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'zk_fuzz_alice');
    bob = await newSession(ctx.app, 'zk_fuzz_bob');
    circuitId = await registerCircuit(ctx.app, bearer(ctx.admin.accessToken), 'multiplier', 'groth16');
  });
  afterAll(async () => {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  });

  const fieldLike = fc.oneof(
    fc.constantFrom(
      String(R),
      String(R - 1n),
      String(Q),
      String(Q + 1n),
      '0',
      '-1',
      '1',
      '0x21',
      '1e3',
      ' 33',
    ),
    fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n }).map(String),
    hostileString,
  );
  /** A copy of `value` with the part at a random path replaced (or removed). */
  const damage = (value: unknown, path: number[], replacement: unknown, remove: boolean): unknown => {
    if (path.length === 0 || value === null || typeof value !== 'object') return replacement;
    const entries = Array.isArray(value)
      ? value.map((v, i) => [String(i), v] as const)
      : Object.entries(value);
    if (entries.length === 0) return replacement;
    const [key] = entries[path[0] % entries.length];
    const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...value };
    if (path.length === 1 && remove) {
      if (Array.isArray(copy)) copy.splice(Number(key), 1);
      else delete copy[key];
      return copy;
    }
    (copy as Record<string, unknown>)[key] = damage(
      (value as Record<string, unknown>)[key],
      path.slice(1),
      replacement,
      remove,
    );
    return copy;
  };

  let agent: TestAgent;
  /** A fresh zk_proof task of the multiplier's statement, leased to the agent (a new one when it is full). */
  const leaseZkTask = async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), {
      task_type: 'zk_proof',
      circuit_id: circuitId,
      inputs: { public_signals: STATEMENT, witness: { a: '3', b: '11' } },
    });
    // Refused: a node the verifier's rejections of damaged proofs quarantined (its slots are free, as each
    // refused result ended its lease): a new node takes over.
    const find = async () =>
      (await agent.claim({ max: 16, wait_ms: 0 }).catch(() => [] as LeasedRun[])).find(
        (r) => r.task_id === task.task_id,
      );
    let run: LeasedRun | undefined = agent && (await find());
    if (!run) {
      agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
      run = await find();
    }
    if (!run) throw new Error('the zk task was not leased');
    return { task, run };
  };

  it('control: the undamaged fixture proof, sent the same way, completes its task', async () => {
    const { task, run } = await leaseZkTask();
    const { proof, publicSignals } = zkFixture('multiplier', 'groth16');
    const res = await agent.report(
      run,
      'ok',
      { proof, public_signals: publicSignals },
      { proof, public_signals: publicSignals },
    );
    expect(res.statusCode).toBe(200);
    expect((await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).status).toBe('completed');
  });

  it('never completes a task on a damaged proof, and answers every one in the documented shape', async () => {
    const bad: string[] = [];
    const statuses: Record<string, number> = {};
    const input = fc.record({
      target: fc.constantFrom('proof', 'public_signals', 'both'),
      path: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
      replacement: fc.oneof({ weight: 3, arbitrary: fieldLike }, { weight: 1, arbitrary: hostileValue }),
      remove: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(input, async ({ target, path, replacement, remove }) => {
        const { task, run } = await leaseZkTask();
        const { proof, publicSignals } = zkFixture('multiplier', 'groth16');
        const damagedProof = target === 'public_signals' ? proof : damage(proof, path, replacement, remove);
        const damagedSignals =
          target === 'proof' ? publicSignals : damage(publicSignals, path, replacement, remove);
        // pi_a[2] is '1' in the fixture: a '1' put there damages nothing, and the valid proof may complete its task.
        if (JSON.stringify([damagedProof, damagedSignals]) === JSON.stringify([proof, publicSignals]))
          return true;
        const output = { proof: damagedProof, public_signals: damagedSignals };
        let res;
        try {
          res = await agent.report(run, 'ok', output, {
            proof: damagedProof,
            public_signals: damagedSignals,
          });
        } catch {
          // The receipt cannot be built for it (a value canonical JSON refuses): the node could not sign it.
          return true;
        }
        const why =
          res.statusCode === 200
            ? `200 ${res.json().run_status}`
            : `${res.statusCode} ${res.json().reason ?? res.json().details?.[0]?.field ?? res.json().error}`;
        statuses[why] = (statuses[why] ?? 0) + 1;
        const after = await getTask(ctx.app, task.task_id, bearer(alice.accessToken));
        const label = `${target} ${JSON.stringify(path)} ${remove ? 'removed' : JSON.stringify(replacement)?.slice(0, 120)}`;
        if (res.statusCode >= 500 || !isErrorShape(res.statusCode, res.body))
          bad.push(`${label} → ${res.statusCode} ${res.body.slice(0, 300)}`);
        if (after.status === 'completed') bad.push(`${label} → completed (${res.statusCode})`);
        // A refused result queued its task again (its lease ended): out of the way of the next iteration's claim.
        if (after.status === 'pending') {
          const cancel = await ctx.app.inject({
            method: 'POST',
            url: `/api/v1/tasks/${task.task_id}/cancel`,
            headers: bearer(alice.accessToken),
          });
          expect(cancel.statusCode).toBe(200);
        }
        return true;
      }),
      fuzzRuns(RUNS_PER_ROUTE * 4, 1311),
    );
    expect(bad).toEqual([]);
    // Damaged proofs met validation and the verifier too: refused there, the run is rejected (a 200).
    expect(statuses['200 rejected']).toBeGreaterThan(0);
    expect(Object.keys(statuses).filter((why) => why.startsWith('422')).length).toBeGreaterThan(5);
  });
});

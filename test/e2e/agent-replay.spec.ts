import { ReplayingFetch, RequestKind } from '../support/replaying-fetch';
import { runScenario, Snapshot } from '../support/replay-scenario';

interface LeasedRunView {
  run_id: string;
  fence: string;
}

const runsOf = (body: string): LeasedRunView[] =>
  body === '' ? [] : (JSON.parse(body) as { runs: LeasedRunView[] }).runs;
/** Leases that ended without a result, over both nodes. */
const lost = (snapshot: Snapshot) =>
  snapshot.nodes.reduce<number>((sum, node) => sum + (node as { runs_lost: number }).runs_lost, 0);
const NO_LEASES = { renewed: [], lost: [], cancel: [] };
const leasesOf = (body: string): Record<'renewed' | 'lost' | 'cancel', string[]> =>
  (JSON.parse(body) as { leases?: Record<'renewed' | 'lost' | 'cancel', string[]> }).leases ?? NO_LEASES;

/**
 * Issue 19: every agent request is safe to replay. The same scenario (deterministic tasks, quorum tasks on two
 * nodes of distinct owners, a task fault and a node fault) runs three times on fresh servers with the real
 * agent: its requests sent once; every request sent twice in a row, the agent acting on the second answer
 * (a retry after a lost answer); and, as the control that shows the comparison can fail, twice again but
 * with the claims' Idempotency-Key stripped.
 */
describe('agent requests replayed twice (PostgreSQL)', () => {
  let baseline: Snapshot;

  beforeAll(async () => {
    baseline = await runScenario('direct');
  }, 60_000);

  it('the baseline finishes every task as designed, with no lease left', () => {
    expect(baseline.leasedRuns).toBe(0);
    const byStatus = baseline.tasks.map((task) => {
      const { task_type, status, status_reason } = task as Record<string, unknown>;
      return `${String(task_type)} ${String(status)} ${String(status_reason)}`;
    });
    expect(byStatus.sort()).toEqual(
      [
        ...Array(5).fill('computation completed null'),
        ...Array(2).fill('wasm_execution completed null'),
        'wasm_execution failed attempts_exhausted',
        'wasm_execution failed unexecutable',
      ].sort(),
    );
    // Two quorum verdicts per node (three quorum tasks), one run past the output cap each (a node fault).
    expect(baseline.nodes).toEqual(
      ['replay-a', 'replay-b'].map((node_id) =>
        expect.objectContaining({
          node_id,
          runs_valid: 3,
          runs_invalid: 0,
          runs_error: 1,
          runs_lost: 0,
          live_keys: 1,
        }),
      ),
    );
  });

  it('every request sent twice leaves the same final state, and each repeat got the first answer', async () => {
    const replaying = new ReplayingFetch();
    const replayed = await runScenario(replaying.fetch);
    expect(replayed).toEqual(baseline);

    // Every kind of agent request was replayed.
    for (const kind of ['validate', 'register', 'heartbeat', 'claim', 'result', 'download'] as const) {
      expect(replaying.of(kind).length).toBeGreaterThan(0);
    }
    expect(replaying.of('other')).toEqual([]);
    // Each repeat is compared with the first answer. A 5xx to the first send (a loaded machine) is a failure
    // the agent retries anyway: the second send is then that retry, and is not compared.
    const answered = (kind: RequestKind) => replaying.of(kind).filter(({ first }) => first.status < 500);
    // A repeated registration answers 201 for the same node, with a fresh key (the unseen one is revoked).
    for (const { first, second } of answered('register')) {
      expect([first.status, second.status]).toEqual([201, 201]);
      const [a, b] = [first, second].map((answer) => JSON.parse(answer.body) as Record<string, unknown>);
      expect({ ...b, node_api_key: a.node_api_key }).toEqual(a);
      expect(b.node_api_key).not.toEqual(a.node_api_key);
    }
    // A repeated result gets the first answer (not a 409, not a second verdict), and the claim it carried
    // (Claim-Next) the same runs; a repeated claim the same runs. Replayed leases are renewed: compared by
    // run and fence. A claim that leased nothing has nothing to replay, so its repeat is a new claim and may
    // lease what has become claimable since: the agent acts on that answer, so no lease goes unseen (the final
    // state above equals the baseline's) — compared, as for claims below, only where the first leased runs.
    const ids = (runs: LeasedRunView[]) => runs.map(({ run_id, fence }) => ({ run_id, fence }));
    const resultView = ({ status, body }: { status: number; body: string }, compareRuns = true) => {
      const answer = JSON.parse(body) as { next_runs?: LeasedRunView[] };
      if (!compareRuns) return { status, ...answer, next_runs: answer.next_runs && 'any' };
      return { status, ...answer, ...(answer.next_runs ? { next_runs: ids(answer.next_runs) } : {}) };
    };
    const results = answered('result');
    for (const { first, second } of results) {
      const leased = (JSON.parse(first.body) as { next_runs?: unknown[] }).next_runs?.length !== 0;
      expect(resultView(second, leased)).toEqual(resultView(first, leased));
    }
    expect(results.filter(({ first }) => first.status === 200).length).toBeGreaterThan(0);
    const nextRuns = ({ body }: { body: string }) =>
      (JSON.parse(body) as { next_runs?: LeasedRunView[] }).next_runs ?? [];
    expect(results.filter(({ first }) => nextRuns(first).length > 0).length).toBeGreaterThan(0);
    const leasing = answered('claim').filter(({ first }) => runsOf(first.body).length > 0);
    expect(leasing.length).toBeGreaterThan(0);
    for (const { first, second } of leasing)
      expect(ids(runsOf(second.body))).toEqual(ids(runsOf(first.body)));
    // A repeated heartbeat answers for the same runs and renews none the first did not (a result that
    // landed between the two sends makes a renewed run lost in the second, never the other way round).
    expect(answered('heartbeat').length).toBeGreaterThan(0);
    for (const { first, second } of answered('heartbeat')) {
      expect(second.status).toBe(first.status);
      const [a, b] = [leasesOf(first.body), leasesOf(second.body)];
      expect([...b.renewed, ...b.lost, ...b.cancel].sort()).toEqual(
        [...a.renewed, ...a.lost, ...a.cancel].sort(),
      );
      for (const runId of b.renewed) expect(a.renewed).toContain(runId);
    }
    for (const { first, second } of answered('download')) expect(second).toEqual(first);
  }, 60_000);

  it('control: replayed claims without their Idempotency-Key lease runs the agent never sees', async () => {
    const replaying = new ReplayingFetch({ stripClaimKeys: true });
    const replayed = await runScenario(replaying.fetch);
    expect(replayed).not.toEqual(baseline);
    // The difference is the one expected: leases that ended without a result, counted against the nodes.
    expect(lost(baseline)).toBe(0);
    expect(lost(replayed)).toBeGreaterThan(0);
  }, 60_000);

  it('control: replayed results without the Idempotency-Key of the claim they carry lease runs unseen', async () => {
    const replaying = new ReplayingFetch({ stripClaimKeys: 'results' });
    const replayed = await runScenario(replaying.fetch);
    expect(lost(replayed)).toBeGreaterThan(0);
  }, 60_000);
});

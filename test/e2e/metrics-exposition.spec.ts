import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RATE_TIERS } from '../../src/common/auth/rate-tiers';
import { RUN_OUTCOMES } from '../../src/common/runs/run-outcomes';
import { FINAL_TASK_STATUSES, TASK_TYPES } from '../../src/common/tasks/task-kinds';
import { AUTH_EVENTS, CLAIM_RESULTS, LEASE_LOSS_CAUSES, RUN_VERDICTS } from '../../src/metrics/metric-labels';
import { PROOF_SYSTEMS } from '../../src/proofs/proof-system';
import { LeaseSweeper } from '../../src/scheduling/lease-sweeper';
import { TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { bearer, newSession } from '../support/auth';
import { Exposition, scrape, valueOf } from '../support/prometheus';
import { submitTask } from '../support/tasks';

const TOKEN = 'scrape-token-' + randomBytes(12).toString('hex');
const AUTH = { authorization: `Bearer ${TOKEN}` };
/** Named before the conventions were followed, and pinned by README: kept, and the only exceptions below. */
const PINNED_COUNTERS_WITHOUT_TOTAL = ['http_request_count', 'http_errors'];
const PINNED_HISTOGRAMS_WITHOUT_UNIT = ['http_request_duration'];
/** prom-client's default process metrics: not ours to name or document one by one. */
const isDefault = (family: string) => /^(process|nodejs)_/.test(family);
/** A task, run, node or proof id (UUID), or a module hash or circuit id (64 hex). */
const ID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{64}/i;

/** The metric names README's Metrics and logs table lists (first column). */
function readmeMetricNames(): Set<string> {
  const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Metrics and logs'));
  const table = section.slice(
    section.indexOf('| Metric'),
    section.indexOf('\n\n', section.indexOf('| Metric')),
  );
  const names = new Set<string>();
  for (const row of table.split('\n').slice(2)) {
    for (const [, name] of row.split('|')[1].matchAll(/`([a-z_]+)`/g)) names.add(name);
  }
  return names;
}

/** The series README's alert rules name (`http_errors`, `proof_verification_duration_seconds_count`, …). */
function readmeAlertSeries(): string[] {
  const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
  const rules = readme.slice(readme.indexOf('```yaml\n  groups:'));
  const exprs = rules.slice(0, rules.indexOf('```\n', 8)).match(/expr: .*/g) ?? [];
  expect(exprs.length).toBeGreaterThan(3);
  // Series are the names before a selector, a range or a closing parenthesis, once `by (labels)` is dropped.
  return exprs.flatMap((expr) => expr.replace(/by \([^)]*\)/g, '').match(/\b[a-z_]+(?=[{[)])/g) ?? []);
}

/** What a Prometheus operator relies on in the scrape, whatever the tour before it did. */
describe('the /metrics exposition', () => {
  const ctx = useTestApp({
    database: 'pglite',
    env: { METRICS_TOKEN: TOKEN, SCHEDULER_SWEEP_INTERVAL_SECS: '3600' },
  });
  let fresh: Exposition;
  let exposition: Exposition;
  let families: string[];

  beforeAll(async () => {
    fresh = await scrape(ctx.app, AUTH);
    // A tour: accounts, a task submitted, claimed, reported and read, refusals on id-bearing paths.
    const alice = await newSession(ctx.app, 'alice');
    const bob = await newSession(ctx.app, 'bob');
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const [run] = await agent.claim();
    expect((await agent.report(run, 'ok', 6)).statusCode).toBe(200);
    const get = (url: string, headers = {}) => ctx.app.inject({ method: 'GET', url, headers });
    expect((await get(`/api/v1/tasks/${task.task_id}`, bearer(alice.accessToken))).statusCode).toBe(200);
    expect((await get(`/api/v1/tasks/${randomUUID()}`, bearer(alice.accessToken))).statusCode).toBe(404);
    expect((await get(`/api/v1/tasks/${task.task_id}`)).statusCode).toBe(401);
    expect((await get(`/api/v1/modules/${'ab'.repeat(32)}`)).statusCode).toBe(401);
    expect((await get(`/api/v1/no-such/${randomUUID()}`)).statusCode).toBe(404);
    await ctx.app.get(LeaseSweeper).sweep();
    exposition = await scrape(ctx.app, AUTH);
    families = [...exposition.types.keys()];
  });

  it('gives every family a HELP text and a TYPE', () => {
    expect(families.length).toBeGreaterThan(20);
    const familyOf = (name: string) =>
      exposition.types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    const untyped = exposition.samples.map((s) => familyOf(s.name)).filter((f) => !exposition.types.has(f));
    expect(untyped).toEqual([]);
    const undocumented = families.filter((f) => (exposition.help.get(f) ?? '').trim().length < 10);
    expect(undocumented).toEqual([]);
  });

  it('names counters *_total and histograms in seconds, but for the names README pinned before', () => {
    const ours = families.filter((f) => !isDefault(f));
    const counters = ours.filter((f) => exposition.types.get(f) === 'counter');
    expect(counters.filter((f) => !f.endsWith('_total'))).toEqual(PINNED_COUNTERS_WITHOUT_TOTAL);
    const histograms = ours.filter((f) => exposition.types.get(f) === 'histogram');
    expect(histograms.filter((f) => !f.endsWith('_seconds'))).toEqual(PINNED_HISTOGRAMS_WITHOUT_UNIT);
    const gauges = ours.filter((f) => exposition.types.get(f) === 'gauge');
    expect(gauges.filter((f) => f.endsWith('_total') || f.endsWith('_count'))).toEqual([]);
  });

  it('puts no id in a label value, and only route templates in route', () => {
    const withIds = exposition.samples.filter((s) => Object.values(s.labels).some((v) => ID.test(v)));
    expect(withIds).toEqual([]);
    const routes = new Set(exposition.samples.map((s) => s.labels.route).filter((r) => r !== undefined));
    expect(routes).toContain('/api/v1/tasks/:task_id');
    expect(routes).toContain('/api/v1/modules/:module_id');
    for (const route of routes) expect(route).toMatch(/^(unmatched|(\/([a-z0-9_.-]+|:[a-z_]+))+)$/);
  });

  it('lists in README every vcp_* and other family of its own, and exposes every one README lists', () => {
    const exposed = families.filter((f) => !isDefault(f)).sort();
    expect([...readmeMetricNames()].sort()).toEqual(exposed);
  });

  it('has README alert rules that name only series it exposes', () => {
    const named = readmeAlertSeries();
    expect(named).toContain('vcp_tasks_queued_oldest_age_seconds');
    const exposed = (name: string) =>
      exposition.types.has(name) ||
      exposition.types.get(name.replace(/_(count|sum|bucket)$/, '')) === 'histogram';
    expect(named.filter((name) => !exposed(name))).toEqual([]);
  });

  it('names every kind of auth_events_total event in its HELP text (README lists the same)', () => {
    const help = exposition.help.get('auth_events_total') ?? '';
    const kinds: [string, RegExp][] = [
      ['login', /logins/],
      ['register', /registrations/],
      ['refresh', /refreshes/],
      ['refresh_reuse_detected', /refresh-token reuse/],
      ['api_key_failure', /API key .*failures/],
      ['access_token_failure', /access token .*failures/],
      ['password_change', /password changes/],
      ['password_change_failure', /failed password changes/],
    ];
    for (const [event, words] of kinds)
      expect({ event, help }).toEqual({ event, help: expect.stringMatching(words) });
  });

  it('starts every series of a closed label set at 0 on a fresh server, so the first event is an increase', () => {
    const zero = (name: string, labels: Record<string, string>) =>
      expect(fresh.samples).toContainEqual({ name, labels, value: 0 });
    for (const event of AUTH_EVENTS) zero('auth_events_total', { event });
    for (const tier of RATE_TIERS) zero('rate_limited_total', { tier });
    for (const cause of LEASE_LOSS_CAUSES) zero('vcp_task_leases_expired_total', { cause });
    for (const verdict of RUN_VERDICTS) zero('vcp_runs_verified_total', { verdict });
    for (const outcome of RUN_OUTCOMES) zero('vcp_task_runs_total', { outcome });
    for (const task_type of TASK_TYPES) {
      zero('vcp_tasks_submitted_total', { task_type });
      for (const status of FINAL_TASK_STATUSES) zero('vcp_tasks_finished_total', { task_type, status });
    }
    for (const result of CLAIM_RESULTS) {
      zero('vcp_task_claim_duration_seconds_count', { result });
      zero('vcp_task_claim_duration_seconds_bucket', { result, le: '+Inf' });
    }
    // README's VcpProofVerificationFailing alert counts the first `error` or `timeout` only if it is an increase.
    for (const protocol of PROOF_SYSTEMS) {
      for (const valid of ['true', 'false', 'error', 'timeout']) {
        zero('proof_verification_duration_seconds_count', { protocol, valid });
      }
    }
  });

  it('says how long the oldest pending task has waited, and 0 when none waits', async () => {
    expect(valueOf(exposition.samples, 'vcp_tasks_queued_oldest_age_seconds')).toBe(0);
    const carol = await newSession(ctx.app, 'carol');
    await submitTask(ctx.app, bearer(carol.accessToken)); // no node claims it: it waits
    await ctx.app.get(LeaseSweeper).sweep();
    const { samples } = await scrape(ctx.app, AUTH);
    expect(valueOf(samples, 'vcp_tasks_queued_oldest_age_seconds')).toBeGreaterThan(0);
    expect(valueOf(samples, 'vcp_tasks_queued')).toBe(1);
  });
});

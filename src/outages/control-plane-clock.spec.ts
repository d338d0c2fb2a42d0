import { Logger } from '@nestjs/common';
import type { DatabaseSession } from '../database/transaction-runner';
import { ControlPlaneClock } from './control-plane-clock';
import { Registry } from 'prom-client';
import { VcpMetrics } from '../metrics/vcp-metrics';
import type { ClockTick, ControlPlaneClockRepository } from './control-plane-clock.repository';
import { OutagesConfig } from './outages.config';

const NOTHING_CREDITED: ClockTick = {
  credited: null,
  soFar: { outages: 0, leasesExtended: 0, lastOutageSecs: null },
};

/** A clock row whose ticks finish when the test says so. */
class HeldTicks {
  calls = 0;
  private pending: ((outcome: ClockTick | Error) => void)[] = [];
  tick = (): Promise<ClockTick> => {
    this.calls++;
    return new Promise((resolve, reject) =>
      this.pending.push((outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome))),
    );
  };
  answer(outcome: ClockTick | Error = NOTHING_CREDITED): void {
    this.pending.shift()!(outcome);
  }
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('ControlPlaneClock', () => {
  let ticks: HeldTicks;
  let clock: ControlPlaneClock;
  let registry: Registry;
  let warn: jest.SpyInstance;
  const session = { inTransaction: false } as { inTransaction: boolean } & DatabaseSession;

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    ticks = new HeldTicks();
    registry = new Registry();
    clock = new ControlPlaneClock(
      ticks as unknown as ControlPlaneClockRepository,
      new OutagesConfig({ creditAfterMs: 10_000 }),
      session,
      new VcpMetrics(registry),
      { leaseSecs: 30 },
    );
  });
  afterEach(async () => {
    await clock.onModuleDestroy();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  const started = async () => {
    const init = clock.onModuleInit();
    ticks.answer();
    await init;
  };

  it('ticks before the app starts, then every quarter of the setting', async () => {
    await started();
    expect(ticks.calls).toBe(1);
    jest.advanceTimersByTime(2_500);
    expect(ticks.calls).toBe(2);
    ticks.answer();
  });

  it('lets callers through without a query while the last tick is recent', async () => {
    await started();
    jest.advanceTimersByTime(2_000);
    expect(clock.settled()).toBeUndefined();
    expect(ticks.calls).toBe(1);
  });

  it('makes callers wait for one shared tick once this replica has not ticked for half the setting', async () => {
    await started();
    // The process was paused: no timer ran, the clocks moved on.
    jest.setSystemTime(Date.now() + 60_000);
    const first = clock.settled();
    const second = clock.settled();
    expect(first).toBeInstanceOf(Promise);
    expect(second).toBe(first);
    expect(ticks.calls).toBe(2);
    let done = false;
    void first!.then(() => (done = true));
    await flush();
    expect(done).toBe(false); // not before the tick has credited the gap
    ticks.answer({
      credited: { awaySecs: 60, leasesExtended: 3 },
      soFar: { outages: 1, leasesExtended: 3, lastOutageSecs: 60 },
    });
    await flush();
    expect(done).toBe(true);
    expect(clock.settled()).toBeUndefined();
  });

  const metric = async (name: string) =>
    (await registry.getSingleMetric(name)!.get()).values.reduce((sum, { value }) => sum + value, 0);

  const away = () =>
    (warn.mock.calls as unknown[][])
      .map(([line]) => line as { msg?: string; away_secs?: number; leases_extended?: number })
      .filter((line) => line.msg?.startsWith('the control plane was away'));

  it('follows the row’s counts of credits, whichever tick made them, and logs each outage once', async () => {
    const init = clock.onModuleInit();
    // Two outages were credited before this replica started: counted from its first tick, not logged by it.
    ticks.answer({ credited: null, soFar: { outages: 2, leasesExtended: 5, lastOutageSecs: 12 } });
    await init;
    expect(await metric('vcp_control_plane_outages_credited_total')).toBe(2);
    expect(await metric('vcp_control_plane_last_outage_seconds')).toBe(12);
    expect(away()).toEqual([]);
    // A credit no replica heard of (its tick timed out on the client; the frozen database ran it at the thaw).
    jest.advanceTimersByTime(2_500);
    ticks.answer({ credited: null, soFar: { outages: 3, leasesExtended: 9, lastOutageSecs: 42 } });
    await flush();
    expect(await metric('vcp_control_plane_outages_credited_total')).toBe(3);
    expect(await metric('vcp_task_leases_credited_total')).toBe(9);
    expect(await metric('vcp_control_plane_last_outage_seconds')).toBe(42);
    expect(away()).toEqual([expect.objectContaining({ away_secs: 42, leases_extended: 4 })]);
    // This replica's own credit: logged once, from its answer.
    jest.advanceTimersByTime(2_500);
    ticks.answer({
      credited: { awaySecs: 61, leasesExtended: 3 },
      soFar: { outages: 4, leasesExtended: 12, lastOutageSecs: 61 },
    });
    await flush();
    expect(await metric('vcp_control_plane_outages_credited_total')).toBe(4);
    expect(away()).toHaveLength(2);
    expect(away()[1]).toMatchObject({ away_secs: 61, leases_extended: 3 });
    // Nothing new: nothing counted or logged (negative control).
    jest.advanceTimersByTime(2_500);
    ticks.answer({ credited: null, soFar: { outages: 4, leasesExtended: 12, lastOutageSecs: 61 } });
    await flush();
    expect(await metric('vcp_control_plane_outages_credited_total')).toBe(4);
    expect(away()).toHaveLength(2);
  });

  it('counts a tick from when it was sent: one answered late leaves the replica stale', async () => {
    await started();
    jest.advanceTimersByTime(2_500); // the timer's tick, held by a frozen database for 6 s
    jest.setSystemTime(Date.now() + 6_000);
    ticks.answer();
    await flush();
    const waiting = clock.settled();
    expect(waiting).toBeInstanceOf(Promise);
    ticks.answer();
    await waiting;
  });

  it('never makes a caller inside a transaction wait (the embedded database has one session)', async () => {
    await started();
    jest.setSystemTime(Date.now() + 60_000);
    session.inTransaction = true;
    try {
      expect(clock.settled()).toBeUndefined();
      expect(ticks.calls).toBe(1);
    } finally {
      session.inTransaction = false;
    }
  });

  it('lets callers on after a failed tick, and asks again on the next call', async () => {
    await started();
    jest.setSystemTime(Date.now() + 60_000);
    const waiting = clock.settled()!;
    ticks.answer(new Error('database down'));
    await expect(waiting).resolves.toBeUndefined();
    expect(clock.settled()).toBeInstanceOf(Promise);
    expect(ticks.calls).toBe(3);
    ticks.answer();
  });

  it('does nothing when the setting is 0', async () => {
    clock = new ControlPlaneClock(
      ticks as unknown as ControlPlaneClockRepository,
      new OutagesConfig({ creditAfterMs: 0 }),
      session,
      new VcpMetrics(new Registry()),
      { leaseSecs: 30 },
    );
    await clock.onModuleInit();
    jest.setSystemTime(Date.now() + 60_000);
    expect(clock.settled()).toBeUndefined();
    expect(ticks.calls).toBe(0);
  });
});

import { warmUp } from '../../../bench/support/end-to-end';

/** bench:tasks' end-to-end rows start on a warm server: rounds of tasks, each drained, CPU per task printed. */
describe('bench:tasks end-to-end warm-up', () => {
  function fakeServer(cpuMsPerTask: number[]) {
    const submitted: number[] = [];
    let cpuSeconds = 0;
    return {
      submitted,
      submit: async (count: number) => {
        cpuSeconds += ((cpuMsPerTask[submitted.length] ?? NaN) * count) / 1000;
        submitted.push(count);
        await Promise.resolve();
      },
      drain: async () => Promise.resolve(false),
      cpu: () => cpuSeconds,
    };
  }

  it('submits 50 tasks, then four drained rounds of 250, and prints the CPU per task of each round', async () => {
    const server = fakeServer([20, 8, 6.5, 5.5, 5]);
    const line = await warmUp(server.submit, server.drain, server.cpu);
    expect(server.submitted).toEqual([50, 250, 250, 250, 250]);
    expect(line).toBe('warm-up: 1050 tasks, server CPU per task by round 20.0, 8.0, 6.5, 5.5, 5.0 ms');
  });

  it('submits exactly E2E_WARMUP tasks in one round when given', async () => {
    const server = fakeServer([24]);
    const line = await warmUp(server.submit, server.drain, server.cpu, 50);
    expect(server.submitted).toEqual([50]);
    expect(line).toBe('warm-up: 50 tasks (E2E_WARMUP), server CPU per task by round 24.0 ms');
  });

  it('refuses an E2E_WARMUP that is not a positive whole number, before submitting anything', async () => {
    const server = fakeServer([]);
    for (const bad of [0, -5, 2.5, NaN]) {
      await expect(warmUp(server.submit, server.drain, server.cpu, bad)).rejects.toThrow(/E2E_WARMUP/);
    }
    expect(server.submitted).toEqual([]);
  });

  it('stops at a round whose tasks failed', async () => {
    const server = fakeServer([20, 8]);
    let drains = 0;
    const failing = async () => Promise.resolve(++drains === 2);
    await expect(warmUp(server.submit, failing, server.cpu)).rejects.toThrow('warm-up tasks failed');
    expect(server.submitted).toEqual([50, 250]);
  });
});

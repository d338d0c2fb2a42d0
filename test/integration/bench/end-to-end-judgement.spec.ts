import { judgement, SUBMITTER_SATURATED } from '../../../bench/support/end-to-end';
import { STEAL_LIMIT } from '../../../bench/support/process-cpu';

/** bench:tasks' end-to-end rows: a miss is reported only where the machine and the submitter were all there. */
describe('bench:tasks end-to-end judgement', () => {
  const calm = { submitter: 0.2, steal: 0 };

  it('is met at or above the target, even on a stolen machine (the rate is a floor)', () => {
    expect(judgement(300, 300, false, calm.submitter, calm.steal, 2)).toBe('met');
    expect(judgement(310, 300, false, SUBMITTER_SATURATED, 0.3, 2)).toBe('met');
  });

  it('is missed below the target when nothing else paced the row', () => {
    expect(judgement(240, 300, false, calm.submitter, STEAL_LIMIT / 2, 2)).toBe('MISSED');
  });

  it('is not judged below the target when the hypervisor took the machine, saying how much on the CPU line scale', () => {
    expect(judgement(240, 300, false, calm.submitter, 0.17, 2)).toBe(
      'not judged: the hypervisor took 34 % of 200 % (steal; limit 10 %)',
    );
  });

  it('is not judged below the target when the submitter saturated', () => {
    expect(judgement(240, 300, false, 0.95, calm.steal, 2)).toBe(
      'not judged: the submitter used 95 % of a core',
    );
  });

  it('is missed when tasks failed, whatever else happened', () => {
    expect(judgement(400, 300, true, 0.95, 0.3, 2)).toBe('MISSED (some tasks failed)');
  });
});

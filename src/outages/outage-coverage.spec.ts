import { outageCoverageWarnings } from './outage-coverage';

const DEFAULTS = { creditAfterSecs: 10, leaseSecs: 30, heartbeatIntervalSecs: 15, offlineAfterSecs: 90 };

describe('outageCoverageWarnings', () => {
  it('has nothing to say about the defaults, or with the credit off', () => {
    expect(outageCoverageWarnings(DEFAULTS)).toEqual([]);
    expect(outageCoverageWarnings({ ...DEFAULTS, creditAfterSecs: 0, leaseSecs: 3 })).toEqual([]);
  });

  it('names the band of outages a short lease leaves uncovered (a failure probe lost runs in it)', () => {
    expect(outageCoverageWarnings({ ...DEFAULTS, leaseSecs: 12 })).toEqual([
      'OUTAGE_CREDIT_AFTER_SECS (10) is longer than two thirds of RUN_LEASE_SECS (12): an outage of the control ' +
        'plane between 8 and 10 s is neither credited nor outlasted by a lease, and costs the runs it reaches; set ' +
        'it to at most 8',
    ]);
    expect(outageCoverageWarnings({ ...DEFAULTS, leaseSecs: 15 })).toEqual([]);
  });

  it('names the band a short offline limit leaves uncovered', () => {
    const warnings = outageCoverageWarnings({ ...DEFAULTS, heartbeatIntervalSecs: 4, offlineAfterSecs: 12 });
    expect(warnings).toEqual([
      expect.stringMatching(/between 8 and 10 s is not credited and marks nodes offline/),
    ]);
    expect(outageCoverageWarnings({ ...DEFAULTS, heartbeatIntervalSecs: 4, offlineAfterSecs: 14 })).toEqual(
      [],
    );
  });
});

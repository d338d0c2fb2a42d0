import { isReservedNodeId, isReservedUsername } from './reserved-names';

describe('reserved names', () => {
  it('reserves the system_ accounts and the embedded-<n> node ids, ignoring case, and nothing near them', () => {
    expect(['system_embedded_1', 'System_Embedded_2', 'SYSTEM_x'].map(isReservedUsername)).toEqual([
      true,
      true,
      true,
    ]);
    expect(['systemic', 'my_system_1', 'system'].map(isReservedUsername)).toEqual([false, false, false]);
    expect(['embedded-1', 'Embedded-12', 'EMBEDDED-3'].map(isReservedNodeId)).toEqual([true, true, true]);
    expect(
      ['embedded-', 'embedded-a', 'embedded-1x', 'my-embedded-1', 'embedded_1'].map(isReservedNodeId),
    ).toEqual([false, false, false, false, false]);
  });
});

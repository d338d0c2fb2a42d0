import { ConfigValidationError } from '../../src/common/config/problems';

/** The problems a configuration is refused with; fails the test when `load` accepts it. */
export function configProblems(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigValidationError) return error.problems;
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

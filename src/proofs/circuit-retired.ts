import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';

/** 409 `circuit_retired`: new work naming a retired circuit (a task, a proof to verify) is refused. */
export function circuitRetired(refused: 'tasks' | 'proofs'): AppException {
  return new AppException(ErrorCode.Conflict, `The circuit is retired: it accepts no new ${refused}`, {
    reason: ErrorReason.CircuitRetired,
  });
}

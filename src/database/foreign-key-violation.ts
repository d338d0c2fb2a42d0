const FOREIGN_KEY_VIOLATION = '23503';

/**
 * The statement failed on foreign key `constraint`: the row it names was deleted between the caller's check
 * and its write (a circuit deleted while a task or proof naming it was being stored).
 */
export function isForeignKeyViolation(error: unknown, constraint: string): boolean {
  const driverError = (error as { driverError?: { code?: string; constraint?: string } } | null)?.driverError;
  return driverError?.code === FOREIGN_KEY_VIOLATION && driverError.constraint === constraint;
}

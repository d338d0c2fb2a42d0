/**
 * Nest resolves a handler's parameters concurrently and answers with the first refusal. A pipe whose checks
 * are synchronous would refuse before the DTO validation of the other parameters settles (class-validator
 * takes a few microtasks, and does no I/O). Waiting one turn of the event loop before refusing lets the DTO
 * validation answer first, as it did when these checks ran in services and handlers. Only refusals wait.
 */
export async function refuseAfterOtherParameters(error: unknown): Promise<never> {
  await new Promise((resolve) => setImmediate(resolve));
  throw error;
}

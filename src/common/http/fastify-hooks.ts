/**
 * The callback of a callback-style Fastify onSend hook. The pipeline's hooks use callbacks, not async
 * functions: an async hook costs every request a promise and a microtask turn (issue 14).
 */
export type OnSendDone = (error: null, payload: unknown) => void;

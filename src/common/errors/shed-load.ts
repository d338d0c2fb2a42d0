import type { FastifyRequest } from 'fastify';

/** Requests answered with a deliberate load-shedding 503 (AppException.overloaded). */
const shed = new WeakSet<object>();

export function markShedLoad(request: FastifyRequest): void {
  shed.add(request.raw);
}

export function wasShedLoad(request: FastifyRequest): boolean {
  return shed.has(request.raw);
}

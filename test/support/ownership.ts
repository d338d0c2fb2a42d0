import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ROLE_SCOPES } from '../../src/common/auth/scopes';
import { apiKeyHeader, bearer, Session } from './auth';
import type { Headers } from './nodes';

type Answer = {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  json: () => { error?: string; reason?: string; message?: string };
};

/** Headers that differ between any two answers: the request's own id, the clock, the rate-limit countdown. */
const PER_REQUEST = new Set(['x-request-id', 'date', 'x-ratelimit-remaining', 'x-ratelimit-reset']);

/**
 * What a caller learns from a refusal: status, code, reason, message and headers (the id they name, aside).
 * A HEAD answer has headers only.
 */
export const answerSeen = (res: Answer, id: string) => {
  const body = res.body === '' ? {} : res.json();
  return {
    status: res.statusCode,
    error: body.error,
    reason: body.reason,
    message: body.message?.replaceAll(id, '<id>'),
    headers: Object.fromEntries(
      Object.entries(res.headers)
        .filter(([name]) => !PER_REQUEST.has(name))
        .map(([name, value]) => [name, String(value).replaceAll(id, '<id>')]),
    ),
  };
};

/** Every credential a user can hold: the session token, and an API key with every scope a user may have. */
export async function everyCredential(
  app: NestFastifyApplication,
  session: Session,
): Promise<[string, Headers][]> {
  const minted = await app.inject({
    method: 'POST',
    url: '/api/v1/api-keys',
    headers: bearer(session.accessToken),
    payload: { name: 'every-scope', scopes: ROLE_SCOPES.user },
  });
  if (minted.statusCode !== 201) throw new Error(`key creation failed: ${minted.statusCode} ${minted.body}`);
  return [
    ['session', bearer(session.accessToken)],
    ['api key', apiKeyHeader(minted.json<{ api_key: string }>().api_key)],
  ];
}

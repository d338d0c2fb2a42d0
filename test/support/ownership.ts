import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ROLE_SCOPES } from '../../src/common/auth/scopes';
import { apiKeyHeader, bearer, Session } from './auth';
import type { Headers } from './nodes';

type Answer = { statusCode: number; json: () => { error?: string; reason?: string; message?: string } };

/** What a caller learns from a refusal: status, code, reason and message (the id it names, aside). */
export const answerSeen = (res: Answer, id: string) => ({
  status: res.statusCode,
  error: res.json().error,
  reason: res.json().reason,
  message: res.json().message?.replaceAll(id, '<id>'),
});

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

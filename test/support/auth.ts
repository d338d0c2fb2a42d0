import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';

export interface Session {
  userId: string;
  username: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  /** The default key from registration. */
  apiKey: string;
}

export const uniqueName = (prefix = 'user') => `${prefix}_${randomBytes(5).toString('hex')}`;

export async function register(
  app: NestFastifyApplication,
  username: string,
  password = 'correct horse battery',
) {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: { username, password },
  });
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
  return res.json<{ user_id: string; username: string; api_key: string }>();
}

export async function login(
  app: NestFastifyApplication,
  username: string,
  password = 'correct horse battery',
) {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username, password },
  });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  return res.json<{ access_token: string; refresh_token: string }>();
}

/** A fresh account, logged in. */
export async function newSession(app: NestFastifyApplication, prefix = 'user'): Promise<Session> {
  const username = uniqueName(prefix);
  const password = 'correct horse battery';
  const { user_id, api_key } = await register(app, username, password);
  const tokens = await login(app, username, password);
  return {
    userId: user_id,
    username,
    password,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    apiKey: api_key,
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
export const apiKeyHeader = (key: string) => ({ 'x-api-key': key });

/** `app.inject` with `token` as the bearer: `requestAs(app)(token, "GET", url)`. */
export const requestAs =
  (app: NestFastifyApplication) =>
  (token: string, method: 'GET' | 'PATCH' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) =>
    app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });

import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { TestAppContext, TestAppOptions, useTestApp } from './app';
import { bearer, login } from './auth';

/** The admin account a test app creates at boot (ADMIN_USERNAME / ADMIN_PASSWORD). */
export const TEST_ADMIN = { username: 'test_admin', password: 'admin password 123' } as const;

export interface AdminSession {
  userId: string;
  username: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

/** Logs the boot-time admin in, and checks that it is one. */
export async function loginAdmin(
  app: NestFastifyApplication,
  credentials: { username: string; password: string } = TEST_ADMIN,
): Promise<AdminSession> {
  const tokens = await login(app, credentials.username, credentials.password);
  const me = await app.inject({
    method: 'GET',
    url: '/api/v1/auth/me',
    headers: bearer(tokens.access_token),
  });
  const { user_id, role } = me.json<{ user_id: string; role: string }>();
  if (role !== 'admin') throw new Error(`${credentials.username} is not an admin: ${me.body}`);
  return {
    userId: user_id,
    username: credentials.username,
    password: credentials.password,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
  };
}

export interface AdminAppContext extends TestAppContext {
  /** Logged in once the app has booted (read it inside hooks and tests). */
  admin: AdminSession;
}

/** useTestApp, booted with TEST_ADMIN as ADMIN_USERNAME / ADMIN_PASSWORD, and that admin logged in. */
export function useAdminApp(options: TestAppOptions = {}): AdminAppContext {
  const ctx = useTestApp({
    ...options,
    env: { ADMIN_USERNAME: TEST_ADMIN.username, ADMIN_PASSWORD: TEST_ADMIN.password, ...options.env },
  }) as AdminAppContext;
  // Registered after useTestApp's own beforeAll, so it runs once the app is up.
  beforeAll(async () => {
    ctx.admin = await loginAdmin(ctx.app);
  });
  return ctx;
}

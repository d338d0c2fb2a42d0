import fc from 'fast-check';
import { useTestApp } from '../support/app';
import { login, register, uniqueName } from '../support/auth';
import { fuzzRuns } from '../support/fuzz';

type Op =
  | { kind: 'login' }
  | { kind: 'refresh'; family: number; token: number }
  | { kind: 'logout'; family: number; token: number };

interface FamilyModel {
  tokens: string[];
  /** Index into tokens of the one live token, or null once the family is dead. */
  live: number | null;
}

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'login' }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('refresh' as const), family: fc.nat(3), token: fc.nat(6) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('logout' as const), family: fc.nat(3), token: fc.nat(6) }),
  },
);

/**
 * Random sequences of login / refresh / replay / logout against the real API and PostgreSQL, checked against
 * a model: at most one live token per family, any replay of a rotated token kills its family, and a dead
 * family (replayed or logged out) stays dead.
 */
describe('refresh token families (property)', () => {
  const ctx = useTestApp();

  const call = (url: string, refresh_token: string) =>
    ctx.app.inject({ method: 'POST', url: `/api/v1/auth/${url}`, payload: { refresh_token } });

  it('holds the family invariants over random runs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        const username = uniqueName('prop');
        const { user_id } = await register(ctx.app, username);
        const families: FamilyModel[] = [];
        for (const step of ops) {
          if (step.kind === 'login' || families.length === 0) {
            families.push({ tokens: [(await login(ctx.app, username)).refresh_token], live: 0 });
            continue;
          }
          const family = families[step.family % families.length];
          const index = step.token % family.tokens.length;
          const token = family.tokens[index];
          if (step.kind === 'logout') {
            expect((await call('logout', token)).statusCode).toBe(204);
            family.live = null;
            continue;
          }
          const res = await call('refresh', token);
          if (family.live !== null && index === family.live) {
            expect(res.statusCode).toBe(200);
            family.tokens.push(res.json<{ refresh_token: string }>().refresh_token);
            family.live = family.tokens.length - 1;
          } else {
            expect(res.statusCode).toBe(401); // a replay, or a dead family
            family.live = null;
          }
        }
        const rows: { family_id: string; live: number; total: number }[] = await ctx.dataSource.query(
          `SELECT family_id, count(*)::int AS total, count(*) FILTER (WHERE revoked_at IS NULL)::int AS live
             FROM refresh_tokens WHERE user_id = $1 GROUP BY family_id`,
          [user_id],
        );
        expect(rows).toHaveLength(families.length);
        const liveFamilies = families.filter((f) => f.live !== null).length;
        expect(rows.filter((r) => r.live === 1)).toHaveLength(liveFamilies);
        expect(rows.every((r) => r.live <= 1)).toBe(true);
        // Every model-dead family's every token is refused, now and later.
        for (const family of families.filter((f) => f.live === null)) {
          for (const token of family.tokens) expect((await call('refresh', token)).statusCode).toBe(401);
        }
      }),
      { ...fuzzRuns(200, 20261128), endOnFailure: true },
    );
  }, 300_000);
});

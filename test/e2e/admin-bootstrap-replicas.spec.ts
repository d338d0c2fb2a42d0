import { AdminBootstrapService } from '../../src/admin/admin-bootstrap.service';
import { bootApp, useTestApp } from '../support/app';

const PASSWORD = 'admin password 123';

/** Replicas started together with the same ADMIN_USERNAME / ADMIN_PASSWORD, on one PostgreSQL database. */
describe('the admin bootstrap of two replicas at once', () => {
  const ctx = useTestApp();

  it('creates the admin once; the other replica finds it and checks its password as on any boot', async () => {
    // A second app on the same database: its own pool, so the two bootstraps really run side by side.
    const second = await bootApp(ctx.env.config);
    try {
      const bootstraps = [ctx.app, second].map((app) => app.get(AdminBootstrapService));
      const together = (username: string, passwords: [string, string]) =>
        Promise.all(bootstraps.map((sut, i) => sut.ensureAdmin(username, passwords[i], 'env')));
      // Rounds, because a round whose two look-ups happen not to overlap passes even without serialising.
      for (let round = 0; round < 5; round++) {
        const outcomes = await together(`race_admin_${round}`, [PASSWORD, PASSWORD]);
        expect(outcomes.sort()).toEqual(['created', 'unchanged']);
      }
      const mismatched = await together('race_admin_other', [PASSWORD, `${PASSWORD} but another`]);
      expect(mismatched.sort()).toEqual(['created', 'password not its own']);
      const [{ n }] = await ctx.dataSource.query(
        `SELECT count(*)::int AS n FROM users WHERE username LIKE 'race_admin_%' AND role = 'admin'`,
      );
      expect(n).toBe(6);
    } finally {
      await second.close();
    }
  });
});

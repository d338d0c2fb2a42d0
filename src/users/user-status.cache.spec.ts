import { FakeUsersRepository } from '../../test/support/fake-users.repository';
import { FakeClock } from '../common/clock/fake-clock';
import { UserStatusCache } from './user-status.cache';

describe('UserStatusCache', () => {
  it('does not keep a read that was in flight when the account changed on this replica', async () => {
    const users = new FakeUsersRepository();
    const alice = users.add({ username: 'alice' });
    const statuses = new UserStatusCache(users.asRepository(), new FakeClock());
    // A request's read of the account, taken before the disable and answered after it.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const findById = users.findById.bind(users);
    jest.spyOn(users, 'findById').mockImplementationOnce(async (userId) => {
      const read = await findById(userId);
      await gate;
      return read;
    });
    const inFlight = statuses.get(alice.userId);
    await users.update(alice.userId, { disabled: true });
    statuses.invalidate(alice.userId);
    release();
    expect((await inFlight)?.disabled).toBe(false); // that request began before the disable
    // Every later request on this replica sees the disable at once, not after the cache's 2 s.
    expect((await statuses.get(alice.userId))?.disabled).toBe(true);
  });
});

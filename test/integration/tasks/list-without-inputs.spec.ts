import { TasksRepository } from '../../../src/tasks/tasks.repository';
import { DatabaseFixture, databaseFixture } from '../../support/database-fixture';

/**
 * A page of tasks shows no inputs, so it reads none: inputs are held only to the task body's limit, and a page
 * is up to 100 tasks. Only a task's own read (findLive) fetches them.
 */
describe('task reads and the inputs column', () => {
  let fixture: DatabaseFixture;
  let tasks: TasksRepository;
  let taskId: string;
  const inputs = { text: 'x'.repeat(100_000) };

  beforeAll(async () => {
    fixture = await databaseFixture('pglite', [TasksRepository]);
    tasks = fixture.moduleRef.get(TasksRepository);
    const [user] = await fixture.session.query<{ user_id: string }>(
      `INSERT INTO users (username, password_hash, role) VALUES ('alice', 'x', 'user') RETURNING user_id`,
    );
    [{ task_id: taskId }] = await fixture.session.query<{ task_id: string }>(
      `INSERT INTO tasks (creator_id, task_type, inputs, status, max_execution_time_sec)
       VALUES ($1, 'computation', $2::jsonb, 'pending', 60) RETURNING task_id`,
      [user.user_id, JSON.stringify(inputs)],
    );
  });

  afterAll(() => fixture?.close());

  it('a list reads no inputs; the task’s own read does', async () => {
    const [listed] = await tasks.list({ creatorId: null }, null, 10);
    expect(listed.taskId).toBe(taskId);
    expect(listed).not.toHaveProperty('inputs');
    expect((await tasks.findLive(taskId))?.inputs).toEqual(inputs);
  });
});

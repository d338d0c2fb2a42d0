import { MigrationInterface, QueryRunner } from 'typeorm';

/** Must match pageTime() in src/common/pagination/cursor.ts, or the planner cannot use these indexes. */
const pageTime = (column: string) => `date_trunc('milliseconds', ${column} AT TIME ZONE 'UTC')`;

/** Each page's index: the one it replaces (and its definition, for down) and the new one. */
const PAGES: { old: string; oldDefinition: string; name: string; definition: string }[] = [
  {
    old: 'idx_tasks_creator_live',
    oldDefinition: `tasks (creator_id, created_at DESC, task_id) WHERE deleted_at IS NULL`,
    name: 'idx_tasks_creator_page',
    definition: `tasks (creator_id, (${pageTime('created_at')}) DESC, task_id DESC) WHERE deleted_at IS NULL`,
  },
  {
    old: 'idx_audit_log_created_at',
    oldDefinition: `audit_log (created_at DESC, log_id DESC)`,
    name: 'idx_audit_log_page',
    definition: `audit_log ((${pageTime('created_at')}) DESC, log_id DESC)`,
  },
  {
    old: 'idx_audit_log_user_id',
    oldDefinition: `audit_log (user_id, created_at DESC)`,
    name: 'idx_audit_log_user_page',
    definition: `audit_log (user_id, (${pageTime('created_at')}) DESC, log_id DESC)`,
  },
  {
    old: 'idx_audit_log_action',
    oldDefinition: `audit_log (action, created_at DESC)`,
    name: 'idx_audit_log_action_page',
    definition: `audit_log (action, (${pageTime('created_at')}) DESC, log_id DESC)`,
  },
  {
    old: 'idx_nodes_owner_registered',
    oldDefinition: `nodes (owner_id, registered_at DESC, node_id) WHERE deleted_at IS NULL`,
    name: 'idx_nodes_owner_page',
    definition: `nodes (owner_id, (${pageTime('registered_at')}) DESC, node_id DESC) WHERE deleted_at IS NULL`,
  },
  {
    old: 'idx_users_created_at',
    oldDefinition: `users (created_at, user_id)`,
    name: 'idx_users_page',
    definition: `users ((${pageTime('created_at')}), user_id)`,
  },
  {
    old: 'idx_circuits_created_at',
    oldDefinition: `circuits (created_at)`,
    name: 'idx_circuits_page',
    definition: `circuits ((${pageTime('created_at')}), circuit_id)`,
  },
  {
    old: 'idx_module_owners_user_created',
    oldDefinition: `module_owners (user_id, created_at DESC, module_id)`,
    name: 'idx_module_owners_user_page',
    definition: `module_owners (user_id, (${pageTime('created_at')}) DESC, module_id DESC)`,
  },
];

/** The admins' lists of every user's tasks and nodes: no index replaced. */
const ALL_PAGES: { name: string; definition: string }[] = [
  {
    name: 'idx_tasks_page',
    definition: `tasks ((${pageTime('created_at')}) DESC, task_id DESC) WHERE deleted_at IS NULL`,
  },
  {
    name: 'idx_nodes_page',
    definition: `nodes ((${pageTime('registered_at')}) DESC, node_id DESC) WHERE deleted_at IS NULL`,
  },
];

/**
 * Pages are sorted on their time at millisecond precision (the precision a cursor carries through
 * JavaScript), which no index covered: every page sorted all the rows it could show — all of a user's tasks,
 * the whole audit log. These indexes hold that exact sort key (in UTC, so it is immutable and indexable) and
 * replace the ones on the raw time that the pages used before.
 */
export class PageIndexes20261202130000 implements MigrationInterface {
  name = 'PageIndexes20261202130000';

  async up(q: QueryRunner): Promise<void> {
    for (const page of PAGES) {
      await q.query(`DROP INDEX IF EXISTS ${page.old}`);
      await q.query(`CREATE INDEX ${page.name} ON ${page.definition}`);
    }
    for (const page of ALL_PAGES) await q.query(`CREATE INDEX ${page.name} ON ${page.definition}`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const page of ALL_PAGES) await q.query(`DROP INDEX IF EXISTS ${page.name}`);
    for (const page of PAGES) {
      await q.query(`DROP INDEX IF EXISTS ${page.name}`);
      await q.query(`CREATE INDEX ${page.old} ON ${page.oldDefinition}`);
    }
  }
}

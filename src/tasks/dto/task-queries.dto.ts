import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { PageQueryDto } from '../../common/pagination/page.dto';
import { IsQueryBoolean } from '../../common/validation/query-boolean';
import { IsSha256Hex, SHA256_HEX_PATTERN } from '../../common/validation/sha256';
import { TASK_STATUSES, TASK_TYPES } from '../../common/tasks/task-kinds';
import type { TaskStatus, TaskType } from '../../common/tasks/task-kinds';

export class ListTasksQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: TASK_STATUSES, description: 'Only tasks with this status' })
  @IsOptional()
  @IsIn(TASK_STATUSES)
  status?: TaskStatus;
  @ApiPropertyOptional({ enum: TASK_TYPES, description: 'Only tasks of this type' })
  @IsOptional()
  @IsIn(TASK_TYPES)
  task_type?: TaskType;

  // No example: Swagger UI fills an optional query field with it, and "List your tasks" then filtered by it.
  @ApiPropertyOptional({
    pattern: SHA256_HEX_PATTERN.source,
    description:
      'Only tasks naming this circuit (its 64-hex `circuit_id`; zk_proof tasks), e.g. a retired circuit’s unfinished ones with ' +
      '`status=pending` or `running`. An unknown circuit matches none',
  })
  @IsOptional()
  @IsSha256Hex('circuit_id must be 64 lowercase hex characters (a SHA-256)')
  circuit_id?: string;

  @ApiPropertyOptional({ description: 'Admins: every user’s tasks' })
  @IsQueryBoolean()
  all?: boolean;
}

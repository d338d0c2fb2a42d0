import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { PageQueryDto } from '../../common/pagination/page.dto';
import { IsQueryBoolean } from '../../common/validation/query-boolean';
import { TASK_TYPES } from './create-task.dto';
import type { TaskType } from './create-task.dto';

export const TASK_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export class ListTasksQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: TASK_STATUSES }) @IsOptional() @IsIn(TASK_STATUSES) status?: TaskStatus;
  @ApiPropertyOptional({ enum: TASK_TYPES }) @IsOptional() @IsIn(TASK_TYPES) task_type?: TaskType;

  @ApiPropertyOptional({ description: 'Admins: every user’s tasks' })
  @IsQueryBoolean()
  all?: boolean;
}

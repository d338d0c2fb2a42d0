import { ApiProperty } from '@nestjs/swagger';
import { IsFence } from '../../common/validation/fence';

/** POST /runs/:run_id/release: a node hands back a run it will not finish (it is stopping). */
export class RunReleaseRequestDto {
  @ApiProperty({ description: 'The fence of the lease, as claimed', example: '1' })
  @IsFence()
  fence!: string;
}

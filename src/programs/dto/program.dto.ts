import { ApiProperty } from '@nestjs/swagger';
import { PROGRAM_NAMES, ProgramDefinition } from '../program-catalog';

export class ProgramDto {
  @ApiProperty({ enum: PROGRAM_NAMES, description: 'The value of `inputs.program` in a computation task' })
  name!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ description: 'SHA-256 of the module: a computation task runs this module' })
  module_id!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'JSON Schema (subset) of the task inputs, checked at submission',
  })
  input_schema!: object;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Inputs that validate' })
  example!: object;
}

export class ProgramListDto {
  @ApiProperty({ type: [ProgramDto] }) items!: ProgramDto[];
}

export function toProgramDto(program: ProgramDefinition): ProgramDto {
  return {
    name: program.name,
    description: program.description,
    module_id: program.sha256,
    input_schema: program.inputSchema,
    example: program.example,
  };
}

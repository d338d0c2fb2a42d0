import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ANY_JSON } from '../../common/openapi/any-json';
import { DEFAULT_DEEP_JSON_LIMITS as L } from '../../common/validation/deep-json';
import { SHA256_HEX_PATTERN } from '../../common/validation/sha256';
import { WASM_RUNTIMES } from '../wasm.config';
import type { WasmRuntimeName } from '../wasm.config';
import { RUN_LIMITS } from '../run-request';
import { OUTCOMES } from '../../common/runs/run-outcomes';
import type { Outcome } from '../../common/runs/run-outcomes';

/**
 * Documents the run body. The route reads the body itself (RunRequestPipe checks every value), so these
 * classes carry no validation decorators.
 */
export class RunModuleRequestDto {
  @ApiProperty({
    ...ANY_JSON,
    description:
      `Any JSON value, given to the module on stdin. At most ${L.maxDepth} levels deep, ` +
      `${L.maxArrayItems} items per array, ${L.maxObjectKeys} keys per object, keys of at most ` +
      `${L.maxKeyLength} characters, strings of at most ${L.maxStringLength}; no \`__proto__\`, ` +
      '`constructor` or `prototype` keys. A violation is a 422 naming the rule and the path.',
    example: { numbers: [1, 2, 3] },
  })
  inputs!: unknown;

  @ApiPropertyOptional({
    type: [String],
    maxItems: RUN_LIMITS.maxArgs,
    description: `argv after the program name; strings of at most ${RUN_LIMITS.maxArgLength} characters`,
  })
  args?: string[];

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: RUN_LIMITS.maxEnvValueLength },
    maxProperties: RUN_LIMITS.maxEnv,
    description: 'The only environment variables the module sees (names `[A-Za-z_][A-Za-z0-9_]*`)',
  })
  env?: Record<string, string>;

  // v8, the runtime `deterministic` needs: Swagger UI's sample sets both.
  @ApiPropertyOptional({ enum: WASM_RUNTIMES, example: 'v8', description: 'Default: WASM_DEFAULT_RUNTIME' })
  runtime?: WasmRuntimeName;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    example: 5000,
    description: 'Wall-clock limit in milliseconds; at most (and by default) WASM_TIMEOUT_SECS',
  })
  timeout_ms?: number;

  @ApiPropertyOptional({
    description: 'Fixed clock and seeded random source: equal runs give byte-identical output (v8 only)',
  })
  deterministic?: boolean;
}

export class RunResultDto {
  @ApiProperty({ type: 'integer', nullable: true, description: 'null unless the module exited' })
  exit_code!: number | null;
  @ApiProperty({
    ...ANY_JSON,
    description: 'Parsed JSON when stdout is JSON (within the inputs limits), else the text',
  })
  stdout!: unknown;
  @ApiProperty() stderr!: string;
  @ApiProperty({ type: 'integer' }) execution_time_ms!: number;
  @ApiProperty({ pattern: SHA256_HEX_PATTERN.source, description: 'SHA-256 of the module' })
  module_hash!: string;
  @ApiProperty({ pattern: SHA256_HEX_PATTERN.source, description: 'SHA-256 of the JSON given on stdin' })
  inputs_hash!: string;
  @ApiProperty({ pattern: SHA256_HEX_PATTERN.source, description: 'SHA-256 of the raw stdout bytes' })
  output_hash!: string;
  @ApiProperty({ enum: WASM_RUNTIMES }) runtime!: WasmRuntimeName;
  @ApiProperty({ enum: OUTCOMES }) outcome!: Outcome;
}

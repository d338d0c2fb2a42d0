import { HELLO_WASM_BASE64 } from '../../common/openapi/examples';
import { ApiProperty } from '@nestjs/swagger';
import { PageDto } from '../../common/pagination/page.dto';
import { IsSha256Hex, SHA256_HEX_PATTERN } from '../../common/validation/sha256';
import type { OwnedModule } from '../module-owners.repository';
import type { WasmModuleRecord } from '../wasm-modules.repository';
import type { ExternKind } from '../wasm-binary';

const EXTERN_KINDS: ExternKind[] = ['function', 'table', 'memory', 'global', 'tag'];

/** The `:module_id` of the module routes: checked before anything is looked up (422 naming it). */
export class ModuleIdParams {
  @ApiProperty({
    pattern: SHA256_HEX_PATTERN.source,
    description: 'SHA-256 of the module bytes, lowercase hex',
  })
  @IsSha256Hex('must be 64 lowercase hex characters (the SHA-256 of the module)')
  module_id!: string;
}

/** Documents the JSON form of an upload; the route reads the body itself (it may be raw bytes instead). */
export class UploadModuleJsonDto {
  @ApiProperty({
    format: 'byte',
    description: 'Standard base64 (with padding) of the module, at most WASM_MAX_MODULE_BYTES once decoded',
    example: HELLO_WASM_BASE64,
  })
  wasm_module!: string;
}

export class ModuleImportDto {
  @ApiProperty({ example: 'wasi_snapshot_preview1' }) module!: string;
  @ApiProperty({ example: 'fd_write' }) name!: string;
  @ApiProperty({ enum: EXTERN_KINDS }) kind!: ExternKind;
}

export class ModuleExportDto {
  @ApiProperty({ example: '_start' }) name!: string;
  @ApiProperty({ enum: EXTERN_KINDS }) kind!: ExternKind;
}

export class ModuleDto {
  @ApiProperty({ pattern: SHA256_HEX_PATTERN.source, description: 'SHA-256 of the module bytes' })
  module_id!: string;
  @ApiProperty({ type: 'integer' }) size_bytes!: number;
  @ApiProperty({ type: [ModuleImportDto] }) imports!: ModuleImportDto[];
  @ApiProperty({ type: [ModuleExportDto] }) exports!: ModuleExportDto[];
  @ApiProperty({ format: 'date-time', description: 'When these bytes were first uploaded' })
  created_at!: string;
}

/** The response form of a stored module; who uploaded it is not shown (modules are shared by hash). */
export function toModuleDto(record: WasmModuleRecord): ModuleDto {
  return {
    module_id: record.moduleId,
    size_bytes: record.sizeBytes,
    imports: record.imports.map(({ module, name, kind }) => ({ module, name, kind })),
    exports: record.exports.map(({ name, kind }) => ({ name, kind })),
    created_at: record.createdAt.toISOString(),
  };
}

/** One of the caller's modules (`GET /modules`). */
export class OwnedModuleDto extends ModuleDto {
  @ApiProperty({
    format: 'date-time',
    description: 'When you uploaded it (or first stored it through a task)',
  })
  owned_since!: string;
}

export class OwnedModulePageDto extends PageDto(OwnedModuleDto) {}

export function toOwnedModuleDto(record: OwnedModule): OwnedModuleDto {
  return { ...toModuleDto(record), owned_since: record.ownedSince.toISOString() };
}

/** `GET /modules/usage`: what the caller is charged for, and their quota. */
export class ModuleUsageDto {
  @ApiProperty({
    type: 'integer',
    description: 'Bytes of the distinct modules you own or your live tasks run',
  })
  used_bytes!: number;
  @ApiProperty({ type: 'integer', description: 'How many such modules' }) used_modules!: number;
  @ApiProperty({ type: 'integer', description: 'MODULE_STORAGE_QUOTA_BYTES' }) max_bytes!: number;
  @ApiProperty({ type: 'integer', description: 'MODULE_STORAGE_QUOTA_COUNT' }) max_modules!: number;
}

export class ModuleDeletedDto {
  @ApiProperty() message!: string;
  @ApiProperty({ pattern: SHA256_HEX_PATTERN.source }) module_id!: string;
}

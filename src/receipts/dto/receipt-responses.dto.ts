import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { RunReceipt } from '../../common/receipts/receipt';
import {
  RECEIPT_VERIFICATIONS,
  RUN_VERDICTS,
  TASK_RECEIPT_VERSION,
  type ReceiptRun,
  type ReceiptVerification,
  type RunVerdict,
  type SignedTaskReceipt,
  type TaskReceipt,
} from '../task-receipt';

const HEX_SHA256 = 'Lowercase hex SHA-256';

export class ServerPublicKeyDto {
  @ApiProperty({ enum: ['Ed25519'] }) algorithm!: 'Ed25519';
  @ApiProperty({ description: 'Standard base64 of the 32 raw bytes' }) public_key!: string;
  @ApiProperty({ description: `${HEX_SHA256} of the 32 raw bytes (a receipt’s server_key_id)` })
  key_id!: string;
}

/** The receipt a node signed for its run (issue 17); absent fields are omitted, never null. */
export class RunReceiptDto implements RunReceipt {
  @ApiProperty({ format: 'uuid' }) task_id!: string;
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty({ description: 'The lease’s fence, in decimal' }) fence!: string;
  @ApiPropertyOptional() module_hash?: string;
  @ApiPropertyOptional() circuit_id?: string;
  @ApiProperty() inputs_hash!: string;
  @ApiProperty() output_hash!: string;
  @ApiPropertyOptional({ description: 'zk runs: SHA-256 of the JCS form of {proof, public_signals}' })
  proof_hash?: string;
  @ApiProperty() outcome!: string;
  @ApiProperty({ type: 'integer' }) execution_time_ms!: number;
}

export class ReceiptRunDto implements ReceiptRun {
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty({ nullable: true, type: String }) node_id!: string | null;
  @ApiProperty({ description: 'The node’s registered Ed25519 key, standard base64 of the 32 raw bytes' })
  node_public_key!: string;
  @ApiProperty({ enum: RUN_VERDICTS, nullable: true, type: String, description: 'null: not compared' })
  verdict!: RunVerdict | null;
  @ApiProperty({ type: RunReceiptDto }) receipt!: RunReceiptDto;
  @ApiProperty({ description: 'The node’s base64 Ed25519 signature over the RFC 8785 form of receipt' })
  signature!: string;
}

export class TaskReceiptDto implements TaskReceipt {
  @ApiProperty({ type: 'integer', enum: [TASK_RECEIPT_VERSION] }) version!: typeof TASK_RECEIPT_VERSION;
  @ApiProperty({ format: 'uuid' }) task_id!: string;
  @ApiProperty() task_type!: string;
  @ApiProperty({ description: `${HEX_SHA256} of the RFC 8785 form of the inputs` }) inputs_hash!: string;
  @ApiPropertyOptional({ description: 'WASM tasks: the module’s SHA-256' }) module_hash?: string;
  @ApiPropertyOptional({
    type: [String],
    description: 'WASM tasks: the arguments the module ran with (they decide its output with the inputs)',
  })
  args?: string[];
  @ApiPropertyOptional({
    description: 'WASM tasks: whether the run was deterministic (clock and random fixed)',
  })
  deterministic?: boolean;
  @ApiPropertyOptional({ description: 'zk_proof tasks' }) circuit_id?: string;
  @ApiProperty({ enum: RECEIPT_VERIFICATIONS }) verification!: ReceiptVerification;
  @ApiProperty({ type: 'integer' }) min_nodes!: number;
  @ApiProperty({ type: 'integer' }) quorum!: number;
  @ApiProperty({ description: `The canonical run’s output hash (${HEX_SHA256} of the RFC 8785 form)` })
  output_hash!: string;
  @ApiProperty({ format: 'uuid' }) canonical_run_id!: string;
  @ApiPropertyOptional({ description: 'zk_proof tasks: the accepted proof' }) proof_id?: string;
  @ApiProperty({ format: 'date-time' }) completed_at!: string;
  @ApiProperty({ format: 'date-time' }) issued_at!: string;
  @ApiProperty() server_key_id!: string;
  @ApiProperty() server_public_key!: string;
  @ApiProperty({ type: [ReceiptRunDto], description: 'Every accepted run, in lease order' })
  runs!: ReceiptRunDto[];
}

export class SignedTaskReceiptDto implements SignedTaskReceipt {
  @ApiProperty({ type: TaskReceiptDto }) receipt!: TaskReceiptDto;
  @ApiProperty({ description: 'The server’s base64 Ed25519 signature over the RFC 8785 form of receipt' })
  signature!: string;
}

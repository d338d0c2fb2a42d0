import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { NODE_STATUSES } from './node-requests.dto';
import { NodeCapabilitiesDto, NODE_TYPES } from './register-node.dto';

/** The original's NodeInfo plus `public_key` and `labels`; `owner_id` is null for non-admins viewing others. */
export class NodeReputationDto {
  @ApiProperty({
    type: 'integer',
    description: 'Runs whose output matched the accepted output (quorum) or whose proof verified',
  })
  valid!: number;
  @ApiProperty({ type: 'integer', description: 'Runs outvoted by a quorum, or with a rejected proof' })
  invalid!: number;
  @ApiProperty({ type: 'integer', description: 'Runs that reported a node fault (error, timeout)' })
  error!: number;
  @ApiProperty({ type: 'integer', description: 'Leases that ended without a result (expired, node lost)' })
  lost!: number;
  @ApiProperty({ type: 'integer', description: 'Valid results in a row (an invalid one resets it)' })
  valid_streak!: number;
  @ApiProperty({
    nullable: true,
    type: Number,
    description: 'Wilson lower bound (95 %) of valid ÷ (valid + invalid); null before any compared run',
  })
  score!: number | null;
  @ApiProperty({ description: 'A quarantined node’s claims are refused until an admin reinstates it' })
  quarantined!: boolean;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) quarantined_at!: string | null;
  @ApiProperty({ nullable: true, type: String }) quarantine_reason!: string | null;
}

export class NodeInfoDto {
  @ApiProperty({ example: 'node-001' }) node_id!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) owner_id!: string | null;
  @ApiProperty() region!: string;
  @ApiProperty({ enum: NODE_TYPES }) node_type!: string;
  @ApiProperty({ type: NodeCapabilitiesDto }) capabilities!: NodeCapabilitiesDto;
  @ApiProperty({ minimum: 0, maximum: 100, description: 'See README “Nodes” for the formula' })
  health_score!: number;
  @ApiProperty({ enum: NODE_STATUSES }) status!: string;
  @ApiProperty({ format: 'date-time' }) registered_at!: string;
  @ApiProperty({ format: 'date-time' }) last_seen!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) last_heartbeat!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Ed25519, standard base64 of the raw 32 bytes' })
  public_key!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) labels!: Record<string, string>;
  @ApiProperty({ type: NodeReputationDto }) reputation!: NodeReputationDto;
}

export class RegisteredNodeDto extends NodeInfoDto {
  @ApiProperty({
    description: 'The node’s own API key (scope nodes:agent, valid only on this node’s routes). Shown once.',
  })
  node_api_key!: string;
}

export class NodeKeyDto {
  @ApiProperty() node_id!: string;
  @ApiProperty({ format: 'uuid' }) key_id!: string;
  @ApiProperty({ example: 'vcp_AbCd1234' }) key_prefix!: string;
  @ApiProperty({ description: 'The new node key. Shown only in this response.' }) node_api_key!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'Until when the previous key still works (null: revoked at once)',
  })
  previous_key_expires_at!: string | null;
}

export class NodeMessageDto {
  @ApiProperty({ example: 'Node deleted successfully' }) message!: string;
  @ApiProperty() node_id!: string;
}

/** What became of each lease a heartbeat named. */
export class LeaseReportDto {
  @ApiProperty({
    type: [String],
    description:
      'Renewed for RUN_LEASE_SECS, never past the task’s max_execution_time_sec + 900 s after the claim',
  })
  renewed!: string[];
  @ApiProperty({ type: [String], description: 'Not yours any more: stop, do not report' }) lost!: string[];
  @ApiProperty({
    type: [String],
    description:
      'The task was cancelled or deleted, or failed while the run was leased (another run decided it): ' +
      'stop now, do not report',
  })
  cancel!: string[];
}

export class HeartbeatResponseDto {
  @ApiProperty({ example: 'Heartbeat received' }) message!: string;
  @ApiProperty() node_id!: string;
  @ApiProperty({ format: 'date-time' }) timestamp!: string;
  @ApiProperty() health_score!: number;
  @ApiProperty({ enum: NODE_STATUSES }) node_status!: string;
  @ApiProperty({ type: 'integer' }) active_tasks!: number;
  @ApiProperty({ type: 'integer', description: 'Send the next heartbeat within this many seconds' })
  heartbeat_interval_secs!: number;
  @ApiPropertyOptional({
    type: 'integer',
    description:
      'Most runs the server leases to one node at once (NODE_MAX_CONCURRENT_RUNS): slots beyond it would idle',
  })
  max_concurrent_runs?: number;
  @ApiPropertyOptional({ type: LeaseReportDto, description: 'When the heartbeat named runs' })
  leases?: LeaseReportDto;
}

export class HeartbeatRecordDto {
  @ApiProperty({ format: 'date-time', description: 'Start of the interval this row covers' })
  bucket_start!: string;
  @ApiProperty({ format: 'date-time', description: 'The latest heartbeat in the interval' })
  recorded_at!: string;
  @ApiProperty({ type: 'integer', description: 'Heartbeats received in the interval' }) heartbeats!: number;
  @ApiProperty() health_score!: number;
  @ApiProperty({ nullable: true, type: Number }) cpu_usage!: number | null;
  @ApiProperty({ nullable: true, type: Number }) memory_usage!: number | null;
  @ApiProperty({ nullable: true, type: Number }) disk_usage!: number | null;
  @ApiProperty({ nullable: true, type: 'integer' }) network_latency_ms!: number | null;
  @ApiProperty({ type: 'integer' }) active_tasks!: number;
  @ApiProperty({ nullable: true, type: String }) agent_version!: string | null;
  @ApiProperty({ enum: NODE_STATUSES }) status!: string;
}

export class NodePageDto {
  @ApiProperty({ type: [NodeInfoDto] }) items!: NodeInfoDto[];
  @ApiProperty({ nullable: true, type: String }) next_cursor!: string | null;
}

export class HeartbeatPageDto {
  @ApiProperty({ type: [HeartbeatRecordDto] }) items!: HeartbeatRecordDto[];
  @ApiProperty({ nullable: true, type: String }) next_cursor!: string | null;
}

export class ClusterStatsDto {
  @ApiProperty({ type: 'integer', description: 'Live (not deleted), non-rejected nodes' })
  total_nodes!: number;
  @ApiProperty({ type: 'integer', description: 'Online with a health score of at least 70' })
  healthy_nodes!: number;
  @ApiProperty({ type: 'integer' }) total_tasks!: number;
  @ApiProperty({ type: 'integer' }) completed_tasks!: number;
  @ApiProperty({ type: 'integer' }) failed_tasks!: number;
  @ApiProperty({ description: 'Mean health score of the counted nodes (0 when there are none)' })
  avg_health_score!: number;
  @ApiProperty({ type: 'integer', description: 'Σ cpu_cores of the counted nodes' })
  total_compute_capacity!: number;
  @ApiProperty({ type: 'integer' }) online_nodes!: number;
  @ApiProperty({ type: 'integer' }) pending_tasks!: number;
  @ApiProperty({ type: 'integer' }) running_tasks!: number;
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'integer' },
    example: { compute: 3, gateway: 0, storage: 1, validator: 0 },
  })
  by_node_type!: Record<string, number>;
}

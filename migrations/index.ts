import { ApiKeyManagement20261128000100 } from './20261128000100-ApiKeyManagement';
import { ThrottleOverrides20261128000200 } from './20261128000200-ThrottleOverrides';
import { ApiKeys20240106000000 } from './20240106000000-ApiKeys';
import { AuditLog20240107000000 } from './20240107000000-AuditLog';
import { Circuits20261128100100 } from './20261128100100-Circuits';
import { HardenKeyStorage20240109000000 } from './20240109000000-HardenKeyStorage';
import { IdentityHardening20261128000000 } from './20261128000000-IdentityHardening';
import { InitialSchema20240101000000 } from './20240101000000-InitialSchema';
import { NodeHeartbeatHistory20240108000000 } from './20240108000000-NodeHeartbeatHistory';
import { NodeOwnership20240102000000 } from './20240102000000-NodeOwnership';
import { NodeRegistry20261201170000 } from './20261201170000-NodeRegistry';
import { ModuleOwners20261201190000 } from './20261201190000-ModuleOwners';
import { BuiltInModules20261201200000 } from './20261201200000-BuiltInModules';
import { ProofArtifacts20240105000000 } from './20240105000000-ProofArtifacts';
import { RefreshTokens20240103000000 } from './20240103000000-RefreshTokens';
import { SchedulingEngine20261201180000 } from './20261201180000-SchedulingEngine';
import { TaskEvents20261201210000 } from './20261201210000-TaskEvents';
import { TaskRuns20240104000000 } from './20240104000000-TaskRuns';
import { VerifiedResults20261202000000 } from './20261202000000-VerifiedResults';
import { WasmModules20261128100000 } from './20261128100000-WasmModules';
import { AccessTokenEpoch20261201160000 } from './20261201160000-AccessTokenEpoch';
import { ContentStore20261202100000 } from './20261202100000-ContentStore';
import { ClaimReplay20261202110000 } from './20261202110000-ClaimReplay';
import { LostLeaseRetry20261202120000 } from './20261202120000-LostLeaseRetry';
import { PageIndexes20261202130000 } from './20261202130000-PageIndexes';
import { ClaimLookups20261202140000 } from './20261202140000-ClaimLookups';
import { LeaseSlots20261202150000 } from './20261202150000-LeaseSlots';
import { CircuitRetirement20261202160000 } from './20261202160000-CircuitRetirement';
import { NodeKeyPages20261203120000 } from './20261203120000-NodeKeyPages';
import { CircuitTaskPages20261204000000 } from './20261204000000-CircuitTaskPages';
import { NodeTelemetry20261204120000 } from './20261204120000-NodeTelemetry';
import { QuorumOwnerFaults20261205120000 } from './20261205120000-QuorumOwnerFaults';
import { LiveTaskCounts20261207120000 } from './20261207120000-LiveTaskCounts';
import { FailedRunRetry20261207130000 } from './20261207130000-FailedRunRetry';
import { FairShareOrder20261207140000 } from './20261207140000-FairShareOrder';
import { ControlPlaneClock20261207210000 } from './20261207210000-ControlPlaneClock';
import { ControlPlaneClockCounts20261208000000 } from './20261208000000-ControlPlaneClockCounts';
import { ClaimHolders20261208100000 } from './20261208100000-ClaimHolders';

/** Every migration, in order. A new migration is added here as well as in its own file. */
export const MIGRATIONS = [
  InitialSchema20240101000000,
  NodeOwnership20240102000000,
  RefreshTokens20240103000000,
  TaskRuns20240104000000,
  ProofArtifacts20240105000000,
  ApiKeys20240106000000,
  AuditLog20240107000000,
  NodeHeartbeatHistory20240108000000,
  HardenKeyStorage20240109000000,
  IdentityHardening20261128000000,
  ApiKeyManagement20261128000100,
  ThrottleOverrides20261128000200,
  Circuits20261128100100,
  WasmModules20261128100000,
  AccessTokenEpoch20261201160000,
  NodeRegistry20261201170000,
  SchedulingEngine20261201180000,
  ModuleOwners20261201190000,
  BuiltInModules20261201200000,
  TaskEvents20261201210000,
  VerifiedResults20261202000000,
  ContentStore20261202100000,
  ClaimReplay20261202110000,
  LostLeaseRetry20261202120000,
  PageIndexes20261202130000,
  ClaimLookups20261202140000,
  LeaseSlots20261202150000,
  CircuitRetirement20261202160000,
  NodeKeyPages20261203120000,
  CircuitTaskPages20261204000000,
  NodeTelemetry20261204120000,
  QuorumOwnerFaults20261205120000,
  LiveTaskCounts20261207120000,
  FailedRunRetry20261207130000,
  FairShareOrder20261207140000,
  ControlPlaneClock20261207210000,
  ControlPlaneClockCounts20261208000000,
  ClaimHolders20261208100000,
];

import { ApiKeyEntity } from '../api-keys/api-key.entity';
import { AuditLogEntity } from '../audit/audit-log.entity';
import { RefreshTokenEntity } from '../auth/refresh-token.entity';
import { UserEntity } from '../users/user.entity';

/** Every TypeORM entity. They only map tables that migrations/ creates; they never shape the schema. */
export const ENTITIES = [UserEntity, RefreshTokenEntity, AuditLogEntity, ApiKeyEntity];

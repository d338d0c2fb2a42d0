import { Injectable } from '@nestjs/common';
import { cursorTime, pageTime } from '../common/pagination/cursor';
import { DatabaseSession } from '../database/transaction-runner';
import { ProofSystem } from './proof-system';

export interface CircuitRecord {
  circuitId: string;
  name: string;
  protocol: ProofSystem;
  curve: string;
  nPublic: number;
  /** The canonical JSON the id is the hash of. */
  verificationKey: string;
  wasmSha256: string | null;
  wasmSize: number | null;
  zkeySha256: string | null;
  zkeySize: number | null;
  createdBy: string | null;
  createdAt: Date;
  /** Set once the circuit is retired: readable still, but it takes no new tasks or proofs. */
  retiredAt: Date | null;
}

/** What names a circuit: tasks (deleted ones too, whose rows stay) and stored proofs. */
export interface CircuitReferences {
  tasks: boolean;
  proofs: boolean;
  /** Pending or running tasks: they may still lease runs that download the circuit's wasm and zkey. */
  unfinishedTasks: number;
}

interface CircuitRow {
  circuit_id: string;
  name: string;
  protocol: ProofSystem;
  curve: string;
  n_public: number;
  verification_key: string;
  wasm_sha256: string | null;
  wasm_size: string | null;
  zkey_sha256: string | null;
  zkey_size: string | null;
  created_by: string | null;
  created_at: Date;
  retired_at: Date | null;
}

const COLUMNS = `circuit_id, name, protocol, curve, n_public, verification_key, wasm_sha256, wasm_size,
  zkey_sha256, zkey_size, created_by, created_at, retired_at`;

function toRecord(row: CircuitRow): CircuitRecord {
  const num = (v: string | null) => (v === null ? null : Number(v));
  return {
    circuitId: row.circuit_id,
    name: row.name,
    protocol: row.protocol,
    curve: row.curve,
    nPublic: row.n_public,
    verificationKey: row.verification_key,
    wasmSha256: row.wasm_sha256,
    wasmSize: num(row.wasm_size),
    zkeySha256: row.zkey_sha256,
    zkeySize: num(row.zkey_size),
    createdBy: row.created_by,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
  };
}

/** The circuits table, in plain SQL; records out, never query objects. */
@Injectable()
export class CircuitRepository {
  constructor(private readonly db: DatabaseSession) {}

  /** Inserts unless the id exists; `created` says which. A concurrent twin insert resolves to the same row. */
  async insertIfAbsent(
    circuit: Omit<CircuitRecord, 'createdAt' | 'retiredAt'>,
  ): Promise<{ record: CircuitRecord; created: boolean }> {
    const inserted = await this.db.query<CircuitRow>(
      `INSERT INTO circuits (circuit_id, name, protocol, curve, n_public, verification_key, wasm_sha256,
         wasm_size, zkey_sha256, zkey_size, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (circuit_id) DO NOTHING
       RETURNING ${COLUMNS}`,
      [
        circuit.circuitId,
        circuit.name,
        circuit.protocol,
        circuit.curve,
        circuit.nPublic,
        circuit.verificationKey,
        circuit.wasmSha256,
        circuit.wasmSize,
        circuit.zkeySha256,
        circuit.zkeySize,
        circuit.createdBy,
      ],
    );
    if (inserted.length > 0) return { record: toRecord(inserted[0]), created: true };
    const existing = await this.findById(circuit.circuitId);
    if (!existing) throw new Error('circuit vanished between conflict and read');
    return { record: existing, created: false };
  }

  /**
   * Fills in a registered circuit's missing witness generator and proving key; one it has already is kept
   * (the caller compares). Returns the circuit as it is now.
   */
  async attachArtifacts(
    circuitId: string,
    wasm: { sha256: string; size: number } | null,
    zkey: { sha256: string; size: number } | null,
  ): Promise<CircuitRecord> {
    const [row] = await this.db.query<CircuitRow>(
      `UPDATE circuits
          SET wasm_sha256 = COALESCE(wasm_sha256, $2), wasm_size = COALESCE(wasm_size, $3),
              zkey_sha256 = COALESCE(zkey_sha256, $4), zkey_size = COALESCE(zkey_size, $5)
        WHERE circuit_id = $1
        RETURNING ${COLUMNS}`,
      [circuitId, wasm?.sha256 ?? null, wasm?.size ?? null, zkey?.sha256 ?? null, zkey?.size ?? null],
    );
    return toRecord(row);
  }

  async findById(circuitId: string): Promise<CircuitRecord | null> {
    const rows = await this.db.query<CircuitRow>(`SELECT ${COLUMNS} FROM circuits WHERE circuit_id = $1`, [
      circuitId,
    ]);
    return rows.length > 0 ? toRecord(rows[0]) : null;
  }

  /**
   * Oldest first, keyset-paginated on (created_at, circuit_id). Times compare at millisecond precision, the
   * precision of the cursor's ISO timestamp, so a row is never skipped or repeated between pages. `retired`
   * keeps only retired (true) or only active (false) circuits.
   */
  async page(
    limit: number,
    after: { createdAt: string; circuitId: string } | null,
    retired?: boolean,
  ): Promise<CircuitRecord[]> {
    const sortKey = pageTime('created_at');
    const conditions: string[] = [];
    const parameters: unknown[] = [limit];
    if (after) {
      parameters.push(after.createdAt, after.circuitId);
      conditions.push(`(${sortKey}, circuit_id) > (${cursorTime('$2')}, $3)`);
    }
    if (retired !== undefined) conditions.push(`retired_at IS ${retired ? 'NOT ' : ''}NULL`);
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    const rows = await this.db.query<CircuitRow>(
      `SELECT ${COLUMNS} FROM circuits ${where} ORDER BY ${sortKey}, circuit_id LIMIT $1`,
      parameters,
    );
    return rows.map(toRecord);
  }

  /**
   * Whether the circuit exists and, if so, when it was retired (null: active). `lock`, for a transaction about
   * to insert work naming the circuit: the row is held FOR SHARE until it ends, which conflicts with the
   * remover's FOR UPDATE — a retirement or deletion in progress is waited for and its outcome read (READ
   * COMMITTED reads the row as that commit left it); one that starts later waits for this transaction, and then
   * counts what it inserted.
   */
  async retirement(circuitId: string, lock = false): Promise<{ retiredAt: Date | null } | null> {
    const rows = await this.db.query<{ retired_at: Date | null }>(
      `SELECT retired_at FROM circuits WHERE circuit_id = $1${lock ? ' FOR SHARE' : ''}`,
      [circuitId],
    );
    return rows.length > 0 ? { retiredAt: rows[0].retired_at } : null;
  }

  /**
   * Serialises the writes that decide whether a stored wasm or zkey is still needed (registrations and
   * deletions, in a transaction): circuits may share those files (one witness generator, several setups), so
   * a delete must see every circuit committed before it, and a registration must see a delete's effect (or
   * CircuitBlobSweeper's, which deletes files no circuit names under this lock).
   * On the embedded database the single session serialises them already.
   */
  async lockArtifacts(): Promise<void> {
    await this.db.query(`SELECT pg_advisory_xact_lock(hashtextextended('vcp.circuit_artifacts', 0))`);
  }

  /**
   * The circuit, locked for this transaction. FOR UPDATE conflicts with the KEY SHARE lock a task's or a
   * proof's foreign key check takes: an insert naming the circuit that is not yet committed is waited for (and
   * then counted by `references`), and one that comes later waits for this transaction.
   */
  async lockById(circuitId: string): Promise<CircuitRecord | null> {
    const rows = await this.db.query<CircuitRow>(
      `SELECT ${COLUMNS} FROM circuits WHERE circuit_id = $1 FOR UPDATE`,
      [circuitId],
    );
    return rows.length > 0 ? toRecord(rows[0]) : null;
  }

  async references(circuitId: string): Promise<CircuitReferences> {
    const [row] = await this.db.query<{ tasks: boolean; proofs: boolean; unfinished: number }>(
      `SELECT EXISTS (SELECT 1 FROM tasks WHERE circuit_id = $1) AS tasks,
              EXISTS (SELECT 1 FROM proof_artifacts WHERE circuit_id = $1) AS proofs,
              (SELECT count(*)::int FROM tasks
                WHERE circuit_id = $1 AND status IN ('pending', 'running')) AS unfinished`,
      [circuitId],
    );
    return { tasks: row.tasks, proofs: row.proofs, unfinishedTasks: row.unfinished };
  }

  /** Sets `retired_at` unless it is set; returns the circuit as it is now. */
  async retire(circuitId: string): Promise<CircuitRecord> {
    const [row] = await this.db.query<CircuitRow>(
      `UPDATE circuits SET retired_at = COALESCE(retired_at, now()) WHERE circuit_id = $1 RETURNING ${COLUMNS}`,
      [circuitId],
    );
    return toRecord(row);
  }

  /** Clears `retired_at`; returns the circuit as it is now. The caller holds the row (`lockById`). */
  async restore(circuitId: string): Promise<CircuitRecord> {
    const [row] = await this.db.query<CircuitRow>(
      `UPDATE circuits SET retired_at = NULL WHERE circuit_id = $1 RETURNING ${COLUMNS}`,
      [circuitId],
    );
    return toRecord(row);
  }

  async delete(circuitId: string): Promise<void> {
    await this.db.execute(`DELETE FROM circuits WHERE circuit_id = $1`, [circuitId]);
  }

  /** Those of `ids` that no circuit (retired ones included) names as its wasm or zkey. */
  async unnamedArtifacts(ids: string[]): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      `SELECT id FROM unnest($1::text[]) AS id
        WHERE NOT EXISTS (SELECT 1 FROM circuits WHERE wasm_sha256 = id OR zkey_sha256 = id)`,
      [ids],
    );
    return rows.map((row) => row.id);
  }

  async artifactInUse(sha256: string): Promise<boolean> {
    const rows = await this.db.query(
      `SELECT 1 WHERE EXISTS (SELECT 1 FROM circuits WHERE wasm_sha256 = $1 OR zkey_sha256 = $1)`,
      [sha256],
    );
    return rows.length > 0;
  }
}

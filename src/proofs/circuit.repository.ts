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
}

const COLUMNS = `circuit_id, name, protocol, curve, n_public, verification_key, wasm_sha256, wasm_size,
  zkey_sha256, zkey_size, created_by, created_at`;

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
  };
}

/** The circuits table, in plain SQL; records out, never query objects. */
@Injectable()
export class CircuitRepository {
  constructor(private readonly db: DatabaseSession) {}

  /** Inserts unless the id exists; `created` says which. A concurrent twin insert resolves to the same row. */
  async insertIfAbsent(
    circuit: Omit<CircuitRecord, 'createdAt'>,
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
   * precision of the cursor's ISO timestamp, so a row is never skipped or repeated between pages.
   */
  async page(
    limit: number,
    after: { createdAt: string; circuitId: string } | null,
  ): Promise<CircuitRecord[]> {
    const sortKey = pageTime('created_at');
    const rows = after
      ? await this.db.query<CircuitRow>(
          `SELECT ${COLUMNS} FROM circuits WHERE (${sortKey}, circuit_id) > (${cursorTime('$2')}, $3)
           ORDER BY ${sortKey}, circuit_id LIMIT $1`,
          [limit, after.createdAt, after.circuitId],
        )
      : await this.db.query<CircuitRow>(
          `SELECT ${COLUMNS} FROM circuits ORDER BY ${sortKey}, circuit_id LIMIT $1`,
          [limit],
        );
    return rows.map(toRecord);
  }
}

import { HELLO_WASM_BASE64 } from '../../common/openapi/examples';
import { MULTIPLIER_GROTH16_CIRCUIT_ID } from '../../proofs/dto/circuit-examples';

export { HELLO_WASM_BASE64 };

const solo = { min_nodes: 1, max_execution_time_sec: 60 };

/**
 * Request bodies for POST /tasks that work as they are in Swagger UI (the first is its default), instead of the
 * one Swagger UI would build from the schema (every field, at its maximum: not a valid task).
 */
export const TASK_EXAMPLES: Record<string, { summary: string; value: object }> = {
  expression: {
    summary: 'Built-in program: exact arithmetic',
    value: {
      task_type: 'computation',
      inputs: { program: 'expression', expression: '2+3*4' },
      requirements: solo,
    },
  },
  monte_carlo_pi: {
    summary: 'Built-in program: Monte Carlo π (same seed, same answer on every node)',
    value: {
      task_type: 'computation',
      inputs: { program: 'monte_carlo_pi', samples: 1_000_000, seed: 42 },
      requirements: solo,
    },
  },
  text_stats: {
    summary: 'Built-in program: word and sentence counts, top keywords',
    value: {
      task_type: 'computation',
      inputs: {
        program: 'text_stats',
        text: 'Nodes run tasks. Nodes sign results. The server verifies results.',
      },
      requirements: solo,
    },
  },
  wasm_inline: {
    summary: 'Your own WebAssembly module, inline (base64), JSON inputs on its stdin',
    value: { task_type: 'wasm_execution', wasm_module: HELLO_WASM_BASE64, inputs: {}, requirements: solo },
  },
  zk_proof: {
    summary:
      "A groth16 proof that 3 · 11 = 33 (register the circuit first: POST /admin/circuits' multiplier_with_prover example)",
    value: {
      task_type: 'zk_proof',
      circuit_id: MULTIPLIER_GROTH16_CIRCUIT_ID,
      // The statement (the output 33, then the public input 11); a and b are the witness, for the node alone.
      inputs: { public_signals: ['33', '11'], a: '3', b: '11' },
      requirements: solo,
    },
  },
  quorum: {
    summary: 'Verified by quorum: two nodes of distinct owners must agree (try EMBEDDED_NODES=2)',
    value: {
      task_type: 'computation',
      inputs: { program: 'expression', expression: '6*7' },
      requirements: { min_nodes: 2, max_execution_time_sec: 60 },
    },
  },
};

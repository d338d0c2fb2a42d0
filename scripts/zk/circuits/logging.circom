pragma circom 2.0.0;

// The multiplier's constraints, and a log() while the witness is computed: the text a circuit writes must not
// reach the agent's stdout (test/integration/proofs/prover-output.spec.ts). Its wasm, test/fixtures/zk/logging.wasm,
// is made by `npx circom2 scripts/zk/circuits/logging.circom --wasm -o <dir>` (it needs no proving key of its own).
template Logging() {
    signal input a;
    signal input b;
    signal output c;
    log("forged-by-circuit", a);
    c <== a * b;
}

component main {public [b]} = Logging();

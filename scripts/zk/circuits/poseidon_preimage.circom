pragma circom 2.0.0;

include "circomlib/circuits/poseidon.circom";

// Knows a preimage of a public Poseidon hash.
template PoseidonPreimage() {
    signal input preimage;
    signal input hash;
    component h = Poseidon(1);
    h.inputs[0] <== preimage;
    hash === h.out;
}

component main {public [hash]} = PoseidonPreimage();

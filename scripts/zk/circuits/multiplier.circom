pragma circom 2.0.0;

// Knows a factorisation: c = a * b, with b and c public.
template Multiplier() {
    signal input a;
    signal input b;
    signal output c;
    c <== a * b;
}

component main {public [b]} = Multiplier();

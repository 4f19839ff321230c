//! Benchmark: sweep (see the module docs once written).

fn main() {}

//! Benchmark: prewarm (see the module docs once written).

fn main() {}

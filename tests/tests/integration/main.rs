//! Integration tests: the product's real entry points against the local AWS emulator and real
//! upstream registries on loopback. One binary, one module per area.

mod alerts;
mod emulator;
mod functions;

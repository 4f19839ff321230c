//! harden-repository end to end on the emulator.

//! check-credentials end to end on the emulator.

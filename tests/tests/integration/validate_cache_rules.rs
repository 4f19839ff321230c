//! validate-cache-rules end to end on the emulator.

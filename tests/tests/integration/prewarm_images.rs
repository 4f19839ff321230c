//! prewarm-images end to end on the emulator.

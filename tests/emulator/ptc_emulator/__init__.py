"""Local AWS emulator for ecr-ptc-ops: moto server plus pull-through cache support."""

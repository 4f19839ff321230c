# ecr-ptc-ops: the commands a user and CI run. Every target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help setup test lint emulator

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## install the local AWS emulator (venv, docker-registry, skopeo); idempotent
	@scripts/setup-emulator.sh

test: setup ## run every test (unit, emulator-backed integration, CLI)
	cargo test --workspace --locked

lint: ## formatting and clippy, warnings are errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

emulator: ## run the local AWS emulator in the foreground (Ctrl-C stops it)
	@scripts/emulator.sh

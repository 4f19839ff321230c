# ecr-ptc-ops: the commands a user and CI run. Every target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help setup demo test conformance lint emulator package infra-check cdk-synth cdk-permissions schemas mutants

# The ptc binary as `make demo` and `make test` build it (`--workspace --bins`): building it with
# `-p ptc-cli` alone would resolve the dependencies' features for that package only and compile
# them all a second time.
PTC := $(or $(CARGO_TARGET_DIR),target)/debug/ptc

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## install the local AWS emulator (venv, docker-registry, skopeo); idempotent
	@scripts/setup-emulator.sh

demo: setup ## the whole product on the local emulator: seed, run the four Lambdas, show what happened
	cargo build --workspace --bins --locked
	target/debug/demo

test: setup ## run every test (unit, emulator-backed integration, CLI, the demo, the emulator's own smoke test)
	cargo build --workspace --bins --locked
	cargo test --workspace --locked
	.venv/bin/python tests/emulator/smoke.py

conformance: ## the AWS behaviours the product relies on; a real account with PTC_CONFORMANCE_REAL=1 (docs/emulator.md)
	@if [ "$${PTC_CONFORMANCE_REAL:-}" != 1 ]; then scripts/setup-emulator.sh; fi
	cargo test -p ptc-ops-tests --test conformance --locked -- --nocapture

lint: ## formatting and clippy, warnings are errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

emulator: ## run the local AWS emulator in the foreground (Ctrl-C stops it)
	@scripts/emulator.sh

package: ## build the four functions as arm64 Lambda zips (cargo lambda) and print their sizes
	@scripts/package.sh

infra-check: ## cfn-lint and `sam validate --lint` (SAM template, central alerts), Control Tower's cfn-guard rules on the CDK templates (offline)
	@scripts/setup-infra.sh
	cd infra && ../.venv/infra/bin/cfn-lint template.yaml central-alerts.yaml
	cd infra && SAM_CLI_TELEMETRY=0 ../.venv/infra/bin/sam validate --lint --region eu-west-1
	@scripts/cfn-guard.sh

cdk-synth: ## the CDK construct (infra/cdk): npm ci, synth to infra/cdk/cdk.out, no Transform, no synthesis warning, StackSets size, cfn-lint, CDK tests
	@scripts/cdk-synth.sh

cdk-permissions: ## write infra/cdk/permissions.json from the code (`ptc permissions --json`)
	cargo build --quiet --locked --workspace --bins
	$(PTC) permissions --json > infra/cdk/permissions.json.new
	mv infra/cdk/permissions.json.new infra/cdk/permissions.json

schemas: ## write schemas/<function>-report.schema.json, schemas/ptc-ops.toml.schema.json and docs/configuration.md from the types (`ptc schema`)
	cargo build --quiet --locked --workspace --bins
	@mkdir -p schemas docs
	@for function in harden-repository validate-cache-rules check-credentials prewarm-images; do \
		$(PTC) schema $$function > schemas/$$function-report.schema.json.new && \
		mv schemas/$$function-report.schema.json.new schemas/$$function-report.schema.json; \
	done
	$(PTC) schema config > schemas/ptc-ops.toml.schema.json.new
	mv schemas/ptc-ops.toml.schema.json.new schemas/ptc-ops.toml.schema.json
	$(PTC) config reference > docs/configuration.md.new
	mv docs/configuration.md.new docs/configuration.md

mutants: ## mutation tests of the pure domain on what changed since BASE (default HEAD: the uncommitted change), with the unit tests
	@command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked
	@mkdir -p target
	git diff $${BASE:-HEAD} -- domain/src > target/domain.diff
	cargo mutants --in-diff target/domain.diff -p ptc-ops-domain --timeout 120 -- --lib

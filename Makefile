# invex: `make help` lists the targets.
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(CURDIR)/target

.PHONY: help deps demo release bench test test-broker stack-start stack-stop lint fmt check-detect-deps

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

deps: ## install the system packages the build needs (or say which are missing)
	@./.ci/deps

demo: deps ## run the embedded demo (mock Kafka, simulator, detectors) and print its report
	$(CARGO) run --locked -p invex -- demo

release: deps ## build the optimised binary (target/release/invex) for production and benchmarks
	$(CARGO) build --release --locked -p invex

# The end-to-end benchmark (benches/README.md): tansu on loopback, the passthrough limit, invex
# and the Quix Streams peer as child processes; writes benches/results/<date>-<host>.{json,md}.
bench: release ## the end-to-end benchmark: throughput, latency, recovery, scaling (benches/README.md)
	@set -e; tests/broker/stack start; trap 'tests/broker/stack stop' EXIT; \
		tests/broker/stack install-peer; $(CARGO_TARGET_DIR)/release/invex bench

# The real-broker suite needs the stack's addresses; `stack env` prints them, and the stack is
# stopped however the tests end.
WITH_STACK = set -e; tests/broker/stack start; trap 'tests/broker/stack stop' EXIT; \
	export $$(tests/broker/stack env);

test: deps ## run every test (starts a broker and a schema registry on loopback, stops them after)
	@$(WITH_STACK) $(CARGO) test --workspace --locked

test-broker: deps ## run only the real-broker suite (broker and registry started and stopped)
	@$(WITH_STACK) $(CARGO) test --locked --test broker

stack-start: ## start the real-broker stack and leave it running (`tests/broker/stack env`)
	tests/broker/stack start

stack-stop: ## stop the real-broker stack
	tests/broker/stack stop

lint: deps fmt check-detect-deps ## formatting, clippy with warnings as errors, detector purity
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## check formatting
	$(CARGO) fmt --all -- --check

check-detect-deps: ## invex-detect must not depend on tokio, rdkafka or rocksdb
	@if $(CARGO) tree -p invex-detect -e normal --locked | grep -E -q '(tokio|rdkafka|rocksdb)'; then \
		echo "invex-detect depends on an I/O crate:"; $(CARGO) tree -p invex-detect -e normal | grep -E '(tokio|rdkafka|rocksdb)'; exit 1; \
	fi

# invex: `make help` lists the targets.
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(CURDIR)/target

.PHONY: help deps demo release test lint fmt check-detect-deps

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

deps: ## install the system packages the build needs (or say which are missing)
	@./.ci/deps

demo: deps ## run the embedded demo (mock Kafka, simulator, detectors) and print its report
	$(CARGO) run --locked -p invex -- demo

release: deps ## build the optimised binary (target/release/invex) for production and benchmarks
	$(CARGO) build --release --locked -p invex

test: deps ## run every test
	$(CARGO) test --workspace --locked

lint: deps fmt check-detect-deps ## formatting, clippy with warnings as errors, detector purity
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## check formatting
	$(CARGO) fmt --all -- --check

check-detect-deps: ## invex-detect must not depend on tokio, rdkafka or rocksdb
	@if $(CARGO) tree -p invex-detect -e normal --locked | grep -E -q '(tokio|rdkafka|rocksdb)'; then \
		echo "invex-detect depends on an I/O crate:"; $(CARGO) tree -p invex-detect -e normal | grep -E '(tokio|rdkafka|rocksdb)'; exit 1; \
	fi

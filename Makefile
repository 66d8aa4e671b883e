# Nines: the two commands of the README, and the set-up they need.
#   make demo   the main job on the embedded default
#   make test   set-up if needed, clippy and cargo doc (warnings are errors), then every test
SHELL := /bin/bash
CARGO ?= cargo
STAMPS := third_party/libtorch/.nines-stamp models/smollm2/.nines-stamp models/minilm/.nines-stamp

.PHONY: setup demo test bench fmt clippy

setup: $(STAMPS)

$(STAMPS) &: scripts/setup.sh
	bash scripts/setup.sh

demo: setup
	$(CARGO) run --release --bin nines -- run $(ARGS)

# Test binaries run many tests at once, each with its own OpenMP team: on 2 cores, threads that
# spin while they wait starve the others, so they sleep instead (docs/design.md, "Set-up").
test: export OMP_WAIT_POLICY ?= PASSIVE
test: setup
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps
	$(CARGO) test --workspace --lib --bins --tests --examples
	# Doc-test binaries run from a temporary folder, out of reach of the run path.
	LD_LIBRARY_PATH=$(CURDIR)/third_party/libtorch/lib$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH} $(CARGO) test --workspace --doc

bench: setup
	$(CARGO) bench --workspace

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

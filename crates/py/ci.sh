#!/usr/bin/env bash
# CI for the `asgd` Python package (crates/py), from a clean clone, as root on Debian:
#   1. fmt and clippy (-D warnings) of the crates/py workspace (the root workspace excludes it);
#   2. the Rust reference values (`asgd-reference`, which calls the crates without PyO3);
#   3. a fresh venv with maturin, numpy, pytest and mypy; the abi3 wheel built and installed into it;
#   4. mypy: the .pyi stubs against the built module (stubtest), the package with --strict;
#   5. the pytest suite against the installed wheel, the reference, and the `trainer` binary
#      (`asgd.train` against the binary's reports and messages): the one `cargo test --workspace`
#      builds, so that after .ci/run's test step it costs nothing here.
# Exits non-zero on any failure. Needs cargo, python3 and network access to PyPI and crates.io.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never
# The wheel and the reference are built for these tests only: optimised, but without the
# published profile's LTO and single codegen unit (half the build time on 2 cores).
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_DEBUG=false

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== crates/py: cargo fmt --check"
cargo fmt --all -- --check
echo "== crates/py: cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== crates/py: Rust reference values"
cargo build --release --quiet -p asgd-reference
./target/release/asgd-reference >"$tmp/reference.json"

echo "== crates/py: the trainer binary (as cargo test --workspace builds it; or ASGD_TRAINER)"
trainer_bin="${ASGD_TRAINER:-}"
[ -n "$trainer_bin" ] || trainer_bin="$(cd ../.. && cargo test --workspace --no-run --quiet --message-format=json \
    | python3 -c '
import json, sys
found = [m["executable"] for m in map(json.loads, sys.stdin)
         if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "trainer"
         and "bin" in m["target"]["kind"] and not m["profile"]["test"]
         and m.get("executable")]
print(found[0] if found else "")
')"
[ -x "$trainer_bin" ] || { echo "no trainer binary"; exit 1; }
echo "$trainer_bin"

echo "== crates/py: fresh venv"
if ! python3 -m venv "$tmp/venv" 2>"$tmp/venv.err"; then
    # Debian ships venv (ensurepip) separately.
    cat "$tmp/venv.err"
    echo "python3 -m venv failed: installing python3-venv"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    rm -rf "$tmp/venv"
    python3 -m venv "$tmp/venv"
fi
py="$tmp/venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check maturin numpy pytest mypy

echo "== crates/py: build and install the wheel"
"$tmp/venv/bin/maturin" build --release --quiet --interpreter "$py" --out "$tmp/wheels"
"$py" -m pip install --quiet --disable-pip-version-check --no-deps "$tmp"/wheels/asgd-*.whl

echo "== crates/py: type stubs match the module (mypy stubtest), package type-checks (mypy --strict)"
(cd "$tmp" && "$py" -m mypy.stubtest asgd._asgd)
"$py" -m mypy --strict --cache-dir "$tmp/mypy-cache" python/asgd

echo "== crates/py: pytest"
# From the tests' own directory, so `import asgd` is the installed wheel, not python/.
cd tests
ASGD_REFERENCE="$tmp/reference.json" ASGD_TRAINER="$trainer_bin" "$py" -m pytest -q -p no:cacheprovider .

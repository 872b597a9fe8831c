#!/usr/bin/env bash
# Rebuilds the extension in place for an editable install (`pip install -e .` done once).
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release -p toksmith-python
cp target/release/lib_toksmith.so python/toksmith/_toksmith.abi3.so

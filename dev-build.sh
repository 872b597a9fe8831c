#!/usr/bin/env bash
# Rebuilds the extension in place for an editable install (`pip install -e . --no-build-isolation`
# done once). The new library is renamed into place, so running processes keep the old one.
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release -p toksmith-python
cp target/release/lib_toksmith.so python/toksmith/.new_toksmith.so
mv python/toksmith/.new_toksmith.so python/toksmith/_toksmith.abi3.so

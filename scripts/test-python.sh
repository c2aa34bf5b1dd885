#!/usr/bin/env bash
# The Python package's tests: installs `genreward` from ./python (maturin, in the dev profile
# and the workspace's target folder, so it reuses what `cargo test --workspace` built) and runs
# pytest on python/tests. Needs python3 with pip (scripts/setup-system.sh installs the rest).
set -euo pipefail
cd "$(dirname "$0")/.."
export WGPU_BACKEND="${WGPU_BACKEND:-vulkan}"
MATURIN_PEP517_ARGS="--profile dev --locked" \
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore ./python
# From the repository root, so `import genreward` is the installed package, not ./python's sources.
python3 -m pytest -q -p no:cacheprovider python/tests "$@"

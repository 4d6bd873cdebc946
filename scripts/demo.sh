#!/usr/bin/env bash
# The demo: install, build the bundled demo store's knowledge base, then chat in the terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/storebot kb build
exec .venv/bin/storebot chat

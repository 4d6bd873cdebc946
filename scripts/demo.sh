#!/usr/bin/env bash
# The demo: install, build the bundled demo store's knowledge base, then ask it a few questions.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/storebot kb build
.venv/bin/storebot kb status
for question in "how much is shipping to germany?" "can i return worn boots" "waterproof jacket for hiking"; do
  echo; echo "> $question"
  .venv/bin/storebot kb search "$question" -k 2
done

#!/usr/bin/env bash
# Sets up companion on first use (scripts/setup.sh) and starts it in the current directory.
#   /path/to/companion/scripts/run.sh [companion args]     e.g. --headless, doctor, --help
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh" >&2
exec "$here/.venv/bin/companion" "$@"

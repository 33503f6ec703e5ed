#!/usr/bin/env bash
# Installs QuickFIX (PyPI `quickfix-ssl`, pinned; its wheel ships the FIX 4.4 data
# dictionary share/quickfix/FIX44.xml) into a virtual environment for the FIX drop copy
# test (Tests/FaultTests/FIXDropCopyTests.swift), which looks for it at
# .build/fix-venv (or $TRADETAP_FIX_VENV).
# Idempotent: a venv already at the pinned version is kept. Needs python3 with venv
# (Debian: python3-venv) and PyPI.
#   Tools/fix/install.sh [VENV]
set -euo pipefail
version=1.15.1.post4
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${1:-$root/.build/fix-venv}"
installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("quickfix-ssl"))' 2>/dev/null || true)"
if [ "$installed" = "$version" ]; then exit 0; fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "quickfix-ssl==$version"
"$venv/bin/python" -c 'import quickfix, importlib.metadata as m; print("quickfix-ssl", m.version("quickfix-ssl"))'

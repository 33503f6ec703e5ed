#!/usr/bin/env bash
# Installs schemathesis (PyPI), pinned, into a virtual environment for the CRM API
# conformance test (Tests/TradeTapCollectorTests/SchemathesisTests.swift), which
# looks for it at .build/schemathesis/bin/st (or $TRADETAP_SCHEMATHESIS).
# Idempotent: a venv already at the pinned version is kept. Needs python3 with venv
# (Debian: python3-venv) and PyPI.
#   Tools/schemathesis/install.sh [VENV]
set -euo pipefail
version=4.32.5
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${1:-$root/.build/schemathesis}"
if [ "$("$venv/bin/st" --version 2>/dev/null || true)" = "st, version $version" ]; then exit 0; fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
"$venv/bin/st" --version

#!/usr/bin/env bash
# Builds the plugin and the hook benchmark, then runs it: a fresh journal (timed startup,
# every call on a never-written slot) and a warm one, each against a C ring copy.
# Prints figures; asserts nothing. Usage: run.sh [calls-per-thread] [journal-MB (1024)]
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product TradeTapPlugin >/dev/null
out="${TMPDIR:-/tmp}/tradetap-bench-hook"
cc -std=c11 -O2 -Wall -Wextra -pthread -I CInterop/TradeServerAPI/include Tools/bench-hook/bench.c -o "$out" -ldl
"$out" "$(swift build -c release --show-bin-path)/libTradeTapPlugin.so" "$@"

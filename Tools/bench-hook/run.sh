#!/usr/bin/env bash
# Builds the plugin and the hook benchmark, then runs it: a fresh journal (timed startup,
# every call on a never-written slot) and a warm one, each against a C ring copy.
# Prints figures; asserts nothing. Usage: run.sh [calls-per-thread] [journal-MB (1024)]
#   run.sh --gateway [calls-per-thread (1000000)] [journal-MB (256)]: the four gateway
#   hooks (gateway.c), each against a C ring copy of the same record.
set -euo pipefail
cd "$(dirname "$0")/../.."
source=Tools/bench-hook/bench.c
if [ "${1:-}" = "--gateway" ]; then source=Tools/bench-hook/gateway.c; shift; fi
swift build -c release --product TradeTapPlugin >/dev/null
out="${TMPDIR:-/tmp}/tradetap-bench-hook-$(basename "$source" .c)"
cc -std=c11 -O2 -Wall -Wextra -pthread -I CInterop/TradeServerAPI/include "$source" -o "$out" -ldl
"$out" "$(swift build -c release --show-bin-path)/libTradeTapPlugin.so" "$@"

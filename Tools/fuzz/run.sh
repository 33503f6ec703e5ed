#!/usr/bin/env bash
# Builds the wire fuzzer with swiftc (-sanitize=fuzzer,address, no SwiftPM) and
# runs it for a bounded time over the committed seed corpus.
#   Tools/fuzz/run.sh SECONDS        (default 60)
# Findings (crash-*, leak-*, timeout-*) land in Tools/fuzz/findings/; the exit code
# is non-zero when the fuzzer found something.
set -euo pipefail
SECONDS_TO_RUN="${1:-60}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${TRADETAP_FUZZ_BUILD:-$ROOT/.build/fuzz}"
mkdir -p "$OUT/modules" "$OUT/corpus" "$ROOT/Tools/fuzz/findings"

# The C header as a Clang module, the way SwiftPM presents it to Swift.
cat > "$OUT/modules/module.modulemap" <<MAP
module TradeServerAPI {
  header "$ROOT/CInterop/TradeServerAPI/include/trade_server_api.h"
  export *
}
MAP

SAN=(-sanitize=fuzzer,address -parse-as-library -O -g)
echo "fuzz: compiling TradeTapEvents"
swiftc "${SAN[@]}" -module-name TradeTapEvents -I "$OUT/modules" \
  -emit-module -emit-module-path "$OUT/modules/TradeTapEvents.swiftmodule" \
  -emit-library -static -o "$OUT/libTradeTapEvents.a" "$ROOT"/Sources/TradeTapEvents/*.swift
echo "fuzz: compiling TradeTapWire"
swiftc "${SAN[@]}" -module-name TradeTapWire -I "$OUT/modules" \
  -emit-module -emit-module-path "$OUT/modules/TradeTapWire.swiftmodule" \
  -emit-library -static -o "$OUT/libTradeTapWire.a" "$ROOT"/Sources/TradeTapWire/*.swift
echo "fuzz: linking fuzz-wire"
swiftc "${SAN[@]}" -module-name FuzzWire -I "$OUT/modules" -L "$OUT" \
  -lTradeTapWire -lTradeTapEvents -o "$OUT/fuzz-wire" "$ROOT/Tools/fuzz/FuzzWire.swift"

# Work on a copy of the seeds so the committed corpus only changes on purpose.
cp -n "$ROOT"/Tools/fuzz/corpus/* "$OUT/corpus/" 2>/dev/null || true
echo "fuzz: running for ${SECONDS_TO_RUN}s"
"$OUT/fuzz-wire" -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$ROOT/Tools/fuzz/findings/" -print_final_stats=1 "$OUT/corpus"

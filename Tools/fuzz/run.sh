#!/usr/bin/env bash
# Builds the two fuzzers with swiftc (-sanitize=fuzzer,address, no SwiftPM) and
# runs each for a bounded time over its committed seed corpus:
#   fuzz-wire    the collector's side: frame decoder, handshake, event codec, normaliser
#   fuzz-plugin  the plugin's side: a hostile collector's welcome, acks, snapshot
#                requests and error frames against the real CollectorSession and journal
#   Tools/fuzz/run.sh SECONDS        (default 60, for each)
# Findings (crash-*, leak-*, timeout-*) land in Tools/fuzz/findings/; the exit code
# is non-zero when the fuzzer found something.
set -euo pipefail
SECONDS_TO_RUN="${1:-60}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${TRADETAP_FUZZ_BUILD:-$ROOT/.build/fuzz}"
mkdir -p "$OUT/modules" "$OUT/corpus" "$ROOT/Tools/fuzz/findings"

# The C headers as Clang modules, the way SwiftPM presents them to Swift.
cat > "$OUT/modules/module.modulemap" <<MAP
module TradeServerAPI {
  header "$ROOT/CInterop/TradeServerAPI/include/trade_server_api.h"
  export *
}
module CTradeTapShims {
  header "$ROOT/CInterop/CTradeTapShims/include/tradetap_shims.h"
  export *
}
module CTradeTapTLS {
  header "$ROOT/CInterop/CTradeTapTLS/include/tradetap_tls.h"
  export *
}
module COpenSSL [system] {
  header "$ROOT/CInterop/COpenSSL/COpenSSL.h"
  link "ssl"
  link "crypto"
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

echo "fuzz: compiling the plugin's C shims, TradeTapJournal and TradeTapPluginCore (testable)"
CLANG="$(dirname "$(command -v swiftc)")/clang"
"$CLANG" -fsanitize=fuzzer-no-link,address -O1 -g -c -I "$ROOT/CInterop/CTradeTapShims/include" \
  "$ROOT/CInterop/CTradeTapShims/shims.c" -o "$OUT/shims.o"
"$CLANG" -fsanitize=fuzzer-no-link,address -O1 -g -c -I "$ROOT/CInterop/CTradeTapTLS/include" \
  "$ROOT/CInterop/CTradeTapTLS/tradetap_tls.c" -o "$OUT/tradetap_tls.o"
swiftc "${SAN[@]}" -module-name TradeTapJournal -I "$OUT/modules" \
  -emit-module -emit-module-path "$OUT/modules/TradeTapJournal.swiftmodule" \
  -emit-library -static -o "$OUT/libTradeTapJournal.a" "$ROOT"/Sources/TradeTapJournal/*.swift
# -package-name: the module has `package` declarations (the command record), as SwiftPM compiles it.
swiftc "${SAN[@]}" -enable-testing -module-name TradeTapPluginCore -package-name TradeTap -I "$OUT/modules" \
  -emit-module -emit-module-path "$OUT/modules/TradeTapPluginCore.swiftmodule" \
  -emit-library -static -o "$OUT/libTradeTapPluginCore.a" \
  "$ROOT"/Sources/TradeTapPluginCore/*.swift "$ROOT"/Sources/TradeTapPluginCore/Sender/*.swift \
  "$ROOT"/Sources/TradeTapPluginCore/Commands/*.swift
echo "fuzz: linking fuzz-plugin"
swiftc "${SAN[@]}" -module-name FuzzPlugin -I "$OUT/modules" -L "$OUT" \
  -lTradeTapPluginCore -lTradeTapJournal -lTradeTapWire -lTradeTapEvents "$OUT/shims.o" "$OUT/tradetap_tls.o" \
  -lssl -lcrypto -o "$OUT/fuzz-plugin" "$ROOT/Tools/fuzz/FuzzPlugin.swift"

# Work on a copy of the seeds so the committed corpus only changes on purpose.
mkdir -p "$OUT/corpus-plugin"
cp -n "$ROOT"/Tools/fuzz/corpus/* "$OUT/corpus/" 2>/dev/null || true
cp -n "$ROOT"/Tools/fuzz/corpus-plugin/* "$OUT/corpus-plugin/" 2>/dev/null || true
status=0
echo "fuzz: fuzz-wire for ${SECONDS_TO_RUN}s"
"$OUT/fuzz-wire" -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$ROOT/Tools/fuzz/findings/wire-" -print_final_stats=1 "$OUT/corpus" || status=$?
echo "fuzz: fuzz-plugin for ${SECONDS_TO_RUN}s"
"$OUT/fuzz-plugin" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$ROOT/Tools/fuzz/findings/plugin-" -print_final_stats=1 "$OUT/corpus-plugin" || status=$?
exit $status

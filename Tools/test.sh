#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: one release build (the plugin's
# hook-path guarantees are properties of optimised code), then every test target.
# Integration tests find libTradeTapPlugin.so and tradetap next to the test binary.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs="${TRADETAP_BUILD_JOBS:-$(nproc)}"

# Every temporary file of the run (ledgers, journals, logs of killed processes)
# lives under one folder that is removed when the run ends, pass or fail: the
# suites start hundreds of collectors, and a disk shared by many runs filled up
# with their leftovers once. TRADETAP_KEEP_TMP=1 keeps it for a post-mortem.
run_tmp="$(mktemp -d "${TMPDIR:-/tmp}/tradetap-test-run.XXXXXX")"
export TMPDIR="$run_tmp"
# The console's browser test saves a screenshot of each view: into the run's folder
# here (docs/console/ holds the committed ones, refreshed by hand).
export TRADETAP_CONSOLE_SCREENSHOTS="${TRADETAP_CONSOLE_SCREENSHOTS:-$run_tmp/console-screenshots}"
cleanup_run_tmp() {
  Tools/postgres/cluster.sh stop "$run_tmp/postgres" || true
  if [ "${TRADETAP_KEEP_TMP:-0}" = 1 ]; then echo "== kept temporary files in $run_tmp"; else rm -rf "$run_tmp"; fi
}
trap cleanup_run_tmp EXIT
# The ledger's PostgreSQL backend is tested on a throwaway cluster (loopback only);
# each test creates and drops its own database in it (docs/ledger.md, "PostgreSQL").
echo "== throwaway PostgreSQL cluster"
TRADETAP_TEST_POSTGRES_URL="$(Tools/postgres/cluster.sh start "$run_tmp/postgres")"
export TRADETAP_TEST_POSTGRES_URL
# The CRM API conformance test runs schemathesis (PyPI, pinned): a no-op when present.
echo "== schemathesis"
Tools/schemathesis/install.sh
# The FIX drop copy's counterparty (QuickFIX, PyPI quickfix-ssl, pinned) and the console's
# browser driver (selenium, pinned; the browser is Debian's chromium): no-ops when present.
echo "== QuickFIX and selenium"
Tools/fix/install.sh
Tools/console/install.sh
echo "== build (release)"
swift build -c release -j "$jobs"
swift build -c release -j "$jobs" --build-tests

echo "== ABI header against the normative names (shared/spec/abi_names_check.c)"
cc -std=c11 -Wall -Werror -fsyntax-only -ICInterop/TradeServerAPI/include Tests/PluginTests/abi_names_check.c
cc -std=c11 -Wall -Werror -fsyntax-only -ICInterop/TradeServerAPI/include Tests/PluginTests/gateway_names_check.c
cc -std=c11 -Wall -Werror -fsyntax-only -ICInterop/TradeServerAPI/include Tests/PluginTests/commands_names_check.c

echo "== tests"
# One suite at a time: the integration suites start real processes (collectors,
# simulated servers, C hosts) and kill them at chosen moments; on 2 cores, suites
# racing each other would turn those proofs into timing lotteries.
swift test -c release --skip-build --no-parallel "$@" 2>&1 | tee .build/test-output.txt

echo "== fuzz the frame decoder, handshake, event codec and normaliser, and the plugin against a hostile collector (bounded; longer: Tools/fuzz/run.sh 3600)"
Tools/fuzz/run.sh "${TRADETAP_FUZZ_SECONDS:-60}" 2>&1 | grep -E "^fuzz:|stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Fatal error|deadly signal"

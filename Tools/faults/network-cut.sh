#!/usr/bin/env bash
# Fault (e): the network cut and restored. The collector runs in a network
# namespace we create, reached over a veth pair with addresses private to it
# (10.213.N.0/30); taking the host-side link down drops every packet without a
# reset, so both ends hold a half-open connection until heartbeats expose it.
# Under load: the C host streams deals (real plugin) while the link is cut CUTS
# times for CUT_S seconds. Idle: everything acknowledged, the link is cut again.
# Needs root for `ip netns` (exits 77 with the reason when not permitted).
#   Tools/faults/network-cut.sh [CUTS=2] [CUT_S=4]
source "$(dirname "$0")/lib.sh"
cuts=${1:-2}; cut_s=${2:-4}; threads=2
n=$(( $$ % 250 + 1 )); ns=tt-fault-$$; outside=ttA$$; inside=ttB$$
collector_ip=10.213.$n.2
ip netns add "$ns" 2>"$work/netns.err" || { echo "SKIP ip netns not permitted: $(cat "$work/netns.err")"; exit 77; }
teardown() { ip link del "$outside" 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; }
trap 'cleanup_children; teardown' EXIT
ip link add "$outside" type veth peer name "$inside"
ip link set "$inside" netns "$ns"
ip addr add "10.213.$n.1/30" dev "$outside"; ip link set "$outside" up
ip netns exec "$ns" ip addr add "$collector_ip/30" dev "$inside"
ip netns exec "$ns" ip link set "$inside" up; ip netns exec "$ns" ip link set lo up
port=7443
: > "$work/collector.out"
ip netns exec "$ns" "$tradetap" collector --listen "$collector_ip:$port" --http 127.0.0.1:0 --database "sqlite:$ledger" \
  --secrets "$work/secrets" --no-tls --allow-insecure-no-tls --api-token-file "$work/token" --heartbeat 1s \
  > "$work/collector.out" 2>> "$work/collector.log" &
collector_pid=$!
for _ in $(seq 300); do grep -q '^listening' "$work/collector.out" && break; sleep 0.02; done
grep -q '^listening' "$work/collector.out" || { echo "FAIL collector did not start in $ns"; cat "$work/collector.log"; exit 1; }
host_args=("$plugin" --server-id "$server_id" --kinds deals --log "$work/host.log"
  --param "Collector=$collector_ip:$port" --param "SecretFile=$work/secret" --param TLS=off --param TLS.AllowInsecure=yes
  --param "Journal.Path=$work/journal" --param Journal.SizeMB=64 --param Heartbeat.Seconds=1)
build_c_host
"$work/c-host" "${host_args[@]}" --threads $threads --events 0 --sleep-us 500 --progress "$work/progress" > "$work/host.out" 2>&1 &
host=$!; children+=("$host")
sleep 1
status=0; worst=0
connections() { grep -c 'plugin authenticated' "$work/collector.log" || true; }
for cut in $(seq "$cuts"); do
  before=$(connections); hooks_at_cut=$(progress_total "$work/progress" $threads)
  ip link set "$outside" down
  sleep "$cut_s"
  hooks_at_restore=$(progress_total "$work/progress" $threads)
  ip link set "$outside" up; restored=$(now_ms)
  wait_durable_through "$hooks_at_restore" 30 || { echo "FAIL cut $cut: not caught up 30 s after the restore"; status=1; }
  [ "$hooks_at_restore" -gt "$hooks_at_cut" ] || { echo "FAIL the host stalled during the cut"; status=1; }
  ms=$(( caught_ms - restored )); [ "$ms" -gt "$worst" ] && worst=$ms
  echo "cut $cut under load: ${cut_s}s; hooks $hooks_at_cut -> $hooks_at_restore meanwhile; caught up $ms ms after the restore; reconnections $(( $(connections) - before ))"
done
# Lossy link under load: the namespace drops LOSS_PCT % of packets at random, both
# ways, for LOSS_S seconds (iptables `statistic`; `tc netem` is not in this kernel).
loss_pct=${LOSS_PCT:-10}; loss_s=${LOSS_S:-5}; lossy=skipped
if command -v iptables >/dev/null && ip netns exec "$ns" iptables -A INPUT -i "$inside" -m statistic --mode random \
    --probability "$(awk "BEGIN{print $loss_pct/100}")" -j DROP 2>"$work/iptables.err"; then
  ip netns exec "$ns" iptables -A OUTPUT -o "$inside" -m statistic --mode random \
    --probability "$(awk "BEGIN{print $loss_pct/100}")" -j DROP
  before=$(connections); hooks_at_cut=$(progress_total "$work/progress" $threads); durable_at_cut=$(durable_seq)
  sleep "$loss_s"
  hooks_at_restore=$(progress_total "$work/progress" $threads); durable_at_restore=$(durable_seq)
  ip netns exec "$ns" iptables -F; restored=$(now_ms)
  wait_durable_through "$hooks_at_restore" 30 || { echo "FAIL lossy link: not caught up 30 s after the loss stopped"; status=1; }
  lossy="${loss_pct}% for ${loss_s}s: hooks $(( hooks_at_restore - hooks_at_cut )), durable $(( durable_at_restore - durable_at_cut )) during the loss, caught up $(( caught_ms - restored )) ms after it, reconnections $(( $(connections) - before ))"
  echo "lossy link under load: $lossy"
else
  echo "lossy link: skipped (iptables statistic unavailable: $(cat "$work/iptables.err" 2>/dev/null | head -1))"
fi
kill -9 "$host"; wait "$host" 2>/dev/null || true
returned=$(progress_counts "$work/progress" $threads | tr '\n' ' ')
# Idle: a host with nothing to send (everything acknowledged) while the link is cut.
"$work/c-host" "${host_args[@]}" --threads 1 --events 1 --sleep-us 16000000 > "$work/host.idle.out" 2>&1 &
idle_host=$!; children+=("$idle_host")
sleep 3
before=$(connections); silent_before=$(grep -c 'collector silent' "$work/host.log" || true)
ip link set "$outside" down; sleep "$cut_s"; ip link set "$outside" up; restored=$(now_ms)
reconnected=
for _ in $(seq 200); do [ "$(connections)" -gt "$before" ] && { reconnected=$(now_ms); break; }; sleep 0.05; done
silent_after=$(grep -c 'collector silent' "$work/host.log" || true)
[ -n "$reconnected" ] || { echo "FAIL idle: no reconnection 10 s after the restore"; status=1; reconnected=$(now_ms); }
[ "$silent_after" -gt "$silent_before" ] || { echo "FAIL idle: the half-open connection was not detected by heartbeat"; status=1; }
echo "idle cut: ${cut_s}s; plugin declared the collector dead ($(( silent_after - silent_before )) log line(s)); reconnected $(( reconnected - restored )) ms after the restore"
wait "$idle_host" || { echo "FAIL the idle host exited $?"; status=1; }
rows=$(sql "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || max(seq) FROM events WHERE server_id = $server_id"); set -- $rows
echo "ledger: events rows/distinct/max = $rows; gaps: $(sql 'SELECT count(*) FROM gaps')"
{ [ "$1" = "$2" ] && [ "$1" = "$3" ]; } || { echo "FAIL sequences not exactly once"; status=1; }
printf '%s\n1 0\n' "$returned" > "$work/returned"
check_returned_hooks_landed "$work/returned" || status=1
kill -TERM "$collector_pid"; wait "$collector_pid" 2>/dev/null || true; collector_pid=
echo "figures: network cut: cuts_under_load=$cuts idle_cuts=1 cut_s=$cut_s events=$3 catch_up_max_ms=$worst idle_reconnect_ms=$(( reconnected - restored )) lossy=\"$lossy\""
[ "$status" = 0 ] && echo "PASS network-cut" || echo "FAIL network-cut (work folder $work)"
exit $status

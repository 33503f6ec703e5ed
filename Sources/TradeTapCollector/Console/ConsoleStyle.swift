/// The console's style sheet and icon (docs/console.md). States: green, amber, red.
enum ConsoleStyle {
  static let text = #"""
    :root { --green: #1f8f4e; --amber: #c98a00; --red: #c62828; --ink: #1d2330; --muted: #667085; --line: #d9dde5; --bg: #f6f7f9; }
    * { box-sizing: border-box; }
    [hidden] { display: none !important; }
    body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
    header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: #111827; color: #fff; }
    header h1 { font-size: 18px; margin: 0 12px 0 0; }
    nav { display: flex; gap: 4px; }
    nav .tab, #sign-out { background: transparent; color: #cbd5e1; border: 1px solid transparent; border-radius: 4px; padding: 5px 10px; cursor: pointer; font: inherit; }
    nav .tab.active { color: #fff; border-color: #4b5563; background: #1f2937; }
    #sign-out { margin-left: auto; border-color: #4b5563; }
    #feed-state { color: #9ca3af; }
    main { padding: 16px 20px; }
    h2 { font-size: 16px; margin: 20px 0 8px; }
    h3 { font-size: 14px; margin: 16px 0 6px; }
    table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
    th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
    td:last-child { white-space: normal; word-break: break-all; }
    th { background: #eef0f4; font-weight: 600; font-size: 12px; color: #374151; }
    .num { text-align: right; font-variant-numeric: tabular-nums; }
    .muted { color: var(--muted); }
    .error { color: var(--red); }
    .state { display: inline-block; min-width: 58px; text-align: center; padding: 2px 8px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 12px; text-transform: uppercase; }
    .state.green { background: var(--green); } .state.amber { background: var(--amber); } .state.red { background: var(--red); }
    tr.server.red td { background: #fdecec; }
    tr.server.amber td { background: #fff7e0; }
    #login { max-width: 520px; margin: 40px auto; background: #fff; border: 1px solid var(--line); padding: 20px 24px; border-radius: 6px; }
    form.inline { display: flex; gap: 12px; align-items: end; margin-bottom: 12px; flex-wrap: wrap; }
    label { display: inline-flex; flex-direction: column; gap: 4px; font-size: 12px; color: #374151; }
    input, select, button { font: inherit; padding: 6px 8px; border: 1px solid #c5cad3; border-radius: 4px; background: #fff; }
    button[type=submit] { background: #111827; color: #fff; border-color: #111827; cursor: pointer; }
    #login-form { display: flex; gap: 10px; align-items: end; }
    #login-form input { width: 300px; }
    dl#account-facts { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 4px 16px; background: #fff; border: 1px solid var(--line); padding: 10px 14px; margin: 0; }
    dl#account-facts dt { color: var(--muted); }
    dl#account-facts dd { margin: 0; word-break: break-all; }
    #latency-chart { width: 100%; max-width: 1000px; height: auto; background: #fff; border: 1px solid var(--line); }
    #latency-chart .plot { fill: #fff; stroke: var(--line); }
    #latency-chart .grid { stroke: #eceef2; }
    #latency-chart .axis { fill: var(--muted); font-size: 11px; }
    #latency-chart .line { fill: none; stroke-width: 2; }
    #latency-chart .line.p50 { stroke: #2563eb; } #latency-chart .line.p99 { stroke: #dc2626; }
    .legend .key { display: inline-block; width: 18px; height: 3px; vertical-align: middle; margin-left: 10px; }
    .legend .key.p50 { background: #2563eb; } .legend .key.p99 { background: #dc2626; }
    #latency-chart .line.server { stroke-width: 1.5; stroke-dasharray: 5 3; }
    ul#latency-servers { list-style: none; padding: 0; margin: 4px 0; display: flex; flex-wrap: wrap; gap: 4px 18px; }
    ul#latency-servers .server-key { vertical-align: middle; }
    tr.gateway.red td:nth-child(2) { color: var(--red); } tr.gateway.green td:nth-child(2) { color: var(--green); }
    """#

  static let icon = #"""
    <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#111827"/><circle cx="8" cy="8" r="4" fill="#1f8f4e"/></svg>
    """#
}

/// The console's one HTML page (docs/console.md). `{{script}}`, `{{style}}` and
/// `{{icon}}` become the hashed paths of ``ConsoleRoutes``. No inline script or
/// style: the Content-Security-Policy forbids both.
enum ConsolePage {
  static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>TradeTap console</title>
    <link rel="icon" href="{{icon}}" type="image/svg+xml">
    <link rel="stylesheet" href="{{style}}">
    <script src="{{script}}" defer></script>
    </head>
    <body>
    <header>
      <h1>TradeTap</h1>
      <nav id="nav" hidden>
        <button type="button" data-view="servers" class="tab">Servers</button>
        <button type="button" data-view="latency" class="tab">Latency</button>
        <button type="button" data-view="accounts" class="tab">Accounts</button>
        <button type="button" data-view="changes" class="tab">Changes</button>
        <button type="button" data-view="gateways" class="tab">Gateways</button>
      </nav>
      <span id="feed-state" class="muted"></span>
      <button type="button" id="sign-out" hidden>Sign out</button>
    </header>
    <main>
      <section id="login">
        <h2>Sign in</h2>
        <p>The collector's API token (<code>--api-token-file</code>). It is kept in this tab only (sessionStorage) and sent as a bearer header.</p>
        <form id="login-form" method="post" action="/" autocomplete="off">
          <input type="text" name="username" autocomplete="username" value="tradetap-api" hidden>
          <label>API token <input id="token" name="token" type="password" autocomplete="new-password" required></label>
          <button type="submit">Open the console</button>
        </form>
        <p id="login-error" class="error" role="alert"></p>
      </section>

      <section id="view-servers" class="view" hidden>
        <table id="servers">
          <thead><tr>
            <th>State</th><th>Server</th><th>Connection</th><th class="num">Events/s</th><th class="num">Lag (s)</th>
            <th class="num">Durable seq</th><th class="num">Open gaps</th><th>Last event (UTC)</th>
            <th>Last reconciliation (UTC)</th><th>Held sweeps</th>
          </tr></thead>
          <tbody></tbody>
        </table>
        <p id="collector-line" class="muted"></p>
        <h2>Outputs</h2>
        <table id="outputs">
          <thead><tr><th>Output</th><th>Kind</th><th class="num">Lag (changes)</th><th class="num">Lag (s)</th><th class="num">Dead letters</th><th>Last error</th></tr></thead>
          <tbody></tbody>
        </table>
        <p id="sweep-result" class="muted" role="status"></p>
      </section>

      <section id="view-latency" class="view" hidden>
        <h2>Hook → durable latency</h2>
        <p class="muted">p50 and p99 of the last 30 s, sampled every second from <code>/v1/status</code>: all servers of this collector together, and one line per server (its p99).</p>
        <svg id="latency-chart" viewBox="0 0 800 300" role="img" aria-label="hook to durable latency, p50 and p99, and each server's p99"></svg>
        <p class="legend"><span class="key p50"></span> p50, all servers <span class="key p99"></span> p99, all servers <span id="latency-now" class="muted"></span></p>
        <ul id="latency-servers" class="legend"></ul>
      </section>

      <section id="view-accounts" class="view" hidden>
        <form id="account-form" class="inline">
          <label>Server <select id="account-server"></select></label>
          <label>Login <input id="account-login" inputmode="numeric" pattern="[0-9]+" required></label>
          <button type="submit">Look up</button>
        </form>
        <p id="account-error" class="error" role="alert"></p>
        <div id="account" hidden>
          <dl id="account-facts"></dl>
          <h3>Open positions</h3>
          <table id="account-positions"><thead><tr><th>Position</th><th>Symbol</th><th>Side</th><th class="num">Volume</th><th class="num">Price</th><th class="num">Profit</th></tr></thead><tbody></tbody></table>
          <h3>Recent deals</h3>
          <table id="account-deals"><thead><tr><th>Deal</th><th>Time (UTC)</th><th>Symbol</th><th>Action</th><th class="num">Volume</th><th class="num">Price</th><th class="num">Profit</th><th>Comment</th></tr></thead><tbody></tbody></table>
          <h3>Balance operations</h3>
          <p id="account-operation-types" class="muted"></p>
          <table id="account-operations"><thead><tr><th>Record</th><th>Time (UTC)</th><th>Type</th><th class="num">Amount</th><th>Comment</th></tr></thead><tbody></tbody></table>
        </div>
      </section>

      <section id="view-changes" class="view" hidden>
        <form id="change-filters" class="inline">
          <label>Server <select id="filter-server"><option value="">all</option></select></label>
          <label>Kind <select id="filter-kind"><option value="">all</option></select></label>
          <span id="changes-count" class="muted"></span>
        </form>
        <table id="changes"><thead><tr><th class="num">Id</th><th>Server</th><th class="num">Seq</th><th>Kind</th><th>Received (UTC)</th><th>Summary</th></tr></thead><tbody></tbody></table>
      </section>

      <section id="view-gateways" class="view" hidden>
        <h2>Gateways</h2>
        <p class="muted">Each gateway source in the ledger (<code>/v1/gateways</code>) and its execution quality since it started (<code>/v1/gateways/{id}/execution-quality</code>): latencies in ms, slippage in points (adverse positive).</p>
        <table id="gateways">
          <thead><tr>
            <th>Gateway</th><th>Connection</th><th>Last event</th><th>Last event (UTC)</th><th class="num">Requests</th><th class="num">Reject rate</th>
            <th class="num">Request→answer p50</th><th class="num">p99</th><th class="num">Answer→first fill p50</th><th class="num">p99</th>
            <th class="num">Slippage mean</th><th class="num">p99</th><th>Error</th>
          </tr></thead>
          <tbody></tbody>
        </table>
        <p id="gateways-updated" class="muted"></p>
        <p id="gateways-error" class="error" role="alert"></p>
      </section>
    </main>
    </body>
    </html>
    """#
}

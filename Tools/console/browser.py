#!/usr/bin/env python3
"""Drives the operator's console (docs/console.md) in headless Chromium against a
live collector fed by `tradetap sim`, and checks what an operator relies on.

Run by Tests/FaultTests/ConsoleBrowserTests.swift, which starts the collector and
two simulated trade servers: LIVE_SERVER trades continuously (process LIVE_PID),
HOSTILE_SERVER replayed Tools/console/hostile.jsonl (markup in an account's name
and in a deposit's comment). Prints one `PASS name` or `FAIL name: why` per check
and a `figures:` line; exits 1 on any failure, 2 when the browser cannot start.

  browser.py --url http://127.0.0.1:PORT --token-file FILE --live-server 1 --live-pid PID
             --hostile-server 2 --hostile-login 50001 --heartbeat-seconds 1 --screenshots DIR
"""
import argparse
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
except ImportError as error:
    print(f"FAIL setup: selenium is missing ({error}); run Tools/console/install.sh")
    sys.exit(2)

failures = []


def check(name, ok, why=""):
    print(("PASS " + name) if ok else f"FAIL {name}: {why}", flush=True)
    if not ok:
        failures.append(name)
    return ok


def get(url, token=None):
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_for(condition, timeout, every=0.1):
    """Polls `condition` until it returns something truthy or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except Exception:  # the page is between renders
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(every)


def browser(profile):
    options = Options()
    options.binary_location = os.environ.get("TRADETAP_CHROMIUM", "/usr/bin/chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,900", "--user-data-dir=" + profile, "--no-first-run"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("TRADETAP_CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


def server_row(driver, server_id):
    """The row of `server_id` as {"state", "cells"}, read in one script (the table is
    redrawn on every status read, so element handles go stale); None when absent."""
    return driver.execute_script(
        "const tr = document.querySelector('#servers tbody tr[data-server-id=\"' + arguments[0] + '\"]');"
        "return tr ? {state: tr.dataset.state, cells: Array.from(tr.cells).map(td => td.textContent)} : null;",
        str(server_id))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--live-server", required=True)
    parser.add_argument("--live-pid", type=int, required=True)
    parser.add_argument("--hostile-server", required=True)
    parser.add_argument("--hostile-login", required=True)
    parser.add_argument("--heartbeat-seconds", type=float, required=True)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--profile", required=True)
    args = parser.parse_args()
    token = open(args.token_file).read().strip()
    os.makedirs(args.screenshots, exist_ok=True)
    shot = lambda driver, name: driver.save_screenshot(os.path.join(args.screenshots, name + ".png"))

    # Headers, on the page and on an API error alike (curl's view, not the browser's).
    status, headers, _ = get(args.url + "/")
    status_401, headers_401, _ = get(args.url + "/v1/status")
    for label, h in (("GET /", headers), ("GET /v1/status without a token", headers_401)):
        csp = h.get("Content-Security-Policy", "")
        check(f"security headers on {label}",
              "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
              and h.get("X-Content-Type-Options") == "nosniff" and h.get("Referrer-Policy") == "no-referrer",
              json.dumps(h))
    check("the page is served without the token, the API is not", status == 200 and status_401 == 401,
          f"{status} {status_401}")
    # Caching: the page is revalidated (ETag, 304), its files are named by hash and immutable.
    page = get(args.url + "/")[2].decode()
    script = page.split('<script src="', 1)[1].split('"', 1)[0]
    s_status, s_headers, _ = get(args.url + script)
    again = urllib.request.Request(args.url + "/", headers={"If-None-Match": headers.get("ETag", "")})
    try:
        revalidated = urllib.request.urlopen(again, timeout=10).status
    except urllib.error.HTTPError as error:
        revalidated = error.code
    check("the page is revalidated: no-cache, and 304 for its ETag",
          headers.get("Cache-Control") == "no-cache" and revalidated == 304, f"{headers.get('Cache-Control')} {revalidated}")
    check("the script is hashed, immutable and JavaScript",
          s_status == 200 and "immutable" in s_headers.get("Cache-Control", "")
          and s_headers.get("Content-Type", "").startswith("text/javascript") and script.count(".") == 2,
          f"{script} {s_status} {json.dumps(s_headers)}")

    try:
        driver = browser(args.profile)
    except Exception as error:
        print(f"FAIL setup: chromium/chromedriver did not start: {error}")
        return 2
    try:
        # 1. No token: the login form, and no API request at all.
        driver.get(args.url + "/")
        wait_for(lambda: driver.find_element(By.ID, "login").is_displayed(), 10)
        time.sleep(1.0)
        requested = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        check("without a token the login is shown and the app is not",
              driver.find_element(By.ID, "login").is_displayed()
              and not driver.find_element(By.ID, "view-servers").is_displayed(), "app visible")
        check("without a token the API is not called", not any("/v1/" in url for url in requested),
              json.dumps(requested))
        check("the token is in no URL", token not in driver.current_url)
        shot(driver, "login")

        # 2. With the token: the live server is connected and its durable sequence rises.
        driver.find_element(By.ID, "token").send_keys(token)
        driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
        row = wait_for(lambda: server_row(driver, args.live_server), 10)
        check("with the token the servers view lists the live server", row is not None)
        green = wait_for(lambda: server_row(driver, args.live_server)["state"] == "green", 10)
        live = server_row(driver, args.live_server)["cells"]
        check("the live server is connected and green", green and live[2] == "connected", json.dumps(live))
        check("the token is kept in sessionStorage, not in the URL",
              driver.execute_script("return sessionStorage.getItem('tradetap.console.token')") == token
              and token not in driver.current_url)
        first = int(server_row(driver, args.live_server)["cells"][5])
        time.sleep(2.5)
        second_cells = server_row(driver, args.live_server)["cells"]
        second = int(second_cells[5])
        check("the live server's durable sequence rises between two reads", second > first, f"{first} then {second}")
        rate = second_cells[3]
        check("the live server shows events per second", rate not in ("—", "") and float(rate) > 0, rate)
        wait_for(lambda: driver.find_element(By.ID, "collector-line").text.count("p50") > 0, 5)
        shot(driver, "servers")

        # 3. Latency: the chart has both lines after a few status reads (one a second).
        driver.find_element(By.CSS_SELECTOR, 'nav .tab[data-view="latency"]').click()
        drawn = wait_for(lambda: driver.execute_script(
            "const lines = document.querySelectorAll('#latency-chart polyline.p50, #latency-chart polyline.p99');"
            "return lines.length === 2 && Array.from(lines).every(l => l.getAttribute('points').split(' ').length >= 6);"), 15)
        check("the latency chart draws p50 and p99", drawn)
        # One series per server: the live server's line has points, and /v1/status has its figures.
        series = wait_for(lambda: driver.execute_script(
            "const l = document.querySelector('#latency-chart polyline.server[data-server-id=\"' + arguments[0] + '\"]');"
            "return l && l.getAttribute('points').split(' ').filter(p => p).length >= 6"
            " && document.querySelector('#latency-servers li[data-server-id=\"' + arguments[0] + '\"]').textContent;",
            str(args.live_server)), 15)
        check("the latency chart has a series for the live server", bool(series), str(series))
        _, _, body = get(args.url + "/v1/status", token)
        mine = [s for s in json.loads(body)["servers"] if str(s["server_id"]) == args.live_server]
        own = mine[0]["hook_to_durable"] if mine else {}
        print(f"figures: server {args.live_server} hook → durable: {json.dumps(own)}", flush=True)
        check("GET /v1/status has the live server's own hook → durable p50/p99",
              own.get("events", 0) > 0 and 0 < own.get("p50_seconds", 0) <= own.get("p99_seconds", 0), json.dumps(own))
        shot(driver, "latency")

        # 4. Accounts: the hostile account's balance equals the API's; its markup stays text.
        driver.find_element(By.CSS_SELECTOR, 'nav .tab[data-view="accounts"]').click()
        Select(driver.find_element(By.ID, "account-server")).select_by_value(args.hostile_server)
        driver.find_element(By.ID, "account-login").send_keys(args.hostile_login)
        driver.find_element(By.CSS_SELECTOR, "#account-form button[type=submit]").click()
        shown = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, 'dd[data-field="balance"]').text, 10)
        _, _, body = get(f"{args.url}/v1/accounts/{args.hostile_server}/{args.hostile_login}", token)
        account = json.loads(body)
        check("the account's balance on the page equals the API's", shown == account["balance"],
              f"page {shown!r}, API {account['balance']!r}")
        name = driver.find_element(By.CSS_SELECTOR, 'dd[data-field="name"]').text
        check("a name with <img onerror> from the trade server is shown as text", name == account["name"]
              and "<img" in name, f"{name!r} vs {account['name']!r}")
        comments = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#account-operations tbody td:last-child")]
        check("a comment with <script> from the trade server is shown as text",
              "<script>alert(1)</script>" in comments, json.dumps(comments))
        made = driver.execute_script(
            "return document.querySelectorAll('main img, main script, #view-accounts [onerror]').length")
        check("no element was made from trade-server text", made == 0, f"{made} elements")
        shot(driver, "accounts")

        # 5. Changes: the live tail fills, and the server filter keeps only that server.
        driver.find_element(By.CSS_SELECTOR, 'nav .tab[data-view="changes"]').click()
        wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#changes tbody tr")) >= 20, 10)
        before = len(driver.find_elements(By.CSS_SELECTOR, "#changes tbody tr"))
        Select(driver.find_element(By.ID, "filter-server")).select_by_value(args.live_server)
        # One read of the table in the page (rows come and go while the tail runs).
        visible = driver.execute_script(
            "return Array.from(document.querySelectorAll('#changes tbody tr'))"
            ".filter(tr => !tr.hidden).map(tr => tr.dataset.serverId)")
        check("the changes tail fills from the stream", before >= 20, f"{before} rows")
        check("the server filter shows only that server's changes",
              len(visible) > 0 and set(visible) == {args.live_server}, json.dumps(sorted(set(visible))))
        shot(driver, "changes")
        Select(driver.find_element(By.ID, "filter-server")).select_by_value("")

        # 5b. Gateways: the gateway's row shows what its execution-quality route answers.
        driver.find_element(By.CSS_SELECTOR, 'nav .tab[data-view="gateways"]').click()
        gateway_row = lambda: driver.execute_script(
            "const tr = document.querySelector('#gateways tbody tr[data-gateway-id=\"' + arguments[0] + '\"]');"
            "return tr ? Array.from(tr.cells).map(td => td.textContent) : null;", args.gateway)
        quality_url = f"{args.url}/v1/gateways/{args.gateway}/execution-quality"
        fmt = lambda v, digits: "—" if v is None else f"{v:.{digits}f}"

        def same_as_api():
            cells = gateway_row()
            quality = json.loads(get(quality_url, token)[2])
            expected = [str(quality["requests"]), fmt(None if quality["reject_rate"] is None else quality["reject_rate"] * 100, 1)
                        + ("" if quality["reject_rate"] is None else " %"),
                        fmt(quality["request_to_answer_ms"]["p50"], 1), fmt(quality["request_to_answer_ms"]["p99"], 1),
                        fmt(quality["answer_to_first_fill_ms"]["p50"], 1), fmt(quality["answer_to_first_fill_ms"]["p99"], 1),
                        fmt(quality["slippage_points"]["mean"], 2), fmt(quality["slippage_points"]["p99"], 2)]
            return (cells, expected) if cells and cells[4:12] == expected and quality["requests"] > 0 else None
        # The view re-reads every 5 s while the gateway's sim may still trade: wait for a read that matches.
        matched = wait_for(same_as_api, 15, 0.5)
        check(f"the gateways view shows gateway {args.gateway} with the API's execution quality",
              matched is not None, json.dumps([gateway_row(), json.loads(get(quality_url, token)[2])]))
        if matched:
            print(f"figures: gateway {args.gateway} on the page: {json.dumps(matched[0])}", flush=True)
        shot(driver, "gateways")

        # 6. The plugin's connection killed: the row turns red within the heartbeat timeout.
        driver.find_element(By.CSS_SELECTOR, 'nav .tab[data-view="servers"]').click()
        killed = time.monotonic()
        os.kill(args.live_pid, signal.SIGKILL)
        bound = 3 * args.heartbeat_seconds + 2.0  # the collector's silence limit, plus one status read
        red = wait_for(lambda: server_row(driver, args.live_server)["state"] == "red", bound, 0.05)
        seconds = time.monotonic() - killed
        check(f"the killed server's row turns red within {bound:.1f} s", red, "still " + json.dumps(server_row(driver, args.live_server)))
        shot(driver, "servers-disconnected")

        # 7. The browser console: no CSP violation, no error, nothing at all.
        logs = driver.get_log("browser")
        check("the browser console is empty", logs == [], json.dumps(logs))
        print(f"figures: console: live server seq {first} -> {second} in 2.5 s, rate {rate}/s, "
              f"red {seconds:.2f} s after kill -9 (bound {bound:.1f} s)")
    except Exception as error:  # a step that could not run is a failure, with the reason
        check("the console run", False, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
    finally:
        driver.quit()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

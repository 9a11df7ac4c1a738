# tests/test_dashboard_browser.py -- the dashboard in a real browser (Debian's chromium and
# chromium-driver, driven by python3-selenium, headless) against sluice in front of the real
# Galera cluster: the three node cards with their states and the writer badge, statements
# showing up in the live strip with the node that answered, a SIGKILLed node's card turning
# down, and a drain click with the admin credentials draining the node.  A screenshot of the
# page is saved as an artifact ($SLUICE_ARTIFACTS, default the test's tmp dir), not committed.
import base64
import json
import os
import shutil
import time
import urllib.request

import pymysql
import pytest

from sluice_proc import free_port

ADMIN, ADMIN_PW = "admin", "browser-admin-pw"

from selenium import webdriver  # python3-selenium (scripts/packages.txt)
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sluice_config import DB, HOST, PASSWORD, USER, USER_HASH


def _config(galera, port, stats_port, tmp_path) -> str:
    nodes = galera.nodes_yaml()
    (tmp_path / "monitor.pw").write_text("monitor_pw\n")
    (tmp_path / "admin.pw").write_text(ADMIN_PW + "\n")
    os.chmod(tmp_path / "admin.pw", 0o600)
    return f"""\
workers: 2
state_file: {tmp_path}/states
listeners:
  - {{ name: app, bind: "{HOST}:{port}", mode: mysql, cluster: galera }}
clusters:
  - name: galera
    type: galera
    monitor: {{ user: monitor, password_file: {tmp_path}/monitor.pw }}
    nodes:
{nodes}
users:
  - {{ name: {USER}, password_hash: "{USER_HASH}" }}
stats: {{ bind: "{HOST}:{stats_port}", admin_user: {ADMIN},
         admin_password_file: {tmp_path}/admin.pw, feed_rate: 200 }}
"""


@pytest.fixture
def browser():
    for tool in ("chromium", "chromedriver"):
        assert shutil.which(tool), f"{tool} is not installed (Debian: chromium chromium-driver)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1100"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = ChromeService(executable_path=shutil.which("chromedriver"))
    driver = webdriver.Chrome(service=service, options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def _status(base: str) -> dict:
    with urllib.request.urlopen(base + "/api/v1/status", timeout=10) as r:
        return json.loads(r.read())


def _api_state(base: str, name: str) -> str:
    return next(n for n in _status(base)["clusters"][0]["nodes"] if n["name"] == name)["state"]


def _card(driver, name: str):
    return driver.find_element(By.CSS_SELECTOR, f'.node-card[data-node="{name}"]')


def _card_state(driver, name: str) -> str:
    try:
        return _card(driver, name).find_element(By.CSS_SELECTOR, ".node-state").text.strip()
    except Exception:  # noqa: BLE001 -- the page re-renders: ask again
        return ""


def _wait_api(pred, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_dashboard_in_a_browser(galera, sluice, tmp_path, browser):
    port, stats_port = free_port(), free_port()
    s = sluice(_config(galera, port, stats_port, tmp_path))
    s.wait_log(r"writer is node1\b")
    base = f"http://{HOST}:{stats_port}"
    browser.get(base + "/")
    wait = WebDriverWait(browser, 15)

    # The three cards, their states, the writer badge.
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".node-card")) == 3)
    names = sorted(c.get_attribute("data-node")
                   for c in browser.find_elements(By.CSS_SELECTOR, ".node-card"))
    assert names == ["node1", "node2", "node3"]
    wait.until(lambda d: all(_card_state(d, n).lower() == "up" for n in names))
    badges = [c.get_attribute("data-node") for c in browser.find_elements(By.CSS_SELECTOR,
                                                                          ".node-card")
              if c.find_elements(By.CSS_SELECTOR, ".writer-badge")]
    assert badges == ["node1"], badges

    # Statements run through sluice show up in the live strip, with their node.
    conn = pymysql.connect(host=HOST, port=port, user=USER, password=PASSWORD, database=DB,
                           autocommit=True)
    try:
        with conn.cursor() as c:
            for _ in range(20):
                c.execute("SELECT @@wsrep_node_name")
    finally:
        conn.close()
    wait.until(lambda d: {e.get_attribute("data-node") for e in
                          d.find_elements(By.CSS_SELECTOR, "#live-strip .live-item")}
               >= {"node2", "node3"})
    shot = os.path.join(os.environ.get("SLUICE_ARTIFACTS", str(tmp_path)), "dashboard.png")
    browser.save_screenshot(shot)
    print(f"\nscreenshot: {shot}")

    # A SIGKILLed node: its card turns down once sluice says so (the page polls every second).
    galera.kill(2)
    try:
        _wait_api(lambda: _api_state(base, "node3") == "down", "node3 down in the status")
        WebDriverWait(browser, 2).until(lambda d: _card_state(d, "node3").lower() == "down")
    finally:
        galera.restart(2)
    _wait_api(lambda: _api_state(base, "node3") == "up", "node3 back", 60)

    # Drain node2 with a click and the admin credentials.
    wait.until(lambda d: _card_state(d, "node2").lower() == "up")
    _card(browser, "node2").find_element(By.CSS_SELECTOR, ".btn-drain").click()
    wait.until(lambda d: d.find_element(By.ID, "admin-user").is_displayed())
    browser.find_element(By.ID, "admin-user").send_keys(ADMIN)
    browser.find_element(By.ID, "admin-password").send_keys(ADMIN_PW)
    browser.find_element(By.ID, "admin-submit").click()
    _wait_api(lambda: _api_state(base, "node2") == "drain", "node2 drained by the click", 10)
    wait.until(lambda d: _card_state(d, "node2").lower() == "drain")
    # Back to ready, through the API, so later tests find it serving.
    req = urllib.request.Request(base + "/api/v1/clusters/galera/nodes/node2/state",
                                 data=b'{"state": "ready"}', method="POST")
    req.add_header("Authorization",
                   "Basic " + base64.b64encode(f"{ADMIN}:{ADMIN_PW}".encode()).decode())
    urllib.request.urlopen(req, timeout=10).read()
    _wait_api(lambda: _api_state(base, "node2") == "up", "node2 ready again")

    severe = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"
              and "favicon" not in e.get("message", "")]
    assert not severe, severe

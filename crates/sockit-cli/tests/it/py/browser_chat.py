"""Two headless Chromium pages and an nc.openbsd line client in one sockit chat room.

argv: SOCKIT_BIN SCREENSHOT_DIR. Starts the room itself (to restart it later on the same
port), drives the pages with Selenium and Debian's chromedriver, and prints one JSON object of
what each step saw. Every wait is bounded. Selenium must never reach the internet (fetch a
driver, send statistics): the script refuses to run unless SE_OFFLINE and SE_AVOID_STATS are
set, and drives only the chromedriver named below.
"""
import json, os, subprocess, sys, tempfile, time

for var in ("SE_OFFLINE", "SE_AVOID_STATS"):
    if os.environ.get(var) != "true":
        sys.exit(f"{var}=true must be set: Selenium may not go online")

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

SOCKIT, SHOTS = sys.argv[1], sys.argv[2]
out = {}


def start_room(port=0):
    p = subprocess.Popen(
        [SOCKIT, "chat", "serve", "--port", str(port), "--bind", "127.0.0.1", "--no-discovery", "--name", "classroom"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    first = p.stderr.readline().decode()
    return p, int(first.split(" (tcp)")[0].rsplit(":", 1)[1])


def browser(extra=()):
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in [*extra, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
              "--disable-default-apps", f"--user-data-dir={tempfile.mkdtemp()}", "--window-size=1280,800"]:
        o.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def wait(d, cond, secs=15):
    try:
        return WebDriverWait(d, secs, poll_frequency=0.1).until(lambda _: cond())
    except TimeoutException:
        return None


def texts(d, css):
    # Read in one script: the page redraws its lists, and elements found one call earlier
    # may be gone by the next (a stale element).
    return d.execute_script("return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText)", css)


def log_lines(d):
    return texts(d, "#log li")


def members(d):
    return texts(d, "#members li")


def join(d, url, nick):
    d.get(url)
    box = d.find_element(By.ID, "nick")
    box.clear()
    box.send_keys(nick, Keys.ENTER)


def say(d, text):
    d.find_element(By.ID, "text").send_keys(text, Keys.ENTER)


room, port = start_room()
url = f"http://127.0.0.1:{port}/"
a = b = None
carl = None
try:
    a, b = browser(), browser()
    join(a, url, "ann")
    join(b, url, "ben")
    carl = subprocess.Popen(["nc.openbsd", "127.0.0.1", str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    os.set_blocking(carl.stdout.fileno(), False)

    def carl_says(line):
        carl.stdin.write(line.encode() + b"\n")
        carl.stdin.flush()

    carl_says("/nick carl")
    out["members"] = wait(a, lambda: sorted(members(a)) if sorted(members(a)) == ["ann", "ben", "carl"] else None)
    out["title"] = a.title
    say(a, "hello from ann")
    out["ben_sees"] = wait(b, lambda: next((l for l in log_lines(b) if "hello from ann" in l), None))
    out["ann_own_marked"] = bool(a.find_elements(By.CSS_SELECTOR, "#log li.mine"))
    got, end = b"", time.time() + 10
    while b"<ann> hello from ann" not in got and time.time() < end:
        got += carl.stdout.read() or b""
        time.sleep(0.05)
    out["carl_hears"] = "<ann> hello from ann" in got.decode()
    xss = "<img src=x onerror=alert(1)>"
    carl_says(xss)
    out["xss_shown"] = wait(a, lambda: next((l for l in log_lines(a) if xss in l), None))
    out["xss_img_elements"] = len(a.find_elements(By.CSS_SELECTOR, "#log img"))
    try:
        a.switch_to.alert
        out["xss_alert"] = True
    except NoAlertPresentException:
        out["xss_alert"] = False
    say(b, "/nick benny")
    out["renamed"] = wait(a, lambda: "benny" in members(a) and "ben" not in members(a))
    say(b, "/who")
    out["who_shown"] = wait(b, lambda: next((l for l in log_lines(b) if l.startswith("online (3)")), None))
    say(b, "/me waves")
    out["action"] = wait(a, lambda: next((l for l in log_lines(a) if "waves" in l), None))
    os.makedirs(SHOTS, exist_ok=True)
    a.save_screenshot(os.path.join(SHOTS, "chat-desktop.png"))
    a.set_window_size(390, 844)
    time.sleep(0.3)
    a.save_screenshot(os.path.join(SHOTS, "chat-phone.png"))
    a.set_window_size(1280, 800)
    # The server goes away and comes back on the same port: the page says so and rejoins.
    room.terminate()
    room.wait(timeout=10)
    out["reconnecting"] = wait(a, lambda: "reconnecting" in a.find_element(By.ID, "status").text, 15)
    room, _ = start_room(port)
    out["back"] = wait(a, lambda: a.find_element(By.ID, "status").text == "connected" and "ann" in members(a), 30)
    # The nick is remembered.
    a.get(url)
    out["nick_remembered"] = a.find_element(By.ID, "nick").get_attribute("value")
    # DNS rebinding: a name of someone else's that resolves to the room (Chromium is told
    # evil.test is 127.0.0.1) gets neither the page nor a seat.
    c = browser(["--host-resolver-rules=MAP evil.test 127.0.0.1"])
    try:
        c.get(f"http://evil.test:{port}/")
        out["rebound_page"] = c.find_element(By.TAG_NAME, "body").text
        out["rebound_joined"] = bool(c.find_elements(By.ID, "nick"))
    finally:
        c.quit()
finally:
    for d in (a, b):
        if d is not None:
            d.quit()
    if carl is not None:
        carl.kill()
    room.terminate()
    room.wait(timeout=10)
    print(json.dumps(out))

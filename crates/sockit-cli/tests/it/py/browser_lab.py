"""The lab's diagram in headless Chromium, as `sockit lab tcp --web` serves it for a projector.

argv: SOCKIT_BIN SCREENSHOT_DIR. Starts the lab's server on 127.0.0.1 (a free port), opens
/lab with Selenium and Debian's chromedriver, and prints one JSON object of what the page
showed. Every wait is bounded; Selenium must never go online (SE_OFFLINE, SE_AVOID_STATS).
"""
import json, os, subprocess, sys, tempfile, time

for var in ("SE_OFFLINE", "SE_AVOID_STATS"):
    if os.environ.get(var) != "true":
        sys.exit(f"{var}=true must be set: Selenium may not go online")

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

SOCKIT, SHOTS = sys.argv[1], sys.argv[2]
lab = subprocess.Popen([SOCKIT, "lab", "tcp", "--web", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
url = None
deadline = time.time() + 30
while url is None and time.time() < deadline:
    line = lab.stderr.readline().decode()
    if not line:
        break
    if "the lab's diagram: " in line:
        url = line.split("the lab's diagram: ", 1)[1].strip()
if url is None:
    lab.kill()
    sys.exit("the lab never said where its diagram is")

o = webdriver.ChromeOptions()
o.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
          "--disable-default-apps", f"--user-data-dir={tempfile.mkdtemp()}", "--window-size=1280,900"]:
    o.add_argument(a)
o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
d.set_page_load_timeout(20)
out = {"url": url}
try:
    d.get(url)
    out["title"] = d.title
    out["steps"] = d.execute_script("""
        return Array.from(document.querySelectorAll('section.step'), s => ({
            heading: s.querySelector('h2').innerText,
            labels: Array.from(s.querySelectorAll('svg text.label'), t => t.textContent),
            arrows: s.querySelectorAll('svg line.frame').length,
        }));""")
    out["font"] = d.execute_script("return getComputedStyle(document.body).fontFamily")
    out["severe"] = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]
    os.makedirs(SHOTS, exist_ok=True)
    d.save_screenshot(os.path.join(SHOTS, "lab.png"))
finally:
    d.quit()
    lab.terminate()
    try:
        lab.wait(10)
    except subprocess.TimeoutExpired:
        lab.kill()
print(json.dumps(out))

"""The console in real Chromium (headless, Debian's chromium + chromedriver, Selenium): log in, see a
decision arrive live on the dashboard, add a person, enroll them by upload with consent, register a
visitor, export the day's attendance as CSV and XLSX and check the rows; no console error (a CSP violation would be one).
Screenshots at desktop and phone width (KIOSK_SCREENSHOT_DIR keeps them)."""
from __future__ import annotations

import csv
import io
import os
import shutil
import time
import uuid
from pathlib import Path

import openpyxl
import pytest
from admin_support import PASSWORDS, admin_console
from web_support import WAIT_S, LiveServer, web_config, welcome

from kiosk.web.admin.dashboard import device_time

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SCREENSHOTS = os.environ.get("KIOSK_SCREENSHOT_DIR")
DESKTOP, PHONE = (1280, 900), (390, 844)


def _chromium(downloads: Path):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium and chromedriver not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


def _size(driver, width: int, height: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def _save(driver, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    driver.save_screenshot(str(path))
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SCREENSHOTS) / name)


def _download(folder: Path, suffix: str) -> Path:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        done = [p for p in folder.glob(f"*{suffix}")]
        if done and not list(folder.glob("*.crdownload")):
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} download in {folder}: {list(folder.iterdir())}")


@pytest.mark.slow
def test_log_in_enroll_by_upload_and_export_attendance_in_chromium(tmp_path: Path, models_dir: Path,
                                                                   sim_dir: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from kiosk.config import parse_config
    from kiosk.face.pipeline import FacePipeline

    pipeline = FacePipeline(parse_config({}).face, models_dir)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with admin_console(tmp_path, pipeline) as admin, \
            LiveServer(web_config(), console=admin.console) as server:
        url = server.url.rstrip("/")
        driver = _chromium(downloads)
        wait = WebDriverWait(driver, WAIT_S)
        try:
            driver.get(f"{url}/admin/people")
            assert "/admin/login" in driver.current_url
            _size(driver, *PHONE)
            _save(driver, tmp_path, "admin-login-phone.png")
            _size(driver, *DESKTOP)
            driver.find_element(By.ID, "name").send_keys("hana")
            driver.find_element(By.ID, "password").send_keys(PASSWORDS["hana"])
            driver.find_element(By.ID, "login").click()
            wait.until(lambda d: d.current_url.endswith("/admin/people"))

            # add a person, then enroll them: the notice and the consent first, then the upload
            driver.find_element(By.ID, "add-person").click()
            driver.find_element(By.NAME, "employee_no").send_keys("E1001")
            driver.find_element(By.NAME, "name").send_keys("José Álvarez")
            driver.find_element(By.ID, "add").click()
            wait.until(lambda d: "Added." in d.page_source)
            driver.find_element(By.ID, "enroll").click()
            wait.until(lambda d: d.find_elements(By.ID, "notice"))
            assert "privacy notice (version v1)" in driver.find_element(By.ID, "notice").text
            assert not driver.find_elements(By.ID, "photos"), "no file input before the consent"
            driver.find_element(By.ID, "agreed").click()
            driver.find_element(By.ID, "record-consent").click()
            wait.until(lambda d: d.find_elements(By.ID, "photos"))
            driver.find_element(By.ID, "photos").send_keys(str(sim_dir / "obama_enroll.jpg"))
            driver.find_element(By.ID, "upload").click()
            wait.until(lambda d: d.find_elements(By.ID, "enrolled"))
            person = admin.store.person("E1001")
            assert admin.store.templates(person.person_id) and admin.store.consent(person.person_id) is not None

            # the dashboard: a decision pushed by the kiosk screen shows up live
            driver.get(f"{url}/admin")
            wait.until(lambda d: server.call(lambda: server.web.screen.clients) >= 1)
            server.call(server.web.screen.show, welcome("José Álvarez"))
            wait.until(lambda d: "Welcome, José Álvarez" in d.find_element(By.ID, "live").text)
            _save(driver, tmp_path, "admin-dashboard.png")
            _size(driver, *PHONE)
            _save(driver, tmp_path, "admin-dashboard-phone.png")
            _size(driver, *DESKTOP)

            # a visitor, pre-registered with host, purpose and window
            driver.get(f"{url}/admin/visitors/new")
            driver.find_element(By.ID, "visitor-name").send_keys("Vera Visitor")
            driver.find_element(By.ID, "host").send_keys("Ann Example")
            driver.find_element(By.ID, "purpose").send_keys("audit meeting")
            driver.find_element(By.ID, "valid-to").send_keys("2099-12-31")
            driver.find_element(By.ID, "register-visitor").click()
            driver.get(f"{url}/admin/visitors")
            wait.until(lambda d: "Vera Visitor" in d.find_element(By.ID, "visitors").text)
            [visitor] = admin.store.persons(role="visitor")
            assert visitor.name == "Vera Visitor" and visitor.valid_to is not None

            # the day's attendance, then both exports
            now = device_time(admin.config.device.timezone)
            for direction in ("in", "out"):
                admin.store.record_event({
                    "type": "attendance", "event_id": uuid.uuid4().hex, "device_id": "door-1",
                    "device_time": now.isoformat(timespec="milliseconds"), "attendance": {"direction": direction},
                    "person": {"person_id": person.person_id, "employee_no": "E1001", "name": "José Álvarez"}})
            driver.get(f"{url}/admin/attendance")
            wait.until(lambda d: "José Álvarez" in d.find_element(By.ID, "attendance").text)
            _save(driver, tmp_path, "admin-attendance.png")
            driver.find_element(By.ID, "export-csv").click()
            rows = list(csv.DictReader(io.StringIO(_download(downloads, ".csv").read_text(encoding="utf-8"))))
            assert [(r["employee_no"], r["name"]) for r in rows] == [("E1001", "José Álvarez")]
            assert rows[0]["first_in"] and rows[0]["last_out"]
            driver.find_element(By.ID, "export-xlsx").click()
            sheet = openpyxl.load_workbook(_download(downloads, ".xlsx")).active
            assert [c.value for c in sheet[2]][1:3] == ["E1001", "José Álvarez"]
            problems = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert problems == [], problems
            assert len([r for r in admin.audit("export") if r["actor"] == "web:hana"]) == 2
        finally:
            driver.quit()

"""The operator console in a real browser (Debian's Chromium driven by Playwright).

Production server (gunicorn + uvicorn worker) and a real Celery worker on the test
database: log in through the admin form, run an agent's tool from the admin action,
and watch the task reach 'completed' on the dashboard page without reloading it.
Screenshots go to test-output/.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.management import call_command

from agents_app.models import Agent, AgentTask, TaskStatus
from devskyy.core.accounts import operator_create
from tests.support.servers import ROOT, celery_worker, gunicorn

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = ROOT / "test-output"
PASSWORD = "operator-browser-test-pw-7391"


def _chromium() -> str:
    path = shutil.which(CHROMIUM) or ""
    if not path:
        message = f"{CHROMIUM} is not installed (apt-get install -y chromium; .ci/run does it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)  # CI must run the browser tests, never skip them
        pytest.skip(message)
    return path


@pytest.fixture
def browser_env(server_env: dict[str, str]) -> dict[str, str]:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery", "unacked", "unacked_index", "unacked_mutex")  # nothing left from earlier runs
    return {**server_env, "SECRET_KEY": settings.SECRET_KEY, "METRICS_FEED_INTERVAL_SECONDS": "1"}


def test_operator_runs_a_tool_from_the_admin_and_watches_it_complete_on_the_dashboard(
    browser_env: dict[str, str],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    executable = _chromium()
    # All database work happens before the browser starts: Playwright's sync API runs
    # an event loop in this thread, where Django refuses synchronous ORM calls.
    call_command("seed_agents", stdout=io.StringIO())
    call_command("seed_demo_shop", stdout=io.StringIO())
    operator_create(username="ops", password=PASSWORD)
    agent_pk = Agent.objects.get(slug="commerce-001").pk
    OUTPUT.mkdir(exist_ok=True)
    admin_shot, dashboard_shot = OUTPUT / "admin-run-tool.png", OUTPUT / "dashboard.png"
    admin = "/" + settings.ADMIN_URL

    with gunicorn(browser_env, workers=1) as server, celery_worker(browser_env), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            context.set_default_timeout(20_000)
            page = context.new_page()

            # Log in through the admin's own form.
            page.goto(server.url + admin)
            assert "/login/" in page.url
            page.fill("#id_username", "ops")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            expect(page.locator("#live-dashboard-link")).to_be_visible()

            # The dashboard, opened from the admin index, live before the task exists.
            with context.expect_page() as opened:
                page.evaluate("document.getElementById('live-dashboard-link').target = '_blank'")
                page.click("#live-dashboard-link")
            dashboard = opened.value
            for channel in ("agents", "tasks", "metrics"):
                expect(dashboard.locator(f"#conn-{channel}")).to_have_text(f"{channel}: live")
            expect(dashboard.locator('#agents tr[data-agent="commerce-001"]')).to_be_visible()

            # Run a tool from the admin: select the agent, choose the action, fill the form.
            page.goto(f"{server.url}{admin}agents_app/agent/?q=commerce-001")
            page.check(f'input.action-select[value="{agent_pk}"]')
            page.select_option("select[name=action]", "run_tool")
            page.click("button[name=index]")
            expect(page.locator("#run-tool-form")).to_be_visible()
            page.select_option("#id_tool", "low_stock_report")
            page.fill("#id_parameters", '{"threshold": 5}')
            page.click("#run-tool-submit")
            link = page.locator("a[data-task-link]")
            expect(link).to_be_visible()
            task_id = link.get_attribute("data-task-link") or ""
            assert re.fullmatch(r"[0-9a-f-]{36}", task_id)
            page.screenshot(path=str(admin_shot), full_page=True)

            # The dashboard was never reloaded: the task's events arrive over the socket.
            row = dashboard.locator(f'#tasks tr[data-task="{task_id}"]')
            expect(row).to_have_attribute("data-status", "completed", timeout=60_000)
            expect(row).to_contain_text("low_stock_report")
            expect(dashboard.locator(f'#events li[data-task="{task_id}"]').first).to_be_visible()
            # Agent stats are reloaded from the API once the task has finished.
            expect(dashboard.locator('#agents tr[data-agent="commerce-001"]')).to_have_attribute("data-completed", "1")
            # Request figures from metrics_update (the publisher needs two readings).
            expect(dashboard.locator("#kpi-rate")).to_have_text(re.compile(r"^\d+\.\d\d$"), timeout=15_000)
            expect(dashboard.locator("#kpi-window")).to_contain_text("requests")
            expect(dashboard.locator('#services tr[data-service="database"]')).to_contain_text("ok")
            dashboard.screenshot(path=str(dashboard_shot), full_page=True)
        finally:
            browser.close()

    task = AgentTask.objects.get(pk=task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.requested_by is not None
    assert task.requested_by.get_username() == "ops"
    for shot in (admin_shot, dashboard_shot):
        assert Path(shot).stat().st_size > 10_000

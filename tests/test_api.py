"""The service surface on a real broker: HTTP API, alerts and the live dashboard.

One worker (module scope) with the sample feed loaded serves every test here; the tests that add
data run last and only add.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from agents.feeds import feed_messages, make_consumer
from agents.settings import Settings
from stream.models import Alert, StoryUpdate
from tests.conftest import fresh_env
from tests.factories import ARTICLES_IN_SAMPLE, SAMPLE
from tests.harness import collect_updates, running_worker, send

pytestmark = pytest.mark.kafka


class Api:
    """A tiny HTTP client for one worker (no redirects followed, so 301s are visible)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def get(self, path: str, **params: Any) -> tuple[int, dict[str, str], Any]:
        if params:
            path = f"{path}?{urlencode(params)}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            raw = response.read()
            headers = {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()
        body: Any = raw.decode()
        if headers.get("content-type", "").startswith("application/json"):
            body = json.loads(raw)
        return response.status, headers, body


@pytest.fixture(scope="module")
def service(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Api]]:
    env = fresh_env(kafka_bootstrap, tmp_path_factory.mktemp("api") / "state")
    env["STORYSTREAM_BREAKING_MINUTES"] = "120"
    with running_worker(env) as settings:
        send(settings, feed_messages(str(SAMPLE)))
        collect_updates(
            settings,
            lambda s: sum(len(u.article_ids) for u in s.values()) >= ARTICLES_IN_SAMPLE,
        )
        api = Api(settings.web_port)
        _wait_for(lambda: api.get("/stories")[2]["total"] == 4, "view never showed 4 stories")
        yield settings, api


def _wait_for(check: Any, message: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, KeyError):
            pass
        time.sleep(0.3)
    raise AssertionError(message)


def _story_with(api: Api, article_id: str) -> dict[str, Any]:
    items = api.get("/stories", limit=200)[2]["items"]
    for item in items:
        status, _, story = api.get(f"/stories/{item['story_id']}")
        if article_id in story["article_ids"]:
            return story
    raise AssertionError(f"no story holds {article_id}")


def test_listing_shows_every_sample_story_with_its_summary(service):
    _, api = service
    status, headers, page = api.get("/stories")
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert page["total"] == 4 and len(page["items"]) == 4
    assert sum(item["article_count"] for item in page["items"]) == ARTICLES_IN_SAMPLE
    for item in page["items"]:
        assert item["headline"] and item["summary"] and item["versions"] >= 1
        assert all(set(s["sources"]) <= set(item["sources"]) for s in item["summary"])
    updated = [item["updated_at"] for item in page["items"]]
    assert updated == sorted(updated, reverse=True)


def test_listing_filters_and_pages(service):
    _, api = service
    biggest = api.get("/stories", order="size")[2]["items"]
    assert biggest[0]["article_count"] == max(i["article_count"] for i in biggest)
    five = api.get("/stories", min_sources=5)[2]
    assert five["total"] == 1 and len(five["items"][0]["sources"]) == 5
    valley = api.get("/stories", source="Valley Courier")[2]["items"]
    assert valley and all("Valley Courier" in i["sources"] for i in valley)
    quake = api.get("/stories", q="earthquake")[2]["items"]
    assert len(quake) == 1 and "quake" in json.dumps(quake[0]).lower()
    assert api.get("/stories", q="zeppelin")[2]["total"] == 0
    window = api.get("/stories", since="2026-11-22T00:00:00Z")[2]["items"]
    assert [i["last_event"] >= "2026-11-22" for i in window] == [True] * len(window)
    assert 1 <= len(window) < 4
    first, second = api.get("/stories", limit=1)[2], api.get("/stories", limit=1, offset=1)[2]
    assert first["total"] == second["total"] == 4
    assert first["items"][0]["story_id"] != second["items"][0]["story_id"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "lots"},
        {"min_sources": "-2"},
        {"order": "random"},
        {"since": "yesterday"},
        {"since": "2026-11-16T10:00:00"},
        {"colour": "red"},
    ],
)
def test_bad_query_parameters_get_400_with_the_reason(service, params):
    _, api = service
    status, _, body = api.get("/stories", **params)
    assert status == 400
    assert body["error"] == "bad query parameters" and body["problems"][0]["problem"]


def test_story_is_served_sentence_by_sentence_with_sources(service):
    _, api = service
    story = _story_with(api, "coast-strike-1")
    update = StoryUpdate.model_validate(story)
    assert set(update.sources) == {
        "Northwire",
        "Coastal Herald",
        "Capital Times",
        "Metro Daily",
        "Valley Courier",
    }
    assert len(update.duplicates) == 2
    for sentence in update.sentences:
        assert sentence.sources and set(sentence.article_ids) <= set(update.article_ids)
    assert api.get("/stories/s-does-not-exist")[0] == 404
    assert api.get("/stories/s-does-not-exist/history")[0] == 404


def test_history_lists_every_version_with_changes(service):
    _, api = service
    story = _story_with(api, "coast-strike-1")
    status, _, history = api.get(f"/stories/{quote(story['story_id'])}/history")
    assert status == 200
    versions = history["versions"]
    assert [v["version"] for v in versions] == list(range(1, story["version"] + 1))
    assert versions[0]["headline_changed"] and versions[0]["added_sentences"]
    assert versions[-1]["sentences"] == [s["text"] for s in story["sentences"]]
    assert sum(v["new_articles"] for v in versions) == len(story["article_ids"])


def test_health_readiness_and_metrics(service):
    _, api = service
    assert api.get("/healthz")[0] == 200
    _wait_for(lambda: api.get("/readyz")[0] == 200, "worker never became ready")
    ready = api.get("/readyz")[2]
    assert ready["checks"] == {
        "broker_reachable": True,
        "agents_running": True,
        "view_caught_up": True,
        "lag_acceptable": True,
    }
    status, headers, text = api.get("/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    metrics = _parse_metrics(text)
    assert metrics['storystream_articles_total{agent="prepare",direction="in"}'] >= 20
    assert sum(v for k, v in metrics.items() if k.startswith("storystream_dead_letters_total")) == 5
    # Two wire copies of the strike story, and the marathon's ninjs item copying the Herald's.
    assert metrics['storystream_dedup_outcomes_total{outcome="duplicate_of"}'] == 3
    assert metrics['storystream_dedup_outcomes_total{outcome="unique"}'] == ARTICLES_IN_SAMPLE - 3
    assert metrics['storystream_dedup_outcomes_total{outcome="replay"}'] == 1  # the retry
    assert metrics["storystream_stories_active"] == 4
    assert metrics["storystream_update_delay_seconds_count"] >= ARTICLES_IN_SAMPLE
    assert metrics["storystream_summary_render_seconds_count"] >= 4
    assert any(k.startswith("storystream_consumer_lag{") for k in metrics)
    for agent in ("prepare", "cluster", "summarise"):
        assert metrics[f'storystream_batch_messages_count{{agent="{agent}"}}'] >= 1
        assert metrics[f'storystream_batch_wait_seconds_count{{agent="{agent}"}}'] >= 1
    # Every accepted article reached clustering in some batch (the retry's redelivery too).
    clustered = metrics['storystream_batch_messages_sum{agent="cluster"}']
    assert clustered >= metrics['storystream_articles_total{agent="prepare",direction="out"}']
    assert api.get("/openapi.json")[2]["openapi"] == "3.1.0"


def _parse_metrics(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_breaking_alert_fires_once_on_the_alerts_topic(service):
    settings, _ = service
    # Strike coverage: Northwire 09:05, Coastal Herald 10:40, Metro Daily 11:00, i.e. three
    # outlets within 115 min (the rule here: 3 within 120). No other sample story qualifies.
    consumer = make_consumer(settings.bootstrap_servers, settings.topics["alerts"])
    alerts: list[Alert] = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and not alerts:
            alerts.extend(Alert.model_validate_json(m.value) for m in consumer)
        time.sleep(2)
        alerts.extend(Alert.model_validate_json(m.value) for m in consumer)
    finally:
        consumer.close()
    seen = [(a.alert_id, a.story_id, a.version, a.reason) for a in alerts]
    # One breaking alert (a redelivered update may re-send the same alert_id, never a new one).
    breaking = {a.alert_id: a for a in alerts if a.rule == "breaking"}
    assert len(breaking) == 1, seen
    (fired,) = breaking.values()
    strike = _story_with(service[1], "coast-strike-1")["story_id"]
    assert fired.story_id == strike
    assert "within 115 min" in fired.reason
    # The day-two strike article comes 25.5 h after day one: when the worker makes it a version
    # of its own (batching decides), that is new coverage after a quiet spell, and resumes it.
    assert all(a.rule == "resumed" and a.story_id == strike for a in alerts if a.rule != "breaking")
    assert "wire-strike-1" in _story_with(service[1], "wire-strike-1")["article_ids"]


NEW_STORY = {
    "id": "live-museum-1",
    "source": "Harbour Gazette",
    "title": "Glasshouse museum reopens after five-year restoration",
    "published_at": "2026-11-23T09:00:00Z",
    "body": (
        "The Glasshouse museum in Port Alder reopened on Monday after a five-year restoration "
        "that replaced its iron roof and 4,000 panes of glass, the city council said.\n\n"
        "Curator Ines Vall said the botanical collection had been kept alive in temporary "
        "greenhouses during the works, which cost 38 million crowns.\n\n"
        "About 2,000 visitors queued before the doors opened, and entry is free until Sunday."
    ),
}


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed (.ci/run installs them)"
        )
    return browser, driver


def test_dashboard_shows_stories_and_live_updates_without_reload(service, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings, api = service
    browser, driver_path = _chromium()
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download anything
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--window-size=1280,1500",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.get(f"http://127.0.0.1:{settings.web_port}/")
        wait = WebDriverWait(driver, 30)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#list .card")) == 4)
        wait.until(lambda d: d.find_element(By.ID, "status").text == "live")
        cards = driver.find_elements(By.CSS_SELECTOR, "#list .card")
        listed = {card.find_element(By.TAG_NAME, "h2").text for card in cards}
        assert listed == {i["headline"] for i in api.get("/stories")[2]["items"]}
        assert all(card.find_elements(By.CSS_SELECTOR, ".sources .badge") for card in cards)
        driver.execute_script("window.__sameDocument = true;")

        send(settings, [(NEW_STORY["id"].encode(), json.dumps(NEW_STORY).encode())])
        wait.until(lambda d: "Glasshouse museum reopens" in d.find_element(By.ID, "list").text)
        assert driver.execute_script("return window.__sameDocument === true;"), "page reloaded"
        assert len(driver.find_elements(By.CSS_SELECTOR, "#list .card")) == 5
        top = driver.find_elements(By.CSS_SELECTOR, "#list .card h2")[0].text
        assert "Glasshouse" in top  # the newest update is listed first
        shot = tmp_path / "dashboard.png"
        driver.save_screenshot(str(shot))
        if os.environ.get("STORYSTREAM_SCREENSHOT_DIR"):
            target = Path(os.environ["STORYSTREAM_SCREENSHOT_DIR"])
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, target / "dashboard.png")

        # The story page shows how the summary evolved.
        strike = _story_with(api, "coast-strike-1")
        driver.get(f"http://127.0.0.1:{settings.web_port}/#/story/{strike['story_id']}")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#story .version-entry"))
        versions = driver.find_elements(By.CSS_SELECTOR, "#story .version-entry")
        assert len(versions) == strike["version"]
        if os.environ.get("STORYSTREAM_SCREENSHOT_DIR"):
            driver.save_screenshot(
                str(Path(os.environ["STORYSTREAM_SCREENSHOT_DIR"]) / "story.png")
            )
    finally:
        driver.quit()


def test_any_worker_answers_for_every_story(run_env):
    """Two workers share the partitions; each one's API serves all stories and histories."""
    from agents.broker import free_port
    from agents.demo import start_worker, stop_worker

    with running_worker(run_env) as settings:
        second_env = {**run_env, "STORYSTREAM_WEB_PORT": str(free_port())}
        second = start_worker(settings, second_env)
        try:
            send(settings, feed_messages(str(SAMPLE)))
            collect_updates(
                settings,
                lambda s: sum(len(u.article_ids) for u in s.values()) >= ARTICLES_IN_SAMPLE,
            )
            apis = [Api(settings.web_port), Api(int(second_env["STORYSTREAM_WEB_PORT"]))]
            for api in apis:
                _wait_for(lambda api=api: api.get("/stories")[2]["total"] == 4, "view incomplete")
            listings = [
                {i["story_id"]: i["version"] for i in api.get("/stories")[2]["items"]}
                for api in apis
            ]
            assert listings[0] == listings[1]
            for story_id in listings[0]:
                first, second_answer = (api.get(f"/stories/{story_id}/history") for api in apis)
                assert first[0] == second_answer[0] == 200 and first[2] == second_answer[2]
        finally:
            stop_worker(second)

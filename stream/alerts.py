"""Alert rules over the stream of story versions: breaking stories and stories that come back.

Pure: :func:`evaluate` takes a story's alert state and its next version and returns the alerts
to publish, updating the state. The summarise agent keeps each story's :class:`AlertState` in
the story's state (:meth:`stream.story.StoryState.alerts_for`), in a changelog-backed table, so a
rule fires once per story even across restarts, and a redelivered version re-yields the very
alerts it fired the first time (same ``alert_id``), never new ones.

Times are event times (articles' publication times), not processing times: replaying a day of
news an hour later must fire the same alerts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from stream.models import Alert, StoryUpdate


class AlertRules(BaseModel):
    """Thresholds of the rules.

    ``breaking``: a new story carried by ``breaking_outlets`` distinct outlets within
    ``breaking_minutes`` of its first article. ``resumed``: a story with new coverage after
    ``resume_quiet_hours`` without any.
    """

    breaking_outlets: int = Field(default=3, ge=2)
    breaking_minutes: float = Field(default=60, gt=0)
    resume_quiet_hours: float = Field(default=6, gt=0)


class AlertState(BaseModel):
    """What the rules remember of one story."""

    story_id: str
    version: int = 0
    last_event: datetime | None = None
    fired: dict[str, Alert] = Field(default_factory=dict)


def evaluate(
    state: AlertState, update: StoryUpdate, rules: AlertRules, now: datetime
) -> list[Alert]:
    """Alerts fired by ``update``; a version already seen returns the alerts it fired then."""
    if update.version <= state.version:
        return [alert for alert in state.fired.values() if alert.version == update.version]
    fired: list[Alert] = []
    event_time = update.last_event or update.first_seen
    outlets = len(update.sources)
    if "breaking" not in state.fired and outlets >= rules.breaking_outlets:
        # When the N-th outlet joined: from per-outlet first times when the update has them (a
        # burst folded into one version would otherwise look slower than it was).
        firsts = sorted(update.source_times.values())
        reached = (
            firsts[rules.breaking_outlets - 1]
            if len(firsts) >= rules.breaking_outlets
            else event_time
        )
        elapsed = reached - update.first_seen
        if elapsed <= timedelta(minutes=rules.breaking_minutes):
            minutes = elapsed.total_seconds() / 60
            fired.append(
                _alert(
                    "breaking",
                    update,
                    event_time,
                    now,
                    f"{rules.breaking_outlets} outlets within {minutes:.0f} min of the first "
                    f"article, {outlets} now (rule: {rules.breaking_outlets} within "
                    f"{rules.breaking_minutes:g} min)",
                )
            )
    if "resumed" not in state.fired and state.last_event is not None:
        quiet = event_time - state.last_event
        if quiet >= timedelta(hours=rules.resume_quiet_hours):
            hours = quiet.total_seconds() / 3600
            fired.append(
                _alert(
                    "resumed",
                    update,
                    event_time,
                    now,
                    f"new coverage after {hours:.1f} h without any "
                    f"(rule: quiet for {rules.resume_quiet_hours:g} h)",
                )
            )
    for alert in fired:
        state.fired[alert.rule] = alert
    state.version = update.version
    state.last_event = max(state.last_event or event_time, event_time)
    return fired


def _alert(
    rule: Literal["breaking", "resumed"],
    update: StoryUpdate,
    event_time: datetime,
    now: datetime,
    why: str,
) -> Alert:
    return Alert(
        alert_id=f"{update.story_id}:{rule}",
        rule=rule,
        story_id=update.story_id,
        version=update.version,
        headline=update.headline,
        sources=list(update.sources),
        article_count=len(update.article_ids),
        reason=why,
        event_time=event_time,
        fired_at=now,
    )

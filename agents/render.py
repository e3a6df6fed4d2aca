"""Story updates rendered for people (the demo and ``storystream tail --pretty``)."""

from __future__ import annotations

import textwrap

from pydantic import ValidationError

from stream.models import StoryUpdate


def render_update(raw: str) -> str:
    """Format a StoryUpdate JSON message as a short readable block (other JSON passes through)."""
    try:
        update = StoryUpdate.model_validate_json(raw)
    except ValidationError:
        return raw
    lines = [
        f"== {update.story_id} v{update.version} | {len(update.article_ids)} articles | "
        f"{len(update.sources)} sources: {', '.join(update.sources)}",
        f"   {update.headline}",
    ]
    if update.merged_from:
        lines.append(f"   (absorbed {', '.join(update.merged_from)})")
    for sentence in update.sentences:
        marker = "+" if sentence.text in update.new_sentences else "-"
        body = textwrap.fill(
            f"{sentence.text} [{', '.join(sentence.sources)}]",
            width=100,
            initial_indent=f"   {marker} ",
            subsequent_indent="     ",
        )
        lines.append(body)
    return "\n".join(lines)

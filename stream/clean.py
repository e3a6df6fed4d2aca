"""Turn scraped article text into clean paragraphs: no HTML, no control bytes, no site chrome.

Scrapers leave navigation, newsletter prompts, photo credits, share bars and "page not found"
tails around the story. We drop them line by line with patterns that describe *kinds* of chrome
(not any one site's wording), plus shape rules: article prose is made of sentences, chrome is made
of short unpunctuated fragments.
"""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset(
    "p div br li h1 h2 h3 h4 h5 h6 blockquote section article header footer tr table ul ol "
    "figure figcaption pre hr".split()
)
_SKIP_TAGS = frozenset("script style noscript nav aside form button svg iframe template".split())
_HTML_HINT = re.compile(
    r"<\s*/?\s*(p|div|br|span|a|li|h[1-6]|html|body|strong|em|b|i)\b[^>]*>", re.I
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")

# Kinds of scraper chrome, matched against a whole line (case-insensitive).
_CHROME_LINE = re.compile(
    r"""^(
        (this\ )?(story|article)\ is\ (over|more\ than)\ \d+\ (years?|months?)\ old
      | skip\ to\ (main\ )?(content|navigation)
      | you\ are\ here\b.*
      | last\ updated?.*
      | (related|related\ (news|stories|articles|coverage|content))\b.*
      | (read\ more|more\ on\ this|see\ also)\b.*
      | (photo|image|picture|video)\s*(via|by|:|credit).*
      | (advertis(ing|ement)|sponsored(\ content)?|promoted)\W*
      | (share|share\ this|share\ on|share/save/bookmark|tweet|email|print|comments?)(\ ?[:|/].*)?
      | (follow|like)\ .{1,60}\ on\ (twitter|facebook|instagram|x|threads|bluesky).*
      | (find|watch)\ .{1,60}\ on\ (your\ )?tv.*
      | watch\ (the\ )?.{0,80}(documentary|video|live|here).*
      | (get|receive)\ (email|e-mail|news)\ (updates|alerts).*
      | (sign\ up|subscribe)\b.*
      | download\ (the|our)\ .{1,40}\ app.*
      | take\ .{1,40}\ (news\ )?everywhere.*
      | page\ not\ found.*
      | (the\ )?(content|page)\ you\ (requested|are\ looking\ for)
        \ (does\ not|doesn't|could\ not|cannot).*
      | (all\ rights\ reserved|copyright|\(c\)|©).*
      | (cookies?|we\ use\ cookies|accept\ cookies).*
      | click\ here\b.*
      | (listen\ to|play)\ (this\ )?(article|story).*
      | \d+\s*(min(ute)?s?|sec(ond)?s?)\ read
    )$""",
    re.I | re.X,
)
_NEWSLETTER_LINE = re.compile(r"^.{0,40}(daily|weekly)\ newsletter.*$", re.I)
"""The one kind of chrome that may start anywhere in its first 40 characters: apart from the
others, and tried only on a line that names a newsletter, it no longer makes every line scan
for it (it was two thirds of the chrome pattern's time on a line of prose: 1.98 -> 0.64 us)."""
# Credits and captions: "Jane Doe / Agency", "Name, AGENCY | caption", "(Agency with AFP)".
_CREDIT_LINE = re.compile(
    r"""^(
        [A-Z][\w.'-]+(\ [A-Z][\w.'-]+){0,3}\s*/\s*[A-Z][\w&.' -]{1,40}
      | [A-Z][\w.'-]+(\ [A-Z][\w.'-]+){0,3},\ [A-Z][\w&. -]{1,20}\s*\|.*
      | \(?[A-Z][\w.' ]{1,30}\ (with|and)\ [A-Z][\w,.' ]{1,40}\)?
      | (by|story\ by|reporting\ by|written\ by)\ [A-Z].{0,80}(?<![.!?"”])
    )$""",
    re.X,
)
_DATE_LINE = re.compile(
    r"""^[\W\d]*(
        (mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\ .{0,30}
      | \d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}.{0,20}
      | (jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?
        \ \d{1,2}(st|nd|rd|th)?,?\ ?\d{0,4}.{0,20}
      | \d{1,2}:\d{2}(:\d{2})?\s*(am|pm)?.{0,20}
    )$""",
    re.I | re.X,
)
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$|[\"”’]$")
_PAGE_END = re.compile(
    r"""^(page\ not\ found | (error\s*)?404 (\s*[-:–—|]?\s*(error | (page\s+)?not\s+found))? )
    (\s*[|–—:-]\s*[^.!?]{0,40})?  # a site name after a separator
    [\s.!]*$""",
    re.I | re.X,
)
"""A line that is only an error-page marker ("404 - Page not found"); not prose that starts
with the number ("404 people were evacuated": that cut a whole article)."""


class _TextExtractor(HTMLParser):
    """Collect text from HTML, breaking lines at block elements and skipping scripts and nav."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def looks_like_html(text: str) -> bool:
    """Say whether a body is HTML markup rather than plain text."""
    return len(_HTML_HINT.findall(text[:20000])) >= 1


def html_to_text(markup: str) -> str:
    """Convert HTML to plain text with one blank line between blocks."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def normalize_text(text: str) -> str:
    """Normalise unicode (NFKC), drop control characters, fold runs of spaces, keep newlines."""
    text = unicodedata.normalize("NFKC", html.unescape(text))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    if "\u1680" not in text:
        # The same lines through split and join in C: with the controls gone, every
        # whitespace character but U+1680 and the newline is one _SPACES folds (checked over
        # Unicode), and its substitution of every single space was 10 % of preparing an
        # article (py-spy).
        return "\n".join(" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def is_chrome(line: str) -> bool:
    """Say whether a line is scraper chrome (navigation, credits, prompts), not article prose."""
    stripped = line.strip(" •·-–—|*#>").rstrip(" .:!")
    if not stripped:
        return True
    return bool(
        _CHROME_LINE.match(stripped)
        or _CREDIT_LINE.match(stripped)
        or _DATE_LINE.match(stripped)
        # casefold, as the case-blind match compares (it takes "ſ" for "s", lower() does not)
        or ("newsletter" in stripped.casefold() and _NEWSLETTER_LINE.match(stripped))
    )


def is_prose(line: str) -> bool:
    """Say whether a line reads like article prose: long enough and ending like a sentence."""
    words = line.split()
    return len(words) >= 6 and bool(_TERMINAL.search(line)) or len(words) >= 25


def clean_paragraphs(text: str) -> list[str]:
    r"""Return the article's prose paragraphs, with HTML, chrome and repeated captions removed.

    Example:
        >>> clean_paragraphs("Skip to main content\\n\\nThe vote passed on Monday by ten votes.")
        ['The vote passed on Monday by ten votes.']
    """
    if looks_like_html(text):
        text = html_to_text(text)
    lines = normalize_text(text).split("\n")
    paragraphs: list[str] = []
    seen: set[str] = set()
    for line in lines:
        if _PAGE_END.match(line.strip()):
            break  # everything after a "page not found" marker is the error page
        if is_chrome(line) or not is_prose(line):
            continue
        key = line.casefold()
        if key in seen:  # captions and pull quotes repeated by the page layout
            continue
        seen.add(key)
        paragraphs.append(line)
    return paragraphs


def guess_title(text: str) -> str:
    """Pick a headline from raw text: the first short, unpunctuated line that is not chrome.

    Used for plain-text inputs (e.g. a folder of scraped ``.txt`` files) that carry no title field.
    """
    for raw in normalize_text(text).split("\n")[:40]:
        line = raw.strip()
        words = line.split()
        if not 3 <= len(words) <= 25 or is_chrome(line):
            continue
        if line.endswith((".", "!", "?")) and is_prose(line):
            return ""  # the text starts with prose: it has no headline line
        return line
    return ""


def strip_title(paragraphs: list[str], title: str) -> list[str]:
    """Drop a leading paragraph that only repeats the title."""
    if (
        paragraphs
        and title
        and paragraphs[0].casefold().strip(" .") == title.casefold().strip(" .")
    ):
        return paragraphs[1:]
    return paragraphs

// storystream dashboard: plain JS, no build step. Lists stories from /stories, follows
// /events (server-sent events) so new stories and versions appear without a reload, and shows a
// story's evolving summary from /stories/{id}/history.
"use strict";

const state = { stories: new Map(), view: "list", storyId: null };
const $ = (selector) => document.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data")) node.setAttribute(key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function ago(iso) {
  if (!iso) return "–";
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleString();
}

function count(n, word) { return `${n} ${word}${n === 1 ? "" : "s"}`; }

function stamp(iso) { return iso ? new Date(iso).toLocaleString() : "–"; }

function filters() {
  return { q: $("#q").value.trim(), min_sources: Number($("#min_sources").value), order: $("#order").value };
}

function matches(story, f) {
  if (story.sources.length < f.min_sources) return false;
  if (!f.q) return true;
  const text = [story.headline, ...story.summary.map((s) => s.text), ...story.sources].join(" ").toLowerCase();
  return f.q.toLowerCase().split(/\W+/).filter(Boolean).every((word) => text.includes(word));
}

function sorted(f) {
  const list = [...state.stories.values()].filter((s) => matches(s, f));
  if (f.order === "size") list.sort((a, b) => b.article_count - a.article_count || b.updated_at.localeCompare(a.updated_at));
  else list.sort((a, b) => b.updated_at.localeCompare(a.updated_at) || b.version - a.version);
  return list;
}

function card(story) {
  const summary = el("ul", { class: "summary" },
    story.summary.map((s) => el("li", {}, s.text, s.sources.map((src) => el("span", { class: "badge" }, src)))));
  const dots = el("div", { class: "timeline", title: `${story.versions} versions` },
    Array.from({ length: Math.min(story.versions, 40) }, () => el("span")));
  return el("article", { class: "card", dataStoryId: story.story_id },
    el("h2", {}, el("a", { href: `#/story/${encodeURIComponent(story.story_id)}` }, story.headline)),
    el("div", { class: "meta" },
      el("span", { class: "articles" }, count(story.article_count, "article")),
      el("span", {}, count(story.sources.length, "outlet")),
      story.copies ? el("span", {}, `${story.copies} ${story.copies === 1 ? "copy" : "copies"} folded`) : null,
      el("span", {}, `first seen ${stamp(story.first_seen)}`),
      el("span", { class: "updated" }, `updated ${ago(story.updated_at)}`),
      el("span", { class: "version" }, `v${story.version}`)),
    summary,
    el("div", { class: "sources" }, story.sources.map((src) => el("span", { class: "badge" }, src))),
    dots);
}

function renderList(fresh = new Set()) {
  const f = filters();
  const list = sorted(f);
  const root = $("#list");
  root.replaceChildren(...(list.length ? list.map((story) => {
    const node = card(story);
    if (fresh.has(story.story_id)) {
      node.classList.add("fresh");
      setTimeout(() => node.classList.remove("fresh"), 2500);
    }
    return node;
  }) : [el("p", { class: "empty" }, "No stories yet: waiting for coverage…")]));
  $("#count").textContent = `${list.length} stories`;
}

async function loadList() {
  const f = filters();
  const params = new URLSearchParams({ limit: "200", order: f.order, min_sources: String(f.min_sources) });
  if (f.q) params.set("q", f.q);
  const response = await fetch(`/stories?${params}`);
  if (!response.ok) return;
  const page = await response.json();
  for (const story of page.items) state.stories.set(story.story_id, story);
  renderList();
}

async function showStory(id) {
  const root = $("#story");
  const [storyResponse, historyResponse] = await Promise.all([
    fetch(`/stories/${encodeURIComponent(id)}`), fetch(`/stories/${encodeURIComponent(id)}/history`)]);
  if (!storyResponse.ok) {
    root.replaceChildren(el("p", { class: "empty" }, "This story is not (or no longer) here."));
    return;
  }
  const story = await storyResponse.json();
  const history = await historyResponse.json();
  const sentences = el("ul", { class: "summary" }, story.sentences.map((s) =>
    el("li", {}, s.text, s.sources.map((src) => el("span", { class: "badge" }, src)))));
  const versions = history.versions.slice().reverse().map((v) => el("div", { class: "version-entry", dataVersion: v.version },
    el("h3", {}, `v${v.version} · ${stamp(v.updated_at)} · ${v.article_count} articles`,
      v.new_sources.length ? ` · new: ${v.new_sources.join(", ")}` : "",
      v.headline_changed && v.version > 1 ? " · new headline" : ""),
    v.headline_changed ? el("div", {}, el("strong", {}, v.headline)) : null,
    el("ul", {},
      v.added_sentences.map((t) => el("li", { class: "add" }, t)),
      v.removed_sentences.map((t) => el("li", { class: "del" }, t)))));
  root.replaceChildren(el("article", { class: "card", dataStoryId: story.story_id },
    el("a", { class: "back", href: "#/" }, "← all stories"),
    el("h2", {}, story.headline),
    el("div", { class: "meta" },
      el("span", {}, count(story.article_ids.length, "article")), el("span", {}, count(story.sources.length, "outlet")),
      el("span", {}, `first seen ${stamp(story.first_seen)}`), el("span", {}, `updated ${ago(story.updated_at)}`),
      el("span", { class: "version" }, `v${story.version}`)),
    sentences,
    el("div", { class: "sources" }, story.sources.map((src) => el("span", { class: "badge" }, src)))),
    el("h2", {}, "How the summary evolved"), ...versions);
}

function route() {
  const match = location.hash.match(/^#\/story\/(.+)$/);
  state.view = match ? "story" : "list";
  state.storyId = match ? decodeURIComponent(match[1]) : null;
  $("#list").hidden = state.view !== "list";
  $("#story").hidden = state.view !== "story";
  if (state.view === "story") showStory(state.storyId);
  else renderList();
}

function connect() {
  const status = $("#status");
  const events = new EventSource("/events");
  events.onopen = () => { status.textContent = "live"; status.className = "status live"; loadList(); };
  events.onerror = () => { status.textContent = "reconnecting"; status.className = "status"; };
  events.addEventListener("update", (message) => {
    const { story, change } = JSON.parse(message.data);
    for (const gone of change.merged_from) state.stories.delete(gone);
    state.stories.set(story.story_id, story);
    if (state.view === "list") renderList(new Set([story.story_id]));
    else if (state.storyId === story.story_id) showStory(story.story_id);
  });
}

let pending;
$("#filters").addEventListener("input", () => { clearTimeout(pending); pending = setTimeout(() => { renderList(); loadList(); }, 200); });
$("#filters").addEventListener("submit", (event) => event.preventDefault());
window.addEventListener("hashchange", route);
setInterval(() => { if (state.view === "list") for (const node of document.querySelectorAll(".card .updated")) {
  const story = state.stories.get(node.closest(".card").dataset.storyId);
  if (story) node.textContent = `updated ${ago(story.updated_at)}`;
} }, 30000);
route();
loadList();
connect();

"""The lake-freshness page: one HTML document whose script draws what ``api/freshness`` returns.

Stable hooks for browser tests: ``#freshness`` holds one ``section.pipeline[data-table]`` per
pipeline; in it ``table.windows`` has one ``tr.window[data-window-start][data-window-end]``
per window whose ``td.status`` cell has the class ``status-complete``, ``status-waiting`` or
``status-failed`` (used nowhere else); ``.blocker``, ``table.stages tr[data-stage]``, ``table.hops``,
``a.link-flink``, ``a.link-grafana`` and ``svg.delay-chart`` (one ``circle.point`` per
complete window); ``.live-running`` while a pipeline's live evaluation has not answered (the
page then asks again on its own, 2 s later, then less often). ``#updated`` shows when the data
was generated, ``#error`` a page-wide error.
"""

from __future__ import annotations

__all__ = ["PAGE_HTML"]

PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Lake freshness</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1rem; color: #1a202c; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem 0; }
  h2 { font-size: 1.1rem; margin: 1.2rem 0 .3rem 0; }
  .meta { color: #4a5568; font-size: .85rem; }
  #error, .error { color: #c53030; }
  section.pipeline { border-top: 1px solid #cbd5e0; margin-top: 1rem; padding-top: .5rem; }
  .strip { display: flex; flex-wrap: wrap; gap: 2px; margin: .4rem 0; }
  .strip span { width: 12px; height: 12px; border-radius: 2px; display: inline-block; }
  .status-complete, .cell-complete, .current-complete, tr.stage-ok { background: #c6f6d5; }
  .status-waiting, .cell-waiting, .current-waiting, tr.stage-waiting { background: #fefcbf; }
  .status-failed, .cell-failed, .current-failed, tr.stage-failed { background: #fed7d7; }
  .running { outline: 2px solid #3182ce; }
  table { border-collapse: collapse; font-size: .85rem; margin: .3rem 0; }
  th, td { border: 1px solid #e2e8f0; padding: 2px 6px; text-align: left; vertical-align: top; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .blocker { font-family: ui-monospace, monospace; background: #fffaf0; padding: .3rem; }
  pre.report { background: #f7fafc; padding: .4rem; font-size: .8rem; overflow-x: auto; }
  details { margin: .3rem 0; }
  svg.delay-chart { border: 1px solid #e2e8f0; background: #fff; }
  svg.delay-chart circle.point { fill: #2b6cb0; }
  svg.delay-chart polyline { fill: none; stroke: #90cdf4; stroke-width: 1.5; }
  svg.delay-chart text { font-size: 10px; fill: #4a5568; }
</style>
</head>
<body>
<h1>Lake freshness</h1>
<div class="meta">Windows of <span id="window-length">?</span>, newest first; the first is the running one.
  Updated <span id="updated">never</span>. <button id="refresh" type="button">Refresh</button></div>
<div id="error"></div>
<div id="freshness"></div>
<script>
"use strict";
const base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
const api = base + "api/freshness";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.round(seconds), sign = s < 0 ? "-" : "", a = Math.abs(s);
  const h = Math.floor(a / 3600), m = Math.floor((a % 3600) / 60), r = a % 60;
  return sign + (h ? h + "h" : "") + (h || m ? m + "m" : "") + r + "s";
}

function shortTime(iso) { return iso ? iso.replace("T", " ").replace(":00Z", "Z") : ""; }

function chart(points) {
  const w = 560, h = 160, pad = 34;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "delay-chart");
  svg.setAttribute("width", w); svg.setAttribute("height", h);
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const ns = (tag, attrs, text) => {
    const n = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    svg.append(n); return n;
  };
  if (!points.length) { ns("text", {x: pad, y: h / 2}, "no complete window yet"); return svg; }
  const times = points.map(p => Date.parse(p.end)), delays = points.map(p => p.delay_seconds);
  const t0 = Math.min(...times), t1 = Math.max(...times), dmax = Math.max(1, ...delays);
  const x = t => pad + (t1 === t0 ? (w - 2 * pad) / 2 : (t - t0) / (t1 - t0) * (w - 2 * pad));
  const y = d => h - pad + 10 - (d / dmax) * (h - pad - 10);
  ns("line", {x1: pad, y1: y(0), x2: w - pad, y2: y(0), stroke: "#a0aec0"});
  ns("text", {x: 2, y: y(dmax) + 4}, duration(dmax));
  ns("text", {x: 2, y: y(0) + 4}, "0s");
  ns("text", {x: pad, y: h - 4}, shortTime(points[0].end));
  ns("text", {x: w - pad - 110, y: h - 4}, shortTime(points[points.length - 1].end));
  ns("polyline", {points: points.map((p, i) => `${x(times[i])},${y(delays[i])}`).join(" ")});
  points.forEach((p, i) => {
    const c = ns("circle", {class: "point", cx: x(times[i]), cy: y(delays[i]), r: 3,
                             "data-window-end": p.end, "data-delay-seconds": p.delay_seconds});
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = `${p.end}: ${duration(p.delay_seconds)}`; c.append(title);
  });
  return svg;
}

function stagesTable(live) {
  const t = el("table", {class: "stages"},
    el("tr", {}, el("th", {}, "stage"), el("th", {}, "name"), el("th", {}, "status"),
       el("th", {}, "watermark"), el("th", {}, "needs"), el("th", {}, "behind"),
       el("th", {}, "checkpoint"), el("th", {}, "report")));
  for (const s of live.stages) {
    const checkpoint = s.checkpoint_id === null ? "" :
      s.checkpoint_id + (s.needed_checkpoint_id !== null ? " (needs ≥ " + s.needed_checkpoint_id + ")" : "");
    t.append(el("tr", {"data-stage": s.stage, class: "stage-" + s.status},
      el("td", {}, s.stage), el("td", {}, s.name), el("td", {class: "stage-status"}, s.status),
      el("td", {}, shortTime(s.watermark)), el("td", {}, shortTime(s.needed)),
      el("td", {class: "num"}, duration(s.behind_seconds)), el("td", {class: "num"}, checkpoint),
      el("td", {}, s.line || "")));
  }
  return t;
}

function hopsTable(live) {
  const t = el("table", {class: "hops"}, el("tr", {}, el("th", {}, "hop"), el("th", {}, "lag")));
  for (const hop of live.hops) {
    const lag = "lag_seconds" in hop ? duration(hop.lag_seconds) :
      (hop.lag_checkpoints === null ? "" : hop.lag_checkpoints + " checkpoint(s)");
    const cells = [el("td", {}, hop.hop), el("td", {class: "num"}, lag || "unknown")];
    t.append(el("tr", {"data-hop": hop.hop}, ...cells));
  }
  return t;
}

function linkTo(cls, href, text) {
  return el("a", {class: cls, href: href, target: "_blank", rel: "noopener"}, text);
}

function liveBlock(s, live) {
  const verdict = live.verdict ? ": " + live.verdict : "";
  const age = duration(live.age_seconds);
  const at = live.evaluated_at ? " (at " + live.evaluated_at + ", " + age + " ago)" : "";
  const asked = "Live check of " + live.window.start + " .. " + live.window.end;
  s.append(el("div", {class: "meta live-window"}, asked + verdict + at));
  if (live.running) {
    const what = live.evaluated_at ? "A newer live evaluation is running; shown: the previous one."
                                   : "Live evaluation running; it fills in shortly.";
    s.append(el("div", {class: "meta live-running"}, what));
  }
  if (live.error) s.append(el("div", {class: "error live-error"}, live.error));
  if (live.blocker) s.append(el("div", {class: "blocker"}, live.blocker));
  for (const a of live.advice || []) s.append(el("div", {class: "advice meta"}, "! " + a));
  if (live.stages && live.stages.length) { s.append(stagesTable(live)); s.append(hopsTable(live)); }
  if (live.report) {
    s.append(el("details", {}, el("summary", {}, "report"), el("pre", {class: "report"}, live.report)));
  }
}

function why(w) {
  if (w.blocker) return w.blocker;
  const f = w.failed_task;
  if (f) return "task " + f.dag_id + "." + f.task_id + " failed (" + f.run_id + ")";
  if (w.status === "waiting") return w.running ? "running" : "no decision stored";
  return "";
}

function windowRow(w) {
  return el("tr", {class: "window" + (w.running ? " running" : ""), "data-window-start": w.window.start,
                   "data-window-end": w.window.end, "data-status": w.status, "data-source": w.source},
    el("td", {}, shortTime(w.window.start) + " .. " + shortTime(w.window.end)),
    el("td", {class: "status status-" + w.status}, w.status + (w.source === "live" ? " (live)" : "")),
    el("td", {class: "num delay"}, duration(w.delay_seconds)),
    el("td", {class: "snapshot"}, (w.snapshot_id || "") + (w.tag ? " / " + w.tag : "")),
    el("td", {class: "what"}, why(w)));
}

function pipelineSection(p) {
  const s = el("section", {class: "pipeline", "data-table": p.table, id: "pipeline-" + p.table});
  const cur = p.current;
  s.append(el("h2", {}, p.table + " ", el("span", {class: "current current-" + cur.status}, cur.status)));
  const links = el("div", {class: "links meta"});
  if (p.links.flink_job) links.append(linkTo("link-flink", p.links.flink_job, "Flink job"), " ");
  if (p.links.grafana) links.append(linkTo("link-grafana", p.links.grafana, "Grafana lag panel"));
  s.append(links);
  if (p.live) liveBlock(s, p.live);
  const strip = el("div", {class: "strip"});
  for (const w of [...p.windows].reverse()) {
    strip.append(el("span", {class: "cell cell-" + w.status + (w.running ? " running" : ""),
                             title: w.window.start + " " + w.status}));
  }
  s.append(strip);
  const d = p.delay;
  const stats = `p50 ${duration(d.p50)}, p95 ${duration(d.p95)}, max ${duration(d.max)}`;
  s.append(el("div", {class: "meta delay-stats"},
    d.count ? `completion delay over ${d.count} decided window(s): ${stats}` : "no decided window in view"));
  s.append(chart(p.chart));
  const t = el("table", {class: "windows"},
    el("tr", {}, el("th", {}, "window"), el("th", {}, "status"), el("th", {}, "delay"),
       el("th", {}, "snapshot / tag"), el("th", {}, "why / what")));
  for (const w of p.windows) t.append(windowRow(w));
  s.append(t);
  return s;
}

// While a live evaluation is running the page asks again soon (2 s, then less often).
let again = null, againIn = 2000;

async function load() {
  clearTimeout(again);
  again = null;
  const error = document.getElementById("error");
  try {
    const response = await fetch(api, {credentials: "same-origin", headers: {Accept: "application/json"}});
    if (!response.ok) throw new Error("HTTP " + response.status + " " + (await response.text()));
    const data = await response.json();
    error.textContent = data.error || "";
    document.getElementById("window-length").textContent = data.window_length || "?";
    document.getElementById("updated").textContent = data.generated_at;
    const root = document.getElementById("freshness");
    root.replaceChildren(...data.pipelines.map(pipelineSection));
    root.setAttribute("data-loaded", data.generated_at);
    if (data.pipelines.some(p => p.live && p.live.running)) {
      again = setTimeout(load, againIn);
      againIn = Math.min(againIn * 2, 30000);
    } else {
      againIn = 2000;
    }
  } catch (e) {
    error.textContent = "Could not load freshness: " + e.message;
  }
}

document.getElementById("refresh").addEventListener("click", load);
load();
setInterval(load, 30000);
</script>
</body>
</html>
"""

/**
 * The console's stylesheet and its one script, served from /console/assets/ (the CSP allows
 * scripts and styles from the console's own origin only). No build step and no library: the
 * pages are complete without the script; it only adds the live feed (Server-Sent Events) and
 * refreshes the waiting requests and runs when the log says they changed. It never inserts
 * text as markup: feed rows are built with textContent; refreshed sections are the server's
 * own escaped HTML.
 */
export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #ffffff; --muted: #57606a; --line: #d0d7de; --accent: #0b5cad;
  --ok: #116329; --bad: #a40e26; --warn: #7d4e00; --chip: #f3f4f6; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #30363d; --accent: #4c9be8;
  --ok: #3fb950; --bad: #f85149; --warn: #d29922; --chip: #161b22; } }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); font-size: 15px; line-height: 1.45; }
a { color: var(--accent); }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px 8px; z-index: 9; }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
header .brand { font-weight: 700; } header nav { display: flex; gap: 1rem; } header .who { margin-left: auto; display: flex; gap: .8rem; align-items: center; }
main { padding: 1rem 1.2rem 3rem; max-width: 1400px; }
h1 { font-size: 1.35rem; margin: .4rem 0 1rem; } h2 { font-size: 1.1rem; margin: 1.6rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; vertical-align: top; padding: .4rem .5rem; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; }
pre { background: var(--chip); padding: .5rem; border-radius: 4px; white-space: pre-wrap; word-break: break-word; margin: .3rem 0; max-height: 14rem; overflow: auto; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .8rem; font-weight: 600; border: 1px solid currentColor; }
.b-allowed { color: var(--ok); } .b-masked { color: var(--accent); } .b-denied, .b-error { color: var(--bad); } .b-pending { color: var(--warn); }
.muted { color: var(--muted); } .empty { color: var(--muted); font-style: italic; }
.flash { padding: .6rem .8rem; border-radius: 4px; margin-bottom: 1rem; border: 1px solid; }
.flash.ok { color: var(--ok); } .flash.error { color: var(--bad); }
form.inline { display: inline; }
.decide { display: grid; gap: .4rem; min-width: 16rem; }
.decide .row { display: flex; gap: .5rem; flex-wrap: wrap; align-items: end; }
label { font-size: .85rem; color: var(--muted); display: block; }
input, textarea, select, button { font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: .3rem .5rem; }
textarea { width: 100%; min-height: 2.6rem; }
button { cursor: pointer; font-weight: 600; }
button.approve { border-color: var(--ok); color: var(--ok); } button.deny, button.revoke { border-color: var(--bad); color: var(--bad); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.grid2 { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
.login { max-width: 28rem; margin: 3rem auto; } .login section { border: 1px solid var(--line); border-radius: 6px; padding: 1rem; margin-bottom: 1rem; }
@media (max-width: 900px) { .hide-narrow { display: none; } }
`;

export const CONSOLE_JS = `'use strict';
(function () {
  var feed = document.getElementById('feed-rows');
  if (!feed || !window.EventSource) return;
  var pending = {};
  function refresh(part) {
    if (pending[part]) return;
    pending[part] = setTimeout(function () {
      pending[part] = null;
      var target = document.getElementById(part);
      if (!target) return;
      fetch('/console/fragment?part=' + encodeURIComponent(part), { credentials: 'same-origin' }).then(function (res) {
        if (!res.ok) return null;
        return res.text();
      }).then(function (text) {
        if (text === null || text === undefined) return;
        if (target.contains(document.activeElement) && document.activeElement.tagName !== 'BUTTON') return;
        target.innerHTML = text;
      }).catch(function () {});
    }, 150);
  }
  function cell(tr, text, cls) {
    var td = document.createElement('td');
    if (cls) { var span = document.createElement('span'); span.className = cls; span.textContent = text; td.appendChild(span); }
    else td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  var source = new EventSource('/console/events');
  source.addEventListener('record', function (event) {
    var r;
    try { r = JSON.parse(event.data); } catch (e) { return; }
    var empty = document.getElementById('feed-empty');
    if (empty) empty.remove();
    var tr = document.createElement('tr');
    tr.setAttribute('data-record', r.id);
    cell(tr, r.time_short);
    cell(tr, r.label, 'badge b-' + r.label);
    var ev = cell(tr, '');
    var a = document.createElement('a');
    a.href = '/console/record?id=' + encodeURIComponent(r.id);
    a.textContent = r.event;
    ev.appendChild(a);
    cell(tr, r.run || '-');
    cell(tr, r.policy || '-');
    cell(tr, r.tables || '-');
    cell(tr, r.detail || '');
    feed.insertBefore(tr, feed.firstChild);
    while (feed.children.length > 200) feed.removeChild(feed.lastChild);
    if (r.refresh_approvals) refresh('approvals');
    if (r.refresh_runs) refresh('runs');
  });
})();
`;

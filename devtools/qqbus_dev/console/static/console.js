// qqbus dev console: one snapshot, then live updates over Server-Sent Events (/console/events).
// Plain DOM, no framework, no build step. User text only ever goes in through textContent.
"use strict";

const S = {
  feedId: 0,
  bots: [], people: [], groups: [], notices: [],
  conversations: new Map(), // key -> Map(entry id -> entry)
  traces: new Map(),        // event id -> summary
  bot: null,                // the picked bot's key
  conv: null,               // {kind: "group" | "user", id}; kept in the URL's #fragment
  as: {},                   // protocol -> who speaks in groups, when picked (else the newest user)
  faults: {},               // fake API -> faults injected and not answered yet
  open: new Set(),          // trace rows shown in full
  clicked: new Set(),       // "<entry id>/<button id>": shown with the button's visited_label
  tab: "trace",
  stale: {state: true, failures: true},
};
const MAX_TRACES = 300;

const $ = (id) => document.getElementById(id);

// One element builder for the page and its messages (message.js, loaded first).
const h = Rich.el;

function flash(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = !text;
}

async function getJSON(path) {
  const response = await fetch(path, {headers: {Accept: "application/json"}});
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || `${response.status}`);
  return data;
}

async function post(path, body, what) {
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    flash("");
    return data;
  } catch (err) {
    flash(`Could not ${what}: ${err.message}`);
    return null;
  }
}

const clock = (at) => new Date(at * 1000).toLocaleTimeString();
const bot = () => S.bots.find((b) => b.key === S.bot) || null;
const protocol = () => (bot() ? bot().protocol : "qq");
const personName = (id) => (S.people.find((p) => p.protocol === protocol() && p.id === id) || {}).name || id;
const convKey = () => (S.conv && S.bot ? `${S.bot}:${S.conv.kind}:${S.conv.id}` : null);

// --- the pick, in the URL (#bot=qq:1&group=...), so a reload shows the same conversation -------

function saveView() {
  const params = new URLSearchParams();
  if (S.bot) params.set("bot", S.bot);
  if (S.conv) params.set(S.conv.kind, S.conv.id);
  const hash = params.toString();
  if (location.hash.slice(1) === hash) return;
  history.replaceState(null, "", `${location.pathname}${location.search}${hash ? `#${hash}` : ""}`);
}

function restoreView() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("bot")) S.bot = params.get("bot");
  const kind = ["group", "user"].find((k) => params.get(k));
  S.conv = kind ? {kind, id: params.get(kind)} : null;
}

// --- people, groups, bots ---------------------------------------------------------------

function applyEntities(data) {
  S.bots = data.bots; S.people = data.people; S.groups = data.groups; S.notices = data.notices;
  if (!S.bots.some((b) => b.key === S.bot)) S.bot = S.bots.length ? S.bots[0].key : null;
  renderBots(); renderEntities(); renderConversation();
}

function renderBots() {
  const select = $("bot");
  select.replaceChildren(...S.bots.map((b) => h("option", {value: b.key, selected: b.key === S.bot},
    `${b.protocol === "qq" ? "QQ" : "OneBot"} bot ${b.id}`)));
  const picked = bot();
  $("bot-via").textContent = picked && picked.via !== "sandbox" ? `(${picked.via})` : "";
}

function entityButton(kind, item) {
  const pressed = S.conv && S.conv.kind === kind && S.conv.id === item.id;
  const label = kind === "group" ? item.name : `${item.name} (private)`;
  return h("li", {}, h("button", {
    type: "button", "aria-pressed": pressed ? "true" : "false", "data-id": item.id,
    onclick: () => { S.conv = {kind, id: item.id}; renderEntities(); renderConversation(); $("text").focus(); },
  }, h("span", {class: "name", text: label}), h("span", {class: "id", text: item.id})));
}

function renderEntities() {
  const p = protocol();
  const people = S.people.filter((x) => x.protocol === p);
  const groups = S.groups.filter((x) => x.protocol === p);
  $("users").replaceChildren(...people.map((x) => entityButton("user", x)));
  $("groups").replaceChildren(...groups.map((x) => entityButton("group", x)));
  // "As": the user picked here, else the newest one (the one just added speaks next).
  const picked = people.some((x) => x.id === S.as[p]) ? S.as[p] : null;
  const as = picked || (people.length ? people[people.length - 1].id : "");
  const select = $("as-user");
  select.replaceChildren(...people.map((x) => h("option", {value: x.id, selected: x.id === as}, x.name)));
  select.value = as;
}

// --- the conversation ---------------------------------------------------------------------

function upsertEntry(entry) {
  if (!S.conversations.has(entry.conversation)) S.conversations.set(entry.conversation, new Map());
  S.conversations.get(entry.conversation).set(entry.id, entry);
  if (entry.conversation === convKey()) renderMessages();
  if (entry.who === "bot" && Object.values(S.faults).some((n) => n > 0)) later("failures"); // faults used up
}

function renderConversation() {
  const b = bot();
  const conv = S.conv;
  const valid = conv && b && (conv.kind === "group"
    ? S.groups.some((g) => g.protocol === b.protocol && g.id === conv.id)
    : S.people.some((u) => u.protocol === b.protocol && u.id === conv.id));
  if (!valid) S.conv = null;
  const inGroup = Boolean(S.conv && S.conv.kind === "group");
  const group = inGroup ? S.groups.find((g) => g.protocol === b.protocol && g.id === S.conv.id) : null;
  $("conv-title").textContent = !S.conv ? "Pick a group or a user"
    : inGroup ? `Group: ${group.name}`
      : `Private chat with ${personName(S.conv.id)}`;
  $("conv-hint").hidden = Boolean(S.conv);
  $("compose").hidden = !S.conv;
  $("bot-post").hidden = !S.conv;
  for (const id of ["as-user", "as-label", "mention-label"]) $(id).hidden = !inGroup;
  // QQ delivers a group's messages only to a bot that was added to the group.
  const outside = Boolean(group && b.protocol === "qq" && !(group.members || []).includes(b.key));
  const why = $("compose-why");
  why.textContent = outside ? "The bot is not in this group, and QQ delivers nothing to a bot outside it: add the bot to this group first (Add bot to group, above)." : "";
  why.hidden = !outside;
  $("text").disabled = outside;
  $("send").disabled = outside;
  saveView();
  const notices = $("notices");
  notices.hidden = !inGroup;
  notices.replaceChildren(...(inGroup ? S.notices.filter((n) => n.protocol === b.protocol) : []).map((n) =>
    h("button", {type: "button", "data-kind": n.kind, onclick: () => sendNotice(n)}, n.label)));
  renderMessages();
}

// What a rendered message needs from the page: names, the messages it quotes, and what its
// buttons do (a callback button is an INTERACTION_CREATE, a command one fills the input box).
function messageContext(entry, entries) {
  return {
    name: (id) => personName(id),
    quoted: (id) => entries.find((x) => x.message_id === id) || null,
    clicked: (b) => S.clicked.has(`${entry.id}/${b.id}`),
    callback: (b) => clickButton(entry, b),
    command: (text, enter) => {
      $("text").value = text;
      $("text").focus();
      if (enter && !$("send").disabled) $("compose").requestSubmit();
    },
  };
}

async function clickButton(entry, b) {
  if (!S.conv) return;
  const inGroup = S.conv.kind === "group";
  const user = inGroup ? $("as-user").value : S.conv.id;
  if (!user) { flash("Add a user first: someone has to click it."); return; }
  const label = (b.render_data || {}).label || b.id || "";
  const body = {bot: S.bot, user, group: inGroup ? S.conv.id : null, button_id: String(b.id || ""), data: String((b.action || {}).data || ""), label};
  if (await post("/console/api/click", body, "click the button")) {
    S.clicked.add(`${entry.id}/${b.id}`);
    renderMessages();
  }
}

async function recall(entry) {
  await post("/console/api/recall", {bot: S.bot, entry: entry.id}, "recall the message");
}

function messageBody(e, entries) {
  if (e.message && Rich.isRich(e.message)) return Rich.render(e.message, messageContext(e, entries));
  return h("span", {class: "text", text: e.text});
}

function renderMessages() {
  const entries = [...((S.conversations.get(convKey()) || new Map()).values())].sort((a, b) => a.at - b.at);
  $("messages").replaceChildren(...entries.map((e) => {
    const meta = [clock(e.at), e.status.replace("_", " "), e.note].filter(Boolean).join(" · ");
    const recallable = e.who === "bot" && e.status === "sent" && e.message_id && !e.recalled;
    return h("li", {class: `msg ${e.who} ${e.status}${e.recalled ? " recalled" : ""}`, "data-status": e.status,
      "data-recalled": e.recalled ? "true" : null, "data-message-id": e.message_id || null},
      e.who === "system" ? null : h("span", {class: "who", text: e.who === "bot" ? "bot" : e.name}),
      e.recalled ? h("span", {class: "recalled-badge", text: "recalled"}) : null,
      messageBody(e, entries),
      h("span", {class: "meta", text: meta},
        recallable ? h("button", {type: "button", class: "link-button", "aria-label": `Recall the bot's message "${e.text.slice(0, 40)}"`,
          onclick: () => recall(e)}, "Recall") : null));
  }));
  const list = $("messages");
  list.lastElementChild && list.lastElementChild.scrollIntoView({block: "nearest"});
}

async function sendNotice(notice) {
  if (!S.conv) return;
  const user = $("as-user").value;
  if (!user) { flash("Add a user first: a group event needs someone who does it."); return; }
  await post("/console/api/notice", {bot: S.bot, group: S.conv.id, kind: notice.kind, user}, notice.label.toLowerCase());
}

// --- the trace ----------------------------------------------------------------------------

function chip(text, tone, title) {
  return h("span", {class: `chip ${tone || ""}`, title}, text);
}

function actionText(action) {
  const text = Rich.plain(action.message || []);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function traceChips(t) {
  const chips = [];
  for (const step of t.steps) {
    const d = step.data || {};
    if (step.kind === "ingress" || step.kind === "refused") {
      chips.push(chip(`ingress ${d.status} · ${Math.round(d.ms)} ms`, d.status < 400 ? "ok" : "bad"));
    } else if (step.kind === "invocation" && !d.action_id) {
      const tone = d.status === "ok" ? "ok" : d.status === "duplicate" ? "warn" : "bad";
      const ms = d.ms !== undefined ? ` · ${Math.round(d.ms)} ms` : "";
      chips.push(chip(`${d.function} ${d.status}${ms}`, tone, d.rule ? `rule ${d.rule}` : null));
      if (d.state) chips.push(chip("state changed", "warn"));
    } else if (step.kind === "unhandled") {
      chips.push(chip(`catch-all ${d.rule}`, "warn"));
    } else if (step.kind === "parked") {
      chips.push(chip(`parked in ${d.queue}`, "bad"));
    } else if (step.kind === "console") {
      chips.push(chip("posted from the console"));
    }
  }
  for (const a of t.actions) {
    const r = a.result;
    const outcome = r ? (r.outcome === "sent" ? `sent${r.mode ? ` (${r.mode})` : ""}` : `${r.outcome}: ${r.reason}`) : "…";
    const tone = !r ? "" : r.outcome === "sent" ? "ok" : "bad";
    chips.push(chip(`${a.detail_type} "${actionText(a)}" → ${outcome}`, tone));
  }
  return chips;
}

function upsertTrace(t) {
  S.traces.set(t.event_id, t);
  if (S.traces.size > MAX_TRACES) S.traces.delete(S.traces.keys().next().value);
  renderTrace(t);
}

function renderTrace(t) {
  const list = $("traces");
  let item = list.querySelector(`li[data-id="${CSS.escape(t.event_id)}"]`);
  const open = S.open.has(t.event_id);
  const row = h("button", {
    type: "button", class: "trace-row", "aria-expanded": open ? "true" : "false",
    onclick: () => toggleTrace(t.event_id),
  },
  h("span", {class: "head"},
    h("span", {class: "when", text: clock(t.at)}),
    h("span", {class: "type", text: t.detail_type}),
    h("span", {class: "bot", text: t.bot_id ? `bot ${t.bot_id}` : ""})),
  h("span", {class: "chips"}, traceChips(t)));
  if (!item) {
    item = h("li", {"data-id": t.event_id});
    list.prepend(item);
    while (list.children.length > MAX_TRACES) list.lastElementChild.remove();
  }
  const detail = item.querySelector(".trace-detail");
  item.replaceChildren(row, ...(detail ? [detail] : []));
  if (open) loadTrace(t.event_id, item);
}

function toggleTrace(id) {
  const item = $("traces").querySelector(`li[data-id="${CSS.escape(id)}"]`);
  if (S.open.has(id)) {
    S.open.delete(id);
    item.querySelector(".trace-row").setAttribute("aria-expanded", "false");
    const detail = item.querySelector(".trace-detail");
    if (detail) detail.remove();
  } else {
    S.open.add(id);
    item.querySelector(".trace-row").setAttribute("aria-expanded", "true");
    loadTrace(id, item);
  }
}

// Keys every Powertools line repeats; the rest (the handler's own "extra") is shown.
const LOG_NOISE = new Set(["level", "location", "message", "timestamp", "service", "cold_start", "function_name",
  "function_memory_size", "function_arn", "function_request_id", "correlation_id", "xray_trace_id",
  "detail_type", "source", "bot_id", "transport", "sampling_rate"]);

function logLine(raw) {
  let entry;
  try { entry = JSON.parse(raw); } catch { return raw; }
  if (!entry || typeof entry !== "object") return raw;
  const extra = Object.entries(entry).filter(([key]) => !LOG_NOISE.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  return `${entry.level} ${entry.message}${extra.length ? `  ${extra.join(" ")}` : ""}`;
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

function stateDiff(state) {
  const before = state.before || {};
  const after = state.after || {};
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const rows = names.filter((n) => JSON.stringify(before[n]) !== JSON.stringify(after[n])).map((n) =>
    h("tr", {}, h("td", {text: n}), h("td", {text: n in before ? JSON.stringify(before[n]) : "-"}),
      h("td", {text: n in after ? JSON.stringify(after[n]) : "-"})));
  return h("div", {class: "table-wrap"}, h("table", {class: "diff"},
    h("caption", {class: "small", text: `${state.table}: ${state.key.bot_id} / ${state.key.group_id}${state.before ? "" : " (new row)"}`}),
    h("tr", {}, h("th", {text: "field"}), h("th", {text: "before"}), h("th", {text: "after"})), rows));
}

async function loadTrace(id, item) {
  let data;
  try { data = await getJSON(`/console/api/trace/${encodeURIComponent(id)}`); } catch (err) { flash(`Could not load the event: ${err.message}`); return; }
  if (!S.open.has(id)) return;
  const t = data.trace;
  const steps = t ? t.steps.map((step) => {
    const d = step.data || {};
    return h("li", {},
      h("div", {class: "line", text: step.line}),
      d.rule ? h("div", {class: "small muted", text: `rule ${d.rule} → function ${d.function}`}) : null,
      d.error ? h("div", {class: "small", text: `error: ${d.error}`}) : null,
      d.logs && d.logs.length ? h("details", {}, h("summary", {text: `${d.logs.length} log line${d.logs.length > 1 ? "s" : ""}`}),
        h("pre", {class: "logs", text: d.logs.map(logLine).join("\n")})) : null,
      d.state ? stateDiff(d.state) : null,
      step.kind === "result" ? h("details", {}, h("summary", {text: "result"}), h("pre", {text: pretty(d)})) : null);
  }) : [];
  const actions = t ? t.actions.map((a) => h("details", {}, h("summary", {text: `action ${a.detail_type} ${a.action_id}`}), h("pre", {text: pretty(a)}))) : [];
  const detail = h("div", {class: "trace-detail"},
    h("ol", {class: "steps"}, steps),
    actions,
    data.payload !== null ? h("details", {class: "payload", open: true}, h("summary", {text: "payload"}), h("pre", {text: pretty(data.payload)})) : null,
    data.event ? h("details", {}, h("summary", {text: "bus event (source, detail-type, detail)"}), h("pre", {text: pretty(data.event)})) : null);
  const old = item.querySelector(".trace-detail");
  if (old) old.replaceWith(detail); else item.append(detail);
}

// --- state and failures -------------------------------------------------------------------

const TABS = ["trace", "state", "schedules", "data", "failures"];
const timers = {};

// Read a tab's data again soon (once for a burst of news); the failures always (their count
// shows on the tab), the others only while they are shown.
function later(kind) {
  S.stale[kind] = true;
  if (kind !== "failures" && S.tab !== kind) return;
  clearTimeout(timers[kind]);
  timers[kind] = setTimeout(LOADERS[kind], 250);
}

// Row key -> {values: {column: JSON}, changed: {column: when}}: a field stays highlighted for a
// while after it changed, so the two writes of one handler show up as one change.
const rowHistory = new Map();
const CHANGED_FOR_MS = 20000;

function rowKey(table, row) {
  const v = row.values;
  return `${v.bot_id}/${v.group_id !== undefined ? v.group_id : v.user_id !== undefined ? v.user_id : ""}`;
}

function track(id, now) {
  const seen = rowHistory.get(id);
  const at = Date.now();
  const changed = seen ? seen.changed : {};
  if (seen) {
    for (const c of new Set([...Object.keys(seen.values), ...Object.keys(now)])) {
      if (seen.values[c] !== now[c]) changed[c] = at;
    }
  }
  rowHistory.set(id, {values: now, changed});
  const recent = (c) => changed[c] !== undefined && at - changed[c] < CHANGED_FOR_MS;
  return {recent, removed: Object.keys(changed).filter((c) => !(c in now) && recent(c))};
}

async function loadState() {
  S.stale.state = false;
  let data;
  try { data = await getJSON("/console/api/state"); } catch (err) { flash(`Could not read the tables: ${err.message}`); return; }
  $("tables").replaceChildren(...data.tables.map((table) => h("section", {class: "state-table", "data-table": table.name},
    h("h3", {text: `${table.name} (${table.table}) · ${table.rows.length} row${table.rows.length === 1 ? "" : "s"}`}),
    table.rows.length === 0 ? h("p", {class: "muted small", text: "No rows yet."}) :
      h("div", {class: "rows"}, table.rows.map((row) => {
        const key = rowKey(table, row);
        const columns = table.columns.filter((c) => row.cells[c]);
        const now = Object.fromEntries(columns.map((c) => [c, JSON.stringify(row.values[c])]));
        const {recent, removed} = track(`${table.name}:${key}`, now);
        const fields = columns.map((c) => {
          const cell = row.cells[c];
          return [h("dt", {text: c}), h("dd", {"data-col": c, class: recent(c) ? "changed" : null, title: now[c]}, cell.text,
            cell.note ? h("span", {class: `note ${cell.note === "expired" ? "expired" : ""}`, text: cell.note}) : null)];
        });
        return h("article", {class: "row-card", "data-key": key},
          h("h4", {text: key}),
          h("dl", {}, fields.flat()),
          removed.length ? h("p", {class: "small muted", text: `removed: ${removed.join(", ")}`}) : null);
      })))),
  h("p", {class: "muted small", text: `Times in ${data.timezone}; changed fields are highlighted.`}));
}

async function loadFailures() {
  S.stale.failures = false;
  let data;
  try { data = await getJSON("/console/api/failures"); } catch (err) { flash(`Could not read the failure queues: ${err.message}`); return; }
  renderFaults(data.faults);
  const total = data.queues.reduce((n, q) => n + q.messages.length, 0);
  $("failure-count").textContent = total ? String(total) : "";
  $("queues").replaceChildren(...data.queues.map((q) => h("section", {class: "queue", "data-queue": q.queue},
    h("h3", {text: `${q.label} (${q.name}) · ${q.messages.length}`}),
    q.messages.length === 0 ? h("p", {class: "muted small", text: "Empty."}) :
      h("ul", {class: "parked"}, q.messages.map((m) => h("li", {"data-message": m.message_id},
        h("div", {}, h("strong", {text: m.detail_type || "?"}), ` ${m.function ? `in ${m.function}` : ""}`,
          m.attempts ? ` after ${m.attempts} attempts` : "", m.at ? ` · ${m.at}` : ""),
        h("div", {class: "error", text: m.error}),
        h("div", {class: "actions"},
          h("button", {type: "button", disabled: !m.event, "aria-label": replayName(m),
            onclick: () => replay(q.queue, m.message_id)}, "Replay"),
          h("details", {}, h("summary", {text: "record"}), h("pre", {text: pretty(m.body)})))))))));
}

// "Replay qq.group_message "pong" (QqSenderFunction, 10:42:07)": which message the button replays.
function replayName(m) {
  const at = m.at ? new Date(typeof m.at === "number" ? m.at * 1000 : m.at) : null;
  const where = [m.function, at && !Number.isNaN(at.getTime()) ? at.toLocaleTimeString() : null].filter(Boolean);
  return [`Replay ${m.detail_type || "the message"}`, m.text ? `"${m.text}"` : null,
    where.length ? `(${where.join(", ")})` : null].filter(Boolean).join(" ");
}

const API_NAMES = {qq: "QQ API", onebot: "OneBot API"};

function renderFaults(faults) {
  if (faults) S.faults = faults;
  const pending = Object.entries(S.faults).filter(([, n]) => n > 0);
  $("fault-pending").textContent = pending.length
    ? `Pending: ${pending.map(([api, n]) => `the fake ${API_NAMES[api] || api} fails its next ${n} request${n === 1 ? "" : "s"}`).join("; ")}.`
    : "No fault pending: the fake APIs answer normally.";
}

async function replay(queue, messageId) {
  const done = await post("/console/api/replay", {queue, message_id: messageId}, "replay the message");
  if (done) loadFailures();
}

function selectTab(name) {
  S.tab = name;
  for (const tab of TABS) {
    const button = $(`tab-${tab}`);
    button.setAttribute("aria-selected", tab === name ? "true" : "false");
    button.tabIndex = tab === name ? 0 : -1;
    $(`panel-${tab}`).hidden = tab !== name;
  }
  if (LOADERS[name]) LOADERS[name]();
}

// --- schedules and the bot's own data (what `qqbus schedules` and `qqbus data` print) ------------

// "in 59 min" / "3 s ago": how far a time is from now.
function fromNow(ms) {
  const s = Math.round((ms - Date.now()) / 1000);
  const n = Math.abs(s);
  const text = n < 90 ? `${n} s` : n < 5400 ? `${Math.round(n / 60)} min` : n < 172800 ? `${Math.round(n / 3600)} h` : `${Math.round(n / 86400)} d`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}

// A chat id with the sandbox's name for it, when it has one.
function chatName(chat) {
  if (!chat) return "-";
  const id = String(chat).replace(/^(group|user):/, ""); // conversations key chats as group:<id>
  const group = S.groups.find((g) => g.id === id);
  const person = S.people.find((p) => p.id === id);
  return group ? `${group.name} (group ${id})` : person ? `${person.name} (user ${id})` : id;
}

function fieldList(pairs) {
  return h("dl", {}, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) =>
    [h("dt", {text: k}), h("dd", {"data-col": k}, v)]).flat());
}

function scheduleCard(r) {
  const due = r.due ? new Date(r.due) : null;
  const when = due ? h("span", {}, due.toLocaleString(), h("span", {class: "note", text: fromNow(due.getTime())})) : null;
  // One-time: when it is due. Recurring: how it runs, and its next fire when the clock can tell.
  const timing = (r.expression || "").startsWith("at(") ? [["due", when || r.expression]] : [["runs", r.expression], ["next", when]];
  return h("article", {class: "row-card", "data-name": r.name},
    h("h4", {text: r.step || r.name}),
    fieldList([...timing, ["chat", r.chat ? chatName(r.chat) : null], ["bot", r.bot_id],
      ["data", Object.keys(r.data || {}).length ? JSON.stringify(r.data) : null], ["schedule", `${r.group}/${r.name}`], ["state", r.state]]));
}

function section(title, rows, empty, draw, attrs) {
  return h("section", {class: "listing", ...attrs}, h("h3", {text: `${title} · ${rows.length}`}),
    rows.length ? h("div", {class: "rows"}, rows.map(draw)) : h("p", {class: "muted small", text: empty}));
}

async function loadSchedules() {
  S.stale.schedules = false;
  let data;
  try { data = await getJSON("/console/api/schedules"); } catch (err) { flash(`Could not read the schedules: ${err.message}`); return; }
  $("schedules").replaceChildren(
    section("Pending one-time schedules", data.once, "None: /remind 10m something makes one.", scheduleCard, {"data-kind": "once"}),
    section("Recurring schedules", data.recurring, "None in the template.", scheduleCard, {"data-kind": "recurring"}));
}

function table(columns, rows, attrs) {
  return h("div", {class: "table-wrap"}, h("table", attrs || {},
    h("tr", {}, columns.map((c) => h("th", {text: c}))),
    rows.map((row) => h("tr", {}, columns.map((c) => h("td", {"data-col": c}, row[c]))))));
}

const epochText = (seconds) => (seconds ? `${new Date(seconds * 1000).toLocaleString()} (${fromNow(seconds * 1000)})` : "-");

async function loadData() {
  S.stale.data = false;
  let data;
  try { data = await getJSON("/console/api/data"); } catch (err) { flash(`Could not read the bot data: ${err.message}`); return; }
  const values = data.data.map((i) => ({bot_id: i.bot_id, scope: i.scope, name: i.name,
    value: typeof i.value === "string" ? i.value : JSON.stringify(i.value), expires: i.expires_at ? epochText(i.expires_at) : "-"}));
  const waits = data.conversations.map((c) => ({bot_id: c.bot_id, chat: chatName(c.chat), user: chatName(c.user_id),
    step: c.step, turns: String(c.turns), status: c.status, deadline: epochText(c.deadline)}));
  const none = (rows, text) => (rows.length ? null : h("p", {class: "muted small", text}));
  $("bot-data").replaceChildren(
    h("p", {class: "muted small", text: data.table ? `The bot data table ${data.table}, as qqbus data shows it.` : "This stack has no bot data table."}),
    h("section", {class: "listing", "data-kind": "values"}, h("h3", {text: `Values · ${values.length}`}),
      values.length ? table(["bot_id", "scope", "name", "value", "expires"], values) : none(values, "No values stored.")),
    h("section", {class: "listing", "data-kind": "conversations"}, h("h3", {text: `Active conversations · ${waits.length}`}),
      waits.length ? table(["bot_id", "chat", "user", "step", "turns", "status", "deadline"], waits) : none(waits, "Nobody is in a conversation (/guess starts one).")));
}

const LOADERS = {state: loadState, schedules: loadSchedules, data: loadData, failures: loadFailures};

// --- the live feed ------------------------------------------------------------------------

function applySnapshot(snap) {
  S.feedId = snap.feed_id;
  S.conversations = new Map();
  for (const [key, entries] of Object.entries(snap.conversations)) {
    S.conversations.set(key, new Map(entries.map((e) => [e.id, e])));
  }
  applyEntities(snap);
  $("traces").replaceChildren();
  S.traces = new Map();
  for (const t of snap.traces) upsertTrace(t);
  later("failures");
  if (S.tab !== "trace" && S.tab !== "failures") LOADERS[S.tab]();
}

let source = null;

function connect() {
  if (source) source.close();
  source = new EventSource(`/console/events?after=${S.feedId}`);
  const live = $("live");
  source.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  source.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
  const on = (kind, fn) => source.addEventListener(kind, (e) => { S.feedId = Number(e.lastEventId) || S.feedId; fn(JSON.parse(e.data)); });
  on("trace", (t) => { upsertTrace(t); later("schedules"); later("data"); });
  on("chat", upsertEntry);
  on("sandbox", applyEntities);
  on("state", () => later("state"));
  on("failures", () => later("failures"));
  on("reset", async () => applySnapshot(await getJSON("/console/api/snapshot")));
}

function wire() {
  $("bot").addEventListener("change", (e) => { S.bot = e.target.value; S.conv = null; renderBots(); renderEntities(); renderConversation(); });
  $("add-user").addEventListener("submit", async (e) => {
    e.preventDefault();
    const made = await post("/console/api/users", {protocol: protocol(), name: $("user-name").value}, "add the user");
    if (!made) return;
    $("user-name").value = "";
    if (!S.people.some((u) => u.protocol === made.protocol && u.id === made.id)) S.people.push(made);
    S.as[made.protocol] = made.id; // the newest user speaks next
    renderEntities();
  });
  $("add-group").addEventListener("submit", async (e) => {
    e.preventDefault();
    const made = await post("/console/api/groups", {protocol: protocol(), name: $("group-name").value}, "add the group");
    if (!made) return;
    $("group-name").value = "";
    if (!S.groups.some((g) => g.protocol === made.protocol && g.id === made.id)) S.groups.push(made);
    S.conv = {kind: "group", id: made.id};
    renderEntities(); renderConversation();
  });
  $("add-bot").addEventListener("submit", async (e) => {
    e.preventDefault();
    const made = await post("/console/api/bots", {id: $("bot-id").value.trim()}, "add the bot");
    if (!made) return;
    $("bot-id").value = "";
    S.bot = `onebot:${made.id}`;
    if (!S.bots.some((b) => b.key === S.bot)) S.bots.push({...made, key: S.bot});
    S.conv = null;
    renderBots(); renderEntities(); renderConversation();
  });
  $("as-user").addEventListener("change", (e) => { S.as[protocol()] = e.target.value; });
  window.addEventListener("hashchange", () => { restoreView(); renderBots(); renderEntities(); renderConversation(); });
  $("compose").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!S.conv) return;
    const text = $("text").value;
    const inGroup = S.conv.kind === "group";
    const user = inGroup ? $("as-user").value : S.conv.id;
    if (!user) { flash("Add a user first: someone has to say it."); return; }
    const body = {bot: S.bot, user, text, mention: $("mention").checked, group: inGroup ? S.conv.id : null};
    if (await post("/console/api/say", body, "send the message")) $("text").value = "";
  });
  $("bot-post").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!S.conv) return;
    const where = S.conv.kind === "group" ? {group: S.conv.id} : {user: S.conv.id};
    if (await post("/console/api/post", {bot: S.bot, text: $("post-text").value, ...where}, "post as the bot")) $("post-text").value = "";
  });
  $("fault-kind").addEventListener("change", () => {
    $("fault-status").disabled = $("fault-kind").value !== "status";  // a named fault has its own status
  });
  $("fault").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {api: $("fault-api").value, kind: $("fault-kind").value, status: Number($("fault-status").value), times: Number($("fault-times").value)};
    const done = await post("/console/api/fault", body, "inject the fault");
    if (done) renderFaults(done.faults);
  });
  $("fault-clear").addEventListener("click", async () => {
    const done = await post("/console/api/fault/clear", {}, "clear the faults");
    if (done) renderFaults(done.faults);
  });
  const tabs = TABS;
  for (const name of tabs) {
    const tab = $(`tab-${name}`);
    tab.addEventListener("click", () => selectTab(name));
    tab.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
      const next = tabs[(tabs.indexOf(name) + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      selectTab(next);
      $(`tab-${next}`).focus();
    });
  }
}

async function main() {
  wire();
  restoreView();
  try {
    applySnapshot(await getJSON("/console/api/snapshot"));
  } catch (err) {
    flash(`Could not reach the stack: ${err.message}`);
    return;
  }
  connect();
}

main();

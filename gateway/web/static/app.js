// The counsellor dashboard: vanilla JS, no build step. Every text from the
// API goes into the page as text (never as HTML).
"use strict";
(function () {
  const TOKEN_KEY = "nocontact.dashboard.token";
  const LAST_ID_KEY = "nocontact.dashboard.lastNotificationId";
  const $ = (id) => document.getElementById(id);
  const SVGNS = "http://www.w3.org/2000/svg";

  // h builds an element: h("td", {class: "x"}, "text", child, ...).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "onclick") el.addEventListener("click", v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    append(el, children);
    return el;
  }
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    append(el, children);
    return el;
  }
  function append(el, children) {
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  // ---- vocabulary -------------------------------------------------------
  const SCOPE_NAMES = {
    PLAN_PROGRESS: "plan progress", MOOD_INSIGHTS: "mood insights",
    SHARED_JOURNAL: "shared journal", RISK_ALERTS: "risk alerts",
  };
  const SERVICE_NAMES = { SERVICE_PLANS: "plans", SERVICE_JOURNAL: "journal", SERVICE_NOTIFY: "notifications" };
  const NEED = {
    NEED_REASON_RISK_FLAG: "Open risk flag", NEED_REASON_RECENT_SLIP: "Recent slip",
    NEED_REASON_FALLING_MOOD: "Falling mood", NEED_REASON_SILENCE: "Silent", NEED_REASON_UNSPECIFIED: "—",
  };
  const BAND = {
    RECENCY_BAND_RECENT: ["recent", "●", "Recent"],
    RECENCY_BAND_QUIET: ["quiet", "◐", "Quiet"],
    RECENCY_BAND_SILENT: ["silent", "○", "Silent"],
    RECENCY_BAND_UNSPECIFIED: ["unknown", "?", "Unknown"],
  };
  const TREND = { MOOD_TREND_RISING: "↑ rising", MOOD_TREND_STEADY: "→ steady", MOOD_TREND_FALLING: "↓ falling", MOOD_TREND_UNSPECIFIED: "trend unknown" };
  const enumText = (v, prefix) => String(v || "").replace(prefix, "").toLowerCase().replace(/_/g, " ");
  const severity = (v) => enumText(v, "RISK_SEVERITY_");

  const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");
  function fmtTime(ts) {
    if (!ts) return "—";
    const d = new Date(ts);
    return isNaN(d) ? ts : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  // ---- session ----------------------------------------------------------
  const token = () => sessionStorage.getItem(TOKEN_KEY) || "";
  function signIn(tok) {
    sessionStorage.setItem(TOKEN_KEY, tok.trim().replace(/^Bearer\s+/i, ""));
    $("signin-error").textContent = "";
    feed.start();
    route();
  }
  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(LAST_ID_KEY);
    feed.stop();
    $("signin-error").textContent = message || "";
    route();
  }

  class APIError extends Error {
    constructor(status, body) {
      super((body && body.message) || "HTTP " + status);
      this.status = status;
      this.code = body && body.code;
    }
  }
  async function api(method, path, body) {
    const init = { method, headers: { Authorization: "Bearer " + token(), Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (resp.status === 401) {
      signOut("Your session ended (the token was refused or has expired). Sign in again.");
      throw new APIError(401, data);
    }
    if (!resp.ok) throw new APIError(resp.status, data);
    return data;
  }

  function flash(text) { $("flash").textContent = text; }
  function showBanner(unavailable) {
    const names = (unavailable || []).map((u) => SERVICE_NAMES[u] || u);
    $("banner").hidden = names.length === 0;
    $("banner").textContent = names.length
      ? "Partial answer: the " + names.join(", ") + " service" + (names.length > 1 ? "s" : "") +
        " did not answer in time. Fields from it are missing, not zero."
      : "";
  }

  // ---- routing ----------------------------------------------------------
  function route() {
    const signedIn = token() !== "";
    $("signin").hidden = signedIn;
    $("nav").hidden = !signedIn;
    $("feed").hidden = !signedIn;
    $("roster").hidden = true;
    $("client").hidden = true;
    if (!signedIn) { showBanner([]); flash(""); return; }
    let m = location.hash.match(/^#\/clients\/([^/]+)$/);
    if (!m) {
      const p = location.pathname.match(/^\/dashboard\/clients\/([^/]+)$/);
      if (p) m = p;
    }
    if (m) loadClient(decodeURIComponent(m[1]));
    else loadRoster();
  }

  // ---- roster -----------------------------------------------------------
  // notShared tells which scope hides a field; an unset field under a
  // granted scope is missing (its service did not answer).
  function cell(row, scope, present, render) {
    if ((row.missingScopes || []).includes(scope)) {
      return h("td", { class: "notshared", "data-scope": scope }, "Not shared (" + (SCOPE_NAMES[scope] || scope) + ")");
    }
    if (!present) return h("td", {}, h("span", { class: "muted" }, "unavailable"));
    return h("td", {}, render());
  }
  function bandCell(row) {
    if ((row.missingScopes || []).includes("PLAN_PROGRESS")) return cell(row, "PLAN_PROGRESS", false);
    const [cls, icon, label] = BAND[row.recency] || BAND.RECENCY_BAND_UNSPECIFIED;
    const days = row.daysSinceActivity !== undefined ? " · " + row.daysSinceActivity + " d ago" : "";
    return h("td", { class: "band band-" + cls, "data-band": cls },
      h("span", { class: "icon", "aria-hidden": "true" }, icon), label + days);
  }
  function riskCell(row) {
    return cell(row, "RISK_ALERTS", row.openRiskFlags !== undefined, () => {
      if (!row.openRiskFlags) return "None open";
      const sev = row.highestRiskSeverity || "";
      return [h("span", { class: "sev sev-" + severity(sev) }, "⚠ " + severity(sev)), " " + row.openRiskFlags + " open",
        row.unacknowledgedRiskFlags ? ", " + row.unacknowledgedRiskFlags + " not acknowledged" : ""];
    });
  }
  function rosterRow(row) {
    const id = row.clientId;
    const link = h("a", { href: "#/clients/" + encodeURIComponent(id) }, id);
    const mood = () => [String(row.latestMood > 0 ? "+" + row.latestMood : row.latestMood), " · ", TREND[row.moodTrend] || TREND.MOOD_TREND_UNSPECIFIED];
    return h("tr", { "data-client-id": id },
      h("th", { scope: "row" }, link, row.unreadNotifications ? h("span", { class: "muted" }, " (" + row.unreadNotifications + " unread)") : null),
      h("td", {}, NEED[row.need] || NEED.NEED_REASON_UNSPECIFIED),
      bandCell(row),
      cell(row, "PLAN_PROGRESS", row.currentStreakDays !== undefined, () => plural(row.currentStreakDays, "day")),
      cell(row, "PLAN_PROGRESS", row.nextMilestoneDay !== undefined, () => "Day " + row.nextMilestoneDay + (row.nextMilestoneTime ? " · " + fmtTime(row.nextMilestoneTime) : "")),
      cell(row, "MOOD_INSIGHTS", row.latestMood !== undefined || row.moodTrend !== undefined, mood),
      cell(row, "MOOD_INSIGHTS", row.urgesLast7Days !== undefined, () => String(row.urgesLast7Days)),
      cell(row, "MOOD_INSIGHTS", row.missedCheckinsInARow !== undefined, () => row.missedCheckinsInARow + " in a row"),
      cell(row, "PLAN_PROGRESS", row.slipsLast14Days !== undefined, () => String(row.slipsLast14Days)),
      riskCell(row),
      cell(row, "PLAN_PROGRESS", true, () => row.hardDateAhead
        ? "📅 " + row.hardDateAhead.label + " · " + row.hardDateAhead.date + " (in " + row.hardDateAhead.daysUntil + " d)"
        : "None in 7 days"),
      h("td", { class: row.changedSinceReview ? "changed" : "" },
        row.reviewTime ? "Reviewed " + fmtTime(row.reviewTime) : "Never reviewed",
        row.changedSinceReview ? h("span", {}, h("br"), "✱ changed since") : null),
    );
  }
  async function loadRoster() {
    $("roster").hidden = false;
    document.title = "Roster · Counsellor dashboard";
    const state = $("roster-state");
    const tbody = $("roster-table").tBodies[0];
    state.textContent = "Loading…";
    const q = $("changed-only").checked ? "?changedSinceReview=true" : "";
    try {
      const data = await api("GET", "/v1/dashboard/roster" + q);
      const rows = (data && data.rows) || [];
      showBanner(data.unavailable);
      tbody.replaceChildren(...rows.map(rosterRow));
      $("compose-time").textContent = data.composeTime ? "As of " + fmtTime(data.composeTime) : "";
      // Minimum counts: a hidden group has no count. It has fewer than 10
      // clients, or is hidden so that such a group cannot be worked out
      // from the others (the answer does not say which).
      const groups = (data.caseload && data.caseload.groups) || [];
      $("caseload").textContent = groups.length ? "Caseload: " + groups.map((g) =>
        (g.need === "NEED_REASON_UNSPECIFIED" ? "No need" : NEED[g.need] || g.need) + " " +
        (g.hidden || g.clients === undefined ? "not counted" : String(g.clients))).join(" · ") +
        " (groups of fewer than 10 clients are not counted)" : "";
      state.textContent = rows.length ? rows.length + " client" + (rows.length > 1 ? "s" : "") :
        ($("changed-only").checked ? "Nothing changed since your last reviews." : "No clients are assigned to you yet.");
      state.dataset.state = "loaded";
    } catch (e) {
      tbody.replaceChildren();
      state.textContent = "The roster could not be loaded: " + e.message;
      state.dataset.state = "error";
    }
  }

  // ---- client page ------------------------------------------------------
  function notShared(scopes, scope) {
    return (scopes || []).includes(scope)
      ? h("p", { class: "notshared", "data-scope": scope }, "Not shared: the client has not granted " + (SCOPE_NAMES[scope] || scope) + ".")
      : null;
  }
  let chartSeq = 0;
  // chart draws a 30-day series as inline SVG with a title, a description
  // and a data table behind a toggle.
  function chart(kind, days) {
    const n = ++chartSeq;
    const W = 360, H = 140, L = 28, B = 20, T = 8, R = 6;
    const pw = W - L - R, ph = H - T - B;
    const xs = (i) => L + (days.length > 1 ? (i * pw) / (days.length - 1) : pw / 2);
    const isMood = kind === "mood";
    const title = isMood ? "Mood, last 30 days" : "Urges, last 30 days";
    const vals = days.map((d) => (isMood ? d.moodAverage : d.urges || 0));
    const known = vals.filter((v) => v !== undefined && v !== null);
    let desc;
    if (isMood) {
      desc = known.length
        ? "Daily mean mood on a scale from −3 to +3. " + known.length + " days with a check-in; lowest " +
          Math.min(...known).toFixed(1) + ", highest " + Math.max(...known).toFixed(1) + ", latest " + known[known.length - 1].toFixed(1) + "."
        : "No check-ins in the last 30 days.";
    } else {
      const total = known.reduce((a, b) => a + b, 0);
      desc = "Urges logged per day. " + total + " in 30 days; most in one day: " + (known.length ? Math.max(...known) : 0) + ".";
    }
    const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `ct${n} cd${n}`, "data-chart": kind },
      s("title", { id: `ct${n}` }, title), s("desc", { id: `cd${n}` }, desc));
    const minV = isMood ? -3 : 0;
    const maxV = isMood ? 3 : Math.max(3, ...known);
    const ys = (v) => T + ph - ((v - minV) * ph) / (maxV - minV);
    for (const g of isMood ? [-3, 0, 3] : [0, maxV]) {
      svg.append(s("line", { class: "grid", x1: L, x2: W - R, y1: ys(g), y2: ys(g) }),
        s("text", { x: L - 4, y: ys(g) + 3, "text-anchor": "end" }, isMood && g > 0 ? "+" + g : g));
    }
    svg.append(s("line", { class: "axis", x1: L, x2: L, y1: T, y2: T + ph }));
    if (days.length) {
      svg.append(s("text", { x: L, y: H - 4 }, days[0].localDate || ""),
        s("text", { x: W - R, y: H - 4, "text-anchor": "end" }, days[days.length - 1].localDate || ""));
    }
    if (isMood) {
      let d = "";
      vals.forEach((v, i) => {
        if (v === undefined || v === null) return;
        d += (d ? " L" : "M") + xs(i).toFixed(1) + " " + ys(v).toFixed(1);
        svg.append(s("circle", { class: "mood-dot", cx: xs(i), cy: ys(v), r: 2.5 }));
      });
      if (d) svg.prepend(s("path", { class: "mood-line", d }));
    } else {
      const bw = Math.max(2, pw / Math.max(days.length, 1) - 2);
      vals.forEach((v, i) => {
        if (!v) return;
        svg.append(s("rect", { class: "urge-bar", x: xs(i) - bw / 2, y: ys(v), width: bw, height: ys(0) - ys(v) }));
      });
    }
    const tableId = `chart-table-${n}`;
    const table = h("table", { id: tableId, hidden: true },
      h("caption", {}, title + " (data)"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"),
        isMood ? [h("th", { scope: "col" }, "Mean mood"), h("th", { scope: "col" }, "Check-ins")]
          : [h("th", { scope: "col" }, "Urges"), h("th", { scope: "col" }, "Strongest")])),
      h("tbody", {}, days.map((d) => h("tr", {}, h("th", { scope: "row" }, d.localDate),
        isMood ? [h("td", {}, d.moodAverage === undefined ? "—" : Number(d.moodAverage).toFixed(1)), h("td", {}, d.checkins || 0)]
          : [h("td", {}, d.urges || 0), h("td", {}, d.maxUrgeIntensity === undefined ? "—" : d.maxUrgeIntensity)]))));
    const toggle = h("button", { type: "button", class: "secondary", "aria-expanded": "false", "aria-controls": tableId }, "Show data table");
    toggle.addEventListener("click", () => {
      table.hidden = !table.hidden;
      toggle.setAttribute("aria-expanded", String(!table.hidden));
      toggle.textContent = table.hidden ? "Show data table" : "Hide data table";
    });
    return h("div", { class: "card" }, h("h3", {}, title), svg, toggle, table);
  }

  function timelineText(it) {
    const kind = enumText(it.kind, "CARE_TIMELINE_KIND_");
    const parts = [kind];
    if (it.attemptNumber) parts.push("attempt " + it.attemptNumber);
    if (it.milestoneDay) parts.push("day " + it.milestoneDay);
    if (it.direction && it.direction !== "CONTACT_DIRECTION_UNSPECIFIED") parts.push(enumText(it.direction, "CONTACT_DIRECTION_"));
    if (it.channel && it.channel !== "CHANNEL_UNSPECIFIED") parts.push("by " + enumText(it.channel, "CHANNEL_"));
    if (it.endReason && it.endReason !== "ATTEMPT_END_REASON_UNSPECIFIED") parts.push("ended: " + enumText(it.endReason, "ATTEMPT_END_REASON_"));
    if (it.days) parts.push(it.days + " days");
    return parts.join(" · ");
  }
  function counts(obj, prefix) {
    const e = Object.entries(obj || {});
    if (!e.length) return h("p", { class: "muted" }, "None");
    return h("ul", { class: "plain" }, e.map(([k, v]) => h("li", {}, enumText(k, prefix) + ": " + v)));
  }

  function riskFlags(clientId, flags) {
    if (!flags.length) return h("p", { class: "muted" }, "No risk flags.");
    const rows = flags.map((f) => {
      const open = ["RISK_FLAG_STATUS_RAISED", "RISK_FLAG_STATUS_ESCALATED", "RISK_FLAG_STATUS_ACKNOWLEDGED"].includes(f.status);
      const label = severity(f.severity) + " flag raised " + fmtTime(f.raiseTime);
      const act = (verb) => async (ev) => {
        ev.target.disabled = true;
        try {
          await api("POST", `/v1/clients/${encodeURIComponent(clientId)}/risk-flags/${encodeURIComponent(f.id)}:${verb}`, {});
          flash(verb === "acknowledge" ? "Risk flag acknowledged." : "Risk flag resolved.");
          await loadClient(clientId, true);
        } catch (e) {
          ev.target.disabled = false;
          flash("");
          $("client-error").textContent = "Could not " + verb + " the flag: " + e.message;
        }
      };
      return h("tr", { "data-flag-id": f.id, "data-status": f.status },
        h("td", {}, h("span", { class: "sev sev-" + severity(f.severity) }, "⚠ " + severity(f.severity))),
        h("td", {}, enumText(f.reason, "RISK_REASON_"), f.category && f.category !== "RISK_CATEGORY_UNSPECIFIED" ? " (" + enumText(f.category, "RISK_CATEGORY_") + ")" : ""),
        h("td", { class: "flag-status" }, enumText(f.status, "RISK_FLAG_STATUS_"), f.acknowledgedBy ? " by " + f.acknowledgedBy : ""),
        h("td", {}, fmtTime(f.raiseTime)),
        h("td", {},
          f.status === "RISK_FLAG_STATUS_RAISED" || f.status === "RISK_FLAG_STATUS_ESCALATED"
            ? h("button", { type: "button", class: "ack", "aria-label": "Acknowledge " + label, onclick: act("acknowledge") }, "Acknowledge") : null,
          open ? [" ", h("button", { type: "button", class: "secondary resolve", "aria-label": "Resolve " + label, onclick: act("resolve") }, "Resolve")] : null));
    });
    return h("div", { class: "scroll", role: "region", "aria-label": "Risk flags", tabindex: "0" },
      h("table", {}, h("caption", {}, "Risk flags, open first"),
        h("thead", {}, h("tr", {}, ["Severity", "Reason", "Status", "Raised", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows)));
  }

  async function loadClient(id, keepFlash) {
    $("client").hidden = false;
    if (!keepFlash) flash("");
    $("client-title").textContent = "Client " + id;
    document.title = "Client " + id + " · Counsellor dashboard";
    const body = $("client-body");
    body.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    let data;
    try {
      data = await api("GET", "/v1/dashboard/clients/" + encodeURIComponent(id));
    } catch (e) {
      body.replaceChildren(h("p", { class: "error", role: "alert" }, "This client could not be loaded: " + e.message));
      return;
    }
    showBanner(data.unavailable);
    const d = data.detail || {};
    const row = d.row || { clientId: id, missingScopes: [] };
    const missing = row.missingScopes || [];
    const review = h("button", { type: "button", id: "mark-reviewed" }, "Mark reviewed");
    review.addEventListener("click", async () => {
      review.disabled = true;
      try {
        const r = await api("POST", `/v1/clients/${encodeURIComponent(id)}/reviews`, {});
        // The route answers the Review itself (response_body: "review").
        flash("Marked reviewed " + fmtTime(r && r.reviewTime) + ".");
        await loadClient(id, true);
      } catch (e) {
        review.disabled = false;
        $("client-error").textContent = "Could not mark reviewed: " + e.message;
      }
    });
    const days = d.days || [];
    body.replaceChildren(
      h("p", { id: "client-error", class: "error", role: "alert" }),
      h("div", { class: "toolbar" }, review,
        h("span", { id: "review-state", "data-reviewed": row.reviewTime ? "true" : null }, row.reviewTime ? "Last reviewed " + fmtTime(row.reviewTime) : "Never reviewed"),
        missing.length ? h("span", { class: "notshared" }, "Not shared: " + missing.map((m) => SCOPE_NAMES[m] || m).join(", ")) : null),
      h("h2", {}, "Summary"),
      h("dl", { class: "facts" },
        h("dt", {}, "Need"), h("dd", {}, NEED[row.need] || "—"),
        h("dt", {}, "Plan"), h("dd", {}, row.planStatus ? enumText(row.planStatus, "PLAN_STATUS_") : missing.includes("PLAN_PROGRESS") ? "Not shared" : "—"),
        h("dt", {}, "Streak"), h("dd", {}, row.currentStreakDays !== undefined ? plural(row.currentStreakDays, "day") : "—"),
        h("dt", {}, "Time zone"), h("dd", {}, row.timeZone || "—")),
      h("h2", {}, "Mood and urges"),
      notShared(missing, "MOOD_INSIGHTS") || h("div", { class: "grid2" }, chart("mood", days), chart("urges", days)),
      h("h2", {}, "Risk flags"),
      notShared(missing, "RISK_ALERTS") || riskFlags(id, d.riskFlags || []),
      h("h2", {}, "Timeline"),
      notShared(missing, "PLAN_PROGRESS") || ((d.timeline || []).length
        ? h("ol", { class: "timeline" }, d.timeline.map((it) => h("li", {}, h("time", { datetime: it.time || "" }, it.localDate || fmtTime(it.time)), " — " + timelineText(it))))
        : h("p", { class: "muted" }, "Nothing yet.")),
      h("h2", {}, "Slips"),
      notShared(missing, "PLAN_PROGRESS") || (d.slips ? h("div", { class: "grid2" },
        h("div", { class: "card" }, h("h3", {}, "Who initiated"), counts(d.slips.byDirection, "CONTACT_DIRECTION_")),
        h("div", { class: "card" }, h("h3", {}, "Channel"), counts(d.slips.byChannel, "CHANNEL_")),
        h("div", { class: "card" }, h("h3", {}, "Hour of day (local)"),
          h("p", {}, (d.slips.byHour || []).map((c, hr) => (c ? String(hr).padStart(2, "0") + ":00 × " + c : null)).filter(Boolean).join(", ") || "None")),
        h("div", { class: "card" }, h("h3", {}, "Triggers named around slips"),
          missing.includes("MOOD_INSIGHTS") ? h("p", { class: "notshared" }, "Not shared (mood insights)")
            : (d.slipTriggers || []).length ? h("ul", { class: "plain" }, d.slipTriggers.map((t) => h("li", {}, t.trigger + ": " + t.count))) : h("p", { class: "muted" }, "None")),
        h("p", {}, "Total slips: " + (d.slips.total || 0))) : h("p", { class: "muted" }, "No slips.")),
      h("h2", {}, "Shared entries"),
      notShared(missing, "SHARED_JOURNAL") || ((d.sharedEntries || []).length
        ? d.sharedEntries.map((e) => h("article", { class: "card" }, h("h3", {}, e.title || enumText(e.kind, "ENTRY_KIND_") + " · " + (e.localDate || "")), h("blockquote", {}, e.body || "")))
        : h("p", { class: "muted" }, "No entries shared.")),
      h("h2", {}, "My access to this client's data"),
      (d.accessLog || []).length ? h("div", { class: "scroll", role: "region", "aria-label": "Access log", tabindex: "0" },
        h("table", {}, h("caption", {}, "Your reads of this client's data, newest first"),
          h("thead", {}, h("tr", {}, ["When", "Action", "Resource", "Outcome"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, d.accessLog.map((a) => h("tr", {}, h("td", {}, fmtTime(a.time)), h("td", {}, a.action), h("td", {}, a.resource), h("td", {}, enumText(a.outcome, "ACCESS_OUTCOME_")))))))
        : h("p", { class: "muted" }, "No reads recorded."),
    );
  }

  // ---- live feed --------------------------------------------------------
  // fetch + ReadableStream (EventSource cannot send Authorization); NDJSON
  // lines {"result": {"notification": ...}}; reconnects with backoff from
  // the last id seen, so nothing is missed in between.
  const feed = {
    ctrl: null, timer: null, backoff: 1000,
    setState(state, text) { const el = $("feed-state"); el.dataset.state = state; el.textContent = text; },
    stop() {
      clearTimeout(this.timer);
      if (this.ctrl) this.ctrl.abort();
      this.ctrl = null;
      $("feed-list").replaceChildren();
      this.setState("closed", "Not connected");
    },
    start() {
      if (this.ctrl || !token()) return;
      this.ctrl = new AbortController();
      this.run(this.ctrl.signal);
    },
    async run(signal) {
      const last = sessionStorage.getItem(LAST_ID_KEY);
      const url = "/v1/notifications:stream" + (last ? "?afterId=" + encodeURIComponent(last) : "");
      this.setState("connecting", "Connecting…");
      try {
        const resp = await fetch(url, { headers: { Authorization: "Bearer " + token() }, signal });
        if (resp.status === 401) { signOut("Your session ended. Sign in again."); return; }
        if (!resp.ok || !resp.body) throw new Error("HTTP " + resp.status);
        this.setState("open", "Live");
        this.backoff = 1000;
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line) this.line(line);
          }
        }
        throw new Error("the feed closed");
      } catch (e) {
        if (signal.aborted) return;
        const wait = this.backoff;
        this.backoff = Math.min(this.backoff * 2, 30000);
        this.setState("reconnecting", "Disconnected; reconnecting in " + Math.round(wait / 1000) + " s");
        this.timer = setTimeout(() => { if (!signal.aborted) this.run(signal); }, wait);
      }
    },
    line(line) {
      let msg;
      try { msg = JSON.parse(line); } catch (e) { return; }
      if (msg.error) throw new Error(msg.error.message || "stream error");
      const n = msg.result && msg.result.notification;
      if (!n) return;
      sessionStorage.setItem(LAST_ID_KEY, n.id);
      const item = h("li", { "data-notification-id": n.id, "data-kind": n.kind },
        n.urgent ? h("span", { class: "urgent" }, "Urgent: ") : null,
        h("strong", {}, n.title || enumText(n.kind, "NOTIFICATION_KIND_")),
        n.body ? h("span", {}, " " + n.body) : null,
        n.clientId ? [" ", h("a", { href: "#/clients/" + encodeURIComponent(n.clientId) }, "Open " + n.clientId)] : null,
        h("span", { class: "when" }, fmtTime(n.createTime)));
      const list = $("feed-list");
      list.prepend(item);
      while (list.children.length > 50) list.lastChild.remove();
    },
  };

  // ---- wiring -----------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = $("token").value;
      if (v.trim()) { $("token").value = ""; signIn(v); }
    });
    const dev = $("devtoken");
    if (dev) {
      dev.addEventListener("click", async () => {
        try {
          const resp = await fetch("/dashboard/dev-token", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
          if (!resp.ok) throw new Error("HTTP " + resp.status);
          signIn((await resp.json()).token);
        } catch (e) {
          $("signin-error").textContent = "Could not get a development token: " + e.message;
        }
      });
    }
    $("signout").addEventListener("click", () => signOut(""));
    $("changed-only").addEventListener("change", loadRoster);
    $("refresh").addEventListener("click", loadRoster);
    window.addEventListener("hashchange", () => { route(); $("main").focus(); });
    if (token()) feed.start();
    route();
  });
})();

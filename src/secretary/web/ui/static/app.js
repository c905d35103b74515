/* Secretary UI: keyboard shortcuts, live updates, the approval queue's undo and the pages
   that call other APIs. A static file (the CSP allows no inline script); no build step.
   Everything here enhances server-rendered pages that work without it. */
(function () {
  "use strict";

  var body = document.body;
  var csrf = body.getAttribute("data-csrf") || "";
  var baseTitle = document.title;
  var unseen = 0;

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function post(url, data) {
    var form = new FormData();
    form.append("csrf_token", csrf);
    Object.keys(data || {}).forEach(function (k) { form.append(k, data[k]); });
    return fetch(url, { method: "POST", body: form, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf } });
  }
  function apiJSON(url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({ "Accept": "application/json", "X-CSRF-Token": csrf },
      options.headers || {});
    return fetch(url, options);
  }
  function announce(text, href, linkText) {
    var live = $("#live");
    if (!live) return;
    live.textContent = text + " ";
    if (href) live.appendChild(el("a", { href: href }, linkText || "Open"));
    live.hidden = false;
  }

  /* ---- selection and keyboard ------------------------------------------------------- */
  function items() { return $all("[data-item]"); }
  function selected() { return $(".is-selected[data-item]"); }
  function select(node) {
    items().forEach(function (n) { n.classList.remove("is-selected"); n.removeAttribute("aria-current"); });
    if (!node) return;
    node.classList.add("is-selected");
    node.setAttribute("aria-current", "true");
    node.scrollIntoView({ block: "nearest" });
    var focusable = node.querySelector("[data-open]") || node;
    if (focusable && document.activeElement !== focusable) focusable.focus({ preventScroll: true });
  }
  function move(step) {
    var list = items();
    if (!list.length) return;
    var idx = list.indexOf(selected());
    idx = idx < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, idx + step));
    select(list[idx]);
  }
  function click(sel) {
    var item = selected() || items()[0];
    if (!item) return;
    var target = item.querySelector(sel);
    if (target) { select(item); target.click(); }
  }

  var pendingG = false;
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var t = ev.target;
    var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
    if (ev.key === "Escape") {
      if (typing) t.blur();
      var dlg = $("#shortcuts");
      if (dlg && dlg.open) dlg.close();
      return;
    }
    if (typing) return;
    var key = ev.key;
    if (pendingG) {
      pendingG = false;
      var dest = { i: "/triage", d: "/drafts", s: "/schedule", h: "/" }[key];
      if (dest) { ev.preventDefault(); window.location.href = dest; }
      return;
    }
    switch (key) {
      case "j": ev.preventDefault(); move(1); break;
      case "k": ev.preventDefault(); move(-1); break;
      case "o": case "Enter":
        if (key === "Enter" && t && t !== body && t.matches("a, button")) return;
        ev.preventDefault(); click("[data-open]"); break;
      case "x": ev.preventDefault(); click("input[type=checkbox][data-pick]"); break;
      case "a": ev.preventDefault(); click("[data-approve]"); break;
      case "e":
        ev.preventDefault();
        var item = selected() || items()[0];
        var area = item && item.querySelector("textarea");
        if (area) { select(item); area.focus(); }
        break;
      case "r": ev.preventDefault(); click("[data-reject]"); break;
      case "/": ev.preventDefault(); var q = $("#q") || $("#bar-q"); if (q) { q.focus(); q.select(); } break;
      case "?": ev.preventDefault(); var d = $("#shortcuts"); if (d && !d.open) d.showModal(); break;
      case "g": pendingG = true; break;
      default: break;
    }
  });
  items().forEach(function (node) {
    node.addEventListener("focusin", function () {
      if (!node.classList.contains("is-selected")) {
        items().forEach(function (n) { n.classList.remove("is-selected"); n.removeAttribute("aria-current"); });
        node.classList.add("is-selected");
        node.setAttribute("aria-current", "true");
      }
    });
  });

  /* ---- live updates: the SSE stream, a count in the tab title ------------------------ */
  function bumpTitle() {
    unseen += 1;
    document.title = "(" + unseen + ") " + baseTitle;
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && body.getAttribute("data-page") !== "drafts") return;
  });
  function insertFragment(url, listSel, position) {
    var list = $(listSel);
    if (!list) return Promise.resolve(false);
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) return false;
      return r.text().then(function (html) {
        if (!html.trim()) return false;
        var tpl = document.createElement("template");
        tpl.innerHTML = html.trim();
        var node = tpl.content.firstElementChild;
        if (!node || (node.id && document.getElementById(node.id))) return false;
        list.insertAdjacentElement(position || "afterbegin", node);
        var empty = $("[data-empty]");
        if (empty) empty.hidden = true;
        return true;
      });
    });
  }
  function onTriaged(data) {
    bumpTitle();
    var page = body.getAttribute("data-page");
    var id = data.message_id;
    if (page === "drafts") {
      insertFragment("/fragments/drafts/for-message/" + id, "#queue", "afterbegin").then(function (added) {
        if (added) announce("A new draft arrived.", null);
      });
    } else if (page === "triage") {
      insertFragment("/fragments/inbox/" + id, "#live-rows", "afterbegin");
      announce("New message triaged as " + String(data.category || "").replace("_", " ") + ".",
        "/messages/" + id, "Open it");
    } else {
      announce("New message triaged as " + String(data.category || "").replace("_", " ") + ".",
        "/messages/" + id, "Open it");
    }
    var badge = $("#nav-pending");
    if (badge && data.category === "needs_reply") badge.textContent = String(Number(badge.textContent || 0) + 1);
  }
  if (window.EventSource && body.getAttribute("data-live") !== "off") {
    var source = new EventSource("/api/v1/events");
    source.addEventListener("ready", function () { body.setAttribute("data-live-ready", "1"); });
    source.addEventListener("triage.completed", function (ev) {
      try { onTriaged(JSON.parse(ev.data)); } catch (e) { /* a malformed event is ignored */ }
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  /* ---- inbox: bulk selection ------------------------------------------------------- */
  var bulk = $("#bulk");
  if (bulk) {
    var countOut = $("#bulk-count");
    var refresh = function () {
      var n = $all("input[data-pick]:checked").length;
      if (countOut) countOut.textContent = n ? n + " selected" : "none selected";
      $all("button[data-bulk]", bulk).forEach(function (b) { b.disabled = n === 0; });
    };
    document.addEventListener("change", function (ev) {
      if (ev.target.matches("input[data-pick]")) refresh();
      if (ev.target.matches("#pick-all")) {
        $all("input[data-pick]").forEach(function (c) { c.checked = ev.target.checked; });
        refresh();
      }
    });
    refresh();
  }

  /* ---- thread reader: show remote images on request ---------------------------------- */
  $all("[data-show-images]").forEach(function (button) {
    button.addEventListener("click", function () {
      var frame = document.getElementById(button.getAttribute("data-show-images"));
      if (!frame) return;
      frame.src = frame.getAttribute("data-src") + "?images=1";
      button.disabled = true;
      button.textContent = "Images shown";
    });
  });

  /* ---- approval queue: reject with confirmation and undo ----------------------------- */
  var UNDO_SECONDS = 5;
  $all("[data-reject-form]").forEach(function (form) {
    var card = form.closest("[data-item]");
    var box = form.closest("details");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var reason = (form.querySelector("input[name=reason]") || { value: "" }).value;
      var url = form.getAttribute("data-reject-form");
      var bar = el("div", { "class": "undo", role: "status" });
      var note = el("span", {}, "Draft rejected. It is removed from Gmail in " + UNDO_SECONDS + " s.");
      bar.appendChild(note);
      var undo = el("button", { type: "button", "data-undo": "" }, "Undo");
      bar.appendChild(undo);
      card.parentNode.insertBefore(bar, card);
      card.hidden = true;
      var done = false;
      var beacon = function () {
        if (done) return;
        done = true;
        var data = new FormData(form);
        navigator.sendBeacon(url, data);
      };
      var commit = function () {
        if (done) return;
        done = true;
        window.removeEventListener("pagehide", beacon);
        post(url, { reason: reason, origin: "queue" }).then(function (r) {
          note.textContent = r.ok ? "Draft rejected and removed from Gmail." : "Could not reject: reload the page.";
          undo.remove();
          if (r.ok) { card.remove(); bar.setAttribute("data-rejected", "1"); } else { card.hidden = false; }
        });
      };
      var timer = window.setTimeout(commit, UNDO_SECONDS * 1000);
      window.addEventListener("pagehide", beacon);
      undo.addEventListener("click", function () {
        window.clearTimeout(timer);
        window.removeEventListener("pagehide", beacon);
        done = true;
        bar.remove();
        card.hidden = false;
        if (box) box.open = false;
        select(card);
      });
      undo.focus();
    });
  });
  document.addEventListener("toggle", function (ev) {
    var box = ev.target;
    if (box.classList && box.classList.contains("reject-box") && box.open) {
      var input = box.querySelector("input[name=reason]");
      if (input) input.focus();
    }
  }, true);

  /* ---- search ---------------------------------------------------------------------- */
  var searchForm = $("#search-form");
  if (searchForm) {
    var results = $("#results");
    var runSearch = function () {
      var q = $("#q").value.trim();
      var kind = ($("#kind") || { value: "" }).value;
      results.textContent = "";
      if (!q) return;
      var params = new URLSearchParams({ q: q, limit: "20" });
      if (kind) params.set("kind", kind);
      results.setAttribute("aria-busy", "true");
      apiJSON("/api/v1/search?" + params.toString()).then(function (r) {
        if (r.status === 404) { $("#search-missing").hidden = false; return null; }
        if (!r.ok) throw new Error("search failed (" + r.status + ")");
        return r.json();
      }).then(function (data) {
        if (!data) return;
        var list = data.results || [];
        $("#search-count").textContent = list.length + " result" + (list.length === 1 ? "" : "s");
        list.forEach(function (hit) {
          var li = el("li", { "data-item": "" });
          var href = hit.kind === "email" ? "/messages/by-gmail/" + encodeURIComponent(hit.id) : null;
          var title = el(href ? "a" : "span", href ? { href: href, "data-open": "" } : { "class": "subject" }, hit.title || "(untitled)");
          li.appendChild(el("span", { "class": "pill" }, hit.kind));
          li.appendChild(document.createTextNode(" "));
          li.appendChild(title);
          li.appendChild(el("div", { "class": "muted small" }, hit.snippet || ""));
          results.appendChild(li);
        });
      }).catch(function (err) {
        results.appendChild(el("li", { "class": "error-text" }, err.message));
      }).finally(function () { results.removeAttribute("aria-busy"); });
    };
    searchForm.addEventListener("submit", function (ev) { ev.preventDefault(); history.replaceState(null, "", "/search?q=" + encodeURIComponent($("#q").value)); runSearch(); });
    if ($("#q").value) runSearch();
  }

  /* ---- ask: a streamed answer with clickable citations ------------------------------ */
  var askForm = $("#ask-form");
  if (askForm) {
    var answer = $("#answer");
    var cites = $("#citations");
    var conversation = null;
    var citeLink = function (c) {
      var li = el("li");
      var href = c.kind === "email" ? "/messages/by-gmail/" + encodeURIComponent(c.id) : null;
      li.appendChild(el(href ? "a" : "span", href ? { href: href } : {}, (c.title || c.id) + " (" + c.kind + ")"));
      cites.appendChild(li);
    };
    askForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var question = $("#question").value.trim();
      if (!question) return;
      answer.textContent = "";
      cites.textContent = "";
      answer.setAttribute("aria-busy", "true");
      var payload = { question: question };
      if (conversation) payload.conversation_id = conversation;
      apiJSON("/api/v1/ask", { method: "POST", headers: { "Content-Type": "application/json", "Accept": "text/event-stream" }, body: JSON.stringify(payload) })
        .then(function (r) {
          if (r.status === 404 || r.status === 405) { $("#ask-missing").hidden = false; return; }
          if (!r.ok) throw new Error("ask failed (" + r.status + ")");
          var type = r.headers.get("content-type") || "";
          if (type.indexOf("text/event-stream") < 0 || !r.body) {
            return r.json().then(function (data) { finish(data); });
          }
          var reader = r.body.getReader();
          var decoder = new TextDecoder();
          var buffer = "";
          var pump = function () {
            return reader.read().then(function (chunk) {
              if (chunk.done) return;
              buffer += decoder.decode(chunk.value, { stream: true });
              var parts = buffer.split("\n\n");
              buffer = parts.pop();
              parts.forEach(handleEvent);
              return pump();
            });
          };
          return pump();
        })
        .catch(function (err) { answer.textContent = err.message; })
        .finally(function () { answer.removeAttribute("aria-busy"); });
    });
    var handleEvent = function (block) {
      var name = "message";
      var data = "";
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) name = line.slice(6).trim();
        else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
      });
      var parsed = null;
      try { parsed = JSON.parse(data); } catch (e) { parsed = data; }
      if (name === "delta") answer.textContent += (parsed && parsed.text !== undefined) ? parsed.text : String(parsed || "");
      else if (name === "citation" && parsed) citeLink(parsed);
      else if (name === "done" && parsed) finish(parsed, true);
    };
    var finish = function (data, streamed) {
      conversation = data.conversation_id || conversation;
      if (!streamed || !answer.textContent) answer.textContent = data.answer || "";
      if (!cites.children.length) (data.citations || []).forEach(citeLink);
    };
  }

  /* ---- schedule: preferences and proposed slots ------------------------------------- */
  var prefsForm = $("#prefs-form");
  if (prefsForm) {
    var days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    var status = $("#prefs-status");
    var fill = function (p) {
      $("#time_zone").value = p.time_zone || "UTC";
      $("#buffer_minutes").value = p.buffer_minutes != null ? p.buffer_minutes : 10;
      $("#minimum_notice_minutes").value = p.minimum_notice_minutes != null ? p.minimum_notice_minutes : 240;
      $("#slot_step_minutes").value = p.slot_step_minutes != null ? p.slot_step_minutes : 30;
      $("#max_meetings_per_day").value = p.max_meetings_per_day != null ? p.max_meetings_per_day : "";
      days.forEach(function (d) {
        var hours = (p.working_hours || {})[d];
        $("#on-" + d).checked = !!(hours && hours.length);
        if (hours && hours.length) { $("#from-" + d).value = hours[0][0]; $("#to-" + d).value = hours[0][1]; }
      });
    };
    var current = {};
    apiJSON("/api/v1/preferences/scheduling").then(function (r) {
      if (r.status === 404) { $("#schedule-missing").hidden = false; prefsForm.querySelector("button[type=submit]").disabled = true; return null; }
      return r.ok ? r.json() : null;
    }).then(function (p) { if (p) { current = p; fill(p); loadSlots(p); } });
    prefsForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var hours = {};
      days.forEach(function (d) {
        if ($("#on-" + d).checked) hours[d] = [[$("#from-" + d).value, $("#to-" + d).value]];
      });
      var maxPerDay = $("#max_meetings_per_day").value;
      var payload = Object.assign({}, current, {
        time_zone: $("#time_zone").value,
        working_hours: hours,
        buffer_minutes: Number($("#buffer_minutes").value),
        minimum_notice_minutes: Number($("#minimum_notice_minutes").value),
        slot_step_minutes: Number($("#slot_step_minutes").value),
        max_meetings_per_day: maxPerDay === "" ? null : Number(maxPerDay),
        no_meeting_days: days.filter(function (d) { return !hours[d]; })
      });
      status.textContent = "Saving…";
      apiJSON("/api/v1/preferences/scheduling", { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) })
        .then(function (r) {
          if (!r.ok) return r.text().then(function (t) { throw new Error("Not saved (" + r.status + "): " + t.slice(0, 200)); });
          return r.json();
        })
        .then(function (p) { current = p; status.textContent = "Preferences saved."; loadSlots(p); })
        .catch(function (err) { status.textContent = err.message; });
    });
    var loadSlots = function (p) {
      var week = $("#week");
      if (!week) return;
      var start = week.getAttribute("data-start");
      var end = week.getAttribute("data-end");
      apiJSON("/api/v1/availability", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ duration_minutes: 30, start: start, end: end, max_slots: 40, time_zone: p.time_zone }) })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          $all(".slot", week).forEach(function (n) { n.remove(); });
          if (!data) return;
          (data.slots || []).forEach(function (s) {
            var day = week.querySelector("[data-day='" + s.start.slice(0, 10) + "']");
            if (day) day.appendChild(el("div", { "class": "slot" }, "free " + s.start.slice(11, 16) + "–" + s.end.slice(11, 16)));
          });
        });
    };
  }

  /* ---- rules: move up / down without a reload --------------------------------------- */
  /* (the forms post and redirect; nothing to enhance yet) */
})();

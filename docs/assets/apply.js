/* The 在线申报 form, enhanced. Without this script the form still posts as plain HTML.
 *
 * Everything about fields comes from the JSON Schema the build embedded in the page (#form-schema): which
 * fields exist, their titles, limits, patterns and the Chinese message templates (x-messages) the server
 * uses too. Control names/ids are the API's error paths, so server errors land on the right control.
 * No framework, no external requests: only /api/* on this origin and the presigned storage URL.
 */
(function () {
  "use strict";

  var form = document.getElementById("apply-form");
  var schemaNode = document.getElementById("form-schema");
  // site.js (on every page, loaded first) formats times and makes the one /api/campaign request of a page load.
  if (!form || !schemaNode || !window.fetch || !window.localStorage || !window.bdpilot) return;
  var beijingTime = window.bdpilot.beijingTime;

  var schema = JSON.parse(schemaNode.textContent);
  var M = schema["x-messages"];
  // What this script says and the figures it checks, from the server's catalogue and settings (formhtml.py's
  // schema_script): no sentence, limit or label is typed here. A missing key shows its name, not a guess.
  var W = schema["x-wording"] || {};
  var FIGURES = schema["x-figures"] || {};
  function say(key, params) { return fmt(key in W ? W[key] : key, params || {}); }
  var DRAFT = "bdpilot.apply.draft";
  var RECEIPT = "bdpilot.apply.receipt"; // the last 201 answer, so the receipt and paper copy survive a reload
  // The server refuses a form token older than settings.TOKEN_MAX_AGE_SECONDS; a draft's token is replaced an
  // hour before that, so it cannot expire between restoring and submitting.
  var TOKEN_MAX_MS = (FIGURES.token_max_age_seconds - 3600) * 1000;
  var USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"; // GB 32100-2015
  var USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

  var statusBox = document.getElementById("apply-status");
  var after = document.getElementById("apply-after");
  var submitButton = document.getElementById("apply-submit");
  var state = { token: "", key: "", attachments: [], maxBytes: FIGURES.max_upload_bytes, open: true, busy: false };
  var draftOffered = false;
  var campaignToken = ""; // the fresh token /api/campaign gave this page
  // Revise mode (?revise=TOKEN, the receipt link's token): the form opens filled from the stored record, keeps
  // or replaces its attachments, and posts a new version to /api/receipt/revision. No draft is kept meanwhile.
  var reviseToken = new URLSearchParams(location.search).get("revise") || "";
  function receiptApi(path) { return "/api/receipt/" + path + "?t=" + encodeURIComponent(reviseToken); }

  // ---- small helpers -------------------------------------------------------------------------------------
  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "on") Object.keys(attrs.on).forEach(function (e) { node.addEventListener(e, attrs.on[e]); });
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  function fmt(template, params) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return k in params ? String(params[k]) : m; });
  }
  function idOf(path) { return path.replace(/\./g, "-"); }
  function byId(id) { return document.getElementById(id); }
  function hidden(text) { return h("span", { "class": "apply-vh", text: text }); }
  function announce(text) {
    var live = byId("apply-live");
    live.textContent = "";
    setTimeout(function () { live.textContent = text; }, 50);
  }
  function sizeText(n) {
    return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB";
  }
  function newKey() {
    var bytes = new Uint8Array(18);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  // A form token starts with the milliseconds it was issued at (bdpilot.tokens.issue).
  function tokenStale(token) {
    var issued = parseInt(String(token || "").split(".")[0], 10);
    return !issued || Date.now() - issued > TOKEN_MAX_MS;
  }
  // Full-width digits and letters typed on a Chinese keyboard count as ASCII, as on the server.
  function halfwidth(v) {
    return v.normalize("NFKC").replace(/[\uff0d\u2014]/g, "-").replace(/\s+/g, "");
  }

  // ---- the schema, walked the same way formhtml.py walks it ----------------------------------------------
  function resolve(node) {
    if (!node.$ref) return node;
    var target = schema.$defs[node.$ref.split("/").pop()];
    var merged = {};
    Object.keys(target).forEach(function (k) { merged[k] = target[k]; });
    Object.keys(node).forEach(function (k) { if (k !== "$ref") merged[k] = node[k]; });
    return merged;
  }
  var sections = Object.keys(schema.properties).map(function (key) {
    var node = resolve(schema.properties[key]);
    var widget = node["x-widget"] || (node.type === "object" ? "section" : "text");
    var path = "application." + key;
    var fields;
    if (widget === "section") {
      fields = Object.keys(node.properties).map(function (name) {
        var spec = resolve(node.properties[name]);
        return { path: path + "." + name, name: name, title: spec.title, spec: spec,
                 widget: spec["x-widget"] || "text", required: (node.required || []).indexOf(name) >= 0 };
      });
    } else {
      fields = [{ path: path, name: key, title: node.title, spec: node, widget: widget,
                  required: (schema.required || []).indexOf(key) >= 0 }];
    }
    return { key: key, title: node.title, widget: widget, spec: node, fields: fields };
  });
  var fields = [];
  sections.forEach(function (s) { if (s.widget !== "attachments") fields = fields.concat(s.fields); });
  var kinds = sections.filter(function (s) { return s.widget === "attachments"; })[0].spec["x-kinds"];
  function control(f) { return byId(idOf(f.path)); }
  function fieldByName(section, name) {
    return fields.filter(function (f) { return f.path === "application." + section + "." + name; })[0];
  }

  // ---- values --------------------------------------------------------------------------------------------
  function raw(f) {
    var c = control(f);
    return c.type === "checkbox" ? c.checked : c.value;
  }
  function setRaw(f, v) {
    var c = control(f);
    if (c.type === "checkbox") c.checked = v === true;
    else c.value = v === undefined || v === null ? "" : v;
  }
  function applies(f) { // x-required-when: the field only counts when its condition holds
    var when = f.spec["x-required-when"];
    if (!when) return true;
    var section = f.path.split(".")[1];
    return Object.keys(when).every(function (k) {
      var other = fieldByName(section, k); // a condition on a field that itself does not count never holds
      return applies(other) && raw(other) === String(when[k]);
    });
  }
  function normalized(f, v) {
    if (typeof v !== "string") return v;
    v = v.trim();
    if (f.widget === "uscc") return halfwidth(v).toUpperCase();
    if (f.widget === "email") return halfwidth(v).toLowerCase();
    if (f.widget === "tel" || f.spec.pattern) return halfwidth(v);
    if (f.widget === "integer" || f.widget === "money") { // "1,500" and "1，500" as people write amounts
      v = halfwidth(v);
      return /^-?\d{1,3}(,\d{3})+(\.\d+)?$/.test(v) ? v.replace(/,/g, "") : v;
    }
    return v;
  }
  function typed(f, v) { // as the JSON body carries it: integers as numbers, money/dates as strings
    if (f.spec.type === "integer" && /^-?\d+$/.test(v)) return parseInt(v, 10);
    return v;
  }
  function application() {
    var app = {};
    sections.forEach(function (s) {
      if (s.widget === "attachments") {
        app[s.key] = state.attachments.map(function (a) {
          return { kind: a.kind, upload_id: a.upload_id, filename: a.filename };
        });
      } else if (s.widget === "pledge") {
        app[s.key] = raw(s.fields[0]) === true;
      } else {
        app[s.key] = {};
        s.fields.forEach(function (f) {
          var v = normalized(f, raw(f));
          if (v !== "" && applies(f)) app[s.key][f.name] = typed(f, v);
        });
      }
    });
    return app;
  }

  // ---- validation: generic, from schema keywords and the x-messages templates ---------------------------
  function usccCheck(code) {
    var sum = 0;
    for (var i = 0; i < 17; i++) sum += USCC_ALPHABET.indexOf(code[i]) * USCC_WEIGHTS[i];
    var check = 31 - (sum % 31);
    return USCC_ALPHABET[check === 31 ? 0 : check];
  }
  function bounds(f, n) {
    var s = f.spec;
    var ge = "minimum" in s ? s.minimum : s.ge;
    var le = "maximum" in s ? s.maximum : s.le;
    var gt = "exclusiveMinimum" in s ? s.exclusiveMinimum : s.gt;
    if (ge !== undefined && n < ge) return fmt(M.greater_than_equal, { title: f.title, ge: ge });
    if (gt !== undefined && n <= gt) return fmt(M.greater_than, { title: f.title, gt: gt });
    if (le !== undefined && n > le) return fmt(M.less_than_equal, { title: f.title, le: le });
    return "";
  }
  function problem(f) {
    var s = f.spec, v = normalized(f, raw(f)), p = { title: f.title };
    if (f.widget === "pledge") return v === true ? "" : fmt(M["missing.pledge"], p);
    if (!applies(f)) return "";
    if (v === "") {
      var needed = f.required || s["x-required-when"] || s.minLength > 0;
      return needed ? fmt(M["missing." + f.widget] || M.missing, p) : "";
    }
    if (s.enum && s.enum.map(String).indexOf(v) < 0) return fmt(M.enum, p);
    if (f.widget === "integer") {
      if (!/^-?\d+$/.test(v)) return fmt(M.int_parsing, p);
      return bounds(f, parseInt(v, 10));
    }
    if (f.widget === "money") {
      if (!/^-?\d+(\.\d+)?$/.test(v)) return fmt(M.decimal_parsing, p);
      if (/\.\d{3,}$/.test(v)) return fmt(M.decimal_max_places, p);
      return bounds(f, parseFloat(v));
    }
    if (f.widget === "date") {
      var d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
      var t = d && new Date(Date.UTC(+d[1], d[2] - 1, +d[3]));
      if (!t || t.getUTCDate() !== +d[3]) return fmt(M.date_parsing, p);
      return "";
    }
    var length = Array.from(v).length; // code points, as Python's len()
    if (s.maxLength && length > s.maxLength) {
      return fmt(M.string_too_long, { title: f.title, max_length: s.maxLength, actual_length: length });
    }
    if (s.pattern && !new RegExp(s.pattern).test(v)) {
      return (s["x-messages"] && s["x-messages"].pattern) || fmt(M.string_pattern_mismatch, p);
    }
    if (f.widget === "uscc" && usccCheck(v) !== v[17]) return M.uscc_check;
    return "";
  }
  function clientErrors() {
    var errors = [];
    sections.forEach(function (s) {
      if (s.widget === "attachments") {
        kinds.forEach(function (k) {
          var id = idOf("application.attachments." + k.kind);
          if (byId(id).closest(".apply-attachment").classList.contains("apply-uploading")) {
            errors.push({ id: id, message: say("uploading_wait", { title: k.title }) });
          } else if (k.required && !state.attachments.some(function (a) { return a.kind === k.kind; })) {
            errors.push({ id: id, message: fmt(M["missing.attachments"], { title: k.title }) });
          }
        });
      } else {
        s.fields.forEach(function (f) {
          var m = problem(f);
          if (m) errors.push({ id: idOf(f.path), message: m });
        });
      }
    });
    return errors;
  }
  // A server error path → the control it belongs to (attachments by the kind of the item at that index).
  function targetOf(path) {
    var m = /^application\.attachments\.(\d+)/.exec(path);
    if (m && state.attachments[+m[1]]) return idOf("application.attachments." + state.attachments[+m[1]].kind);
    if (path === "application.attachments") {
      var missing = kinds.filter(function (k) {
        return k.required && !state.attachments.some(function (a) { return a.kind === k.kind; });
      });
      return idOf("application.attachments." + (missing[0] || kinds[0]).kind);
    }
    return byId(idOf(path)) ? idOf(path) : null;
  }

  // ---- showing errors (the GOV.UK pattern: inline + a summary that links to each field) -----------------
  function setFieldError(id, message) {
    var c = byId(id);
    if (!c) return;
    var box = c.closest(".apply-field");
    var old = byId(id + "-error");
    if (old) old.remove();
    var described = (c.getAttribute("aria-describedby") || "").split(" ").filter(function (x) {
      return x && x !== id + "-error";
    });
    box.classList.toggle("apply-field--error", !!message);
    if (!message) {
      c.removeAttribute("aria-invalid");
    } else {
      var p = h("p", { "class": "apply-field-error", id: id + "-error" }, [hidden(say("error_prefix")), message]);
      var before = box.querySelector(".apply-check, .apply-unit, .apply-files, input, select, textarea");
      box.insertBefore(p, before);
      c.setAttribute("aria-invalid", "true");
      described.push(id + "-error");
    }
    if (described.length) c.setAttribute("aria-describedby", described.join(" "));
    else c.removeAttribute("aria-describedby");
  }
  function clearErrors() {
    Array.prototype.forEach.call(form.querySelectorAll(".apply-field--error"), function (box) {
      var c = box.querySelector("[aria-invalid]");
      if (c) setFieldError(c.id, "");
    });
    var old = byId("error-summary");
    if (old) old.remove();
  }
  function focusField(id) {
    showStep("form");
    var c = byId(id);
    if (!c) return;
    var label = byId(id + "-label") || c;
    c.focus({ preventScroll: true });
    label.scrollIntoView({ block: "start" });
  }
  function showErrors(errors, message) {
    showStep("form");
    clearErrors();
    var seen = {};
    errors.forEach(function (e) {
      if (!e.id) return;
      seen[e.id] = seen[e.id] ? seen[e.id] + say("rule_sep") + e.message : e.message;
    });
    Object.keys(seen).forEach(function (id) { setFieldError(id, seen[id]); });
    var items = errors.map(function (e) {
      if (!e.id) return h("li", { text: e.message });
      return h("li", {}, [h("a", { href: "#" + e.id, text: e.message, on: { click: function (ev) {
        ev.preventDefault();
        focusField(e.id);
      } } })]);
    });
    var summary = h("div", { "class": "apply-error-summary", id: "error-summary", tabindex: "-1", role: "alert",
                             "aria-labelledby": "error-summary-title" },
                    [h("h2", { id: "error-summary-title", text: say("summary_title") }),
                     message ? h("p", { text: message }) : null, h("ul", {}, items)]);
    form.insertBefore(summary, form.firstChild);
    summary.focus({ preventScroll: true });
    summary.scrollIntoView({ block: "start" });
  }

  // ---- the draft: kept in this browser only, never sent ---------------------------------------------------
  // The form as the page drew it (its markup's defaults, never what a browser restored into it on reload).
  function untouched(f) {
    var c = control(f);
    if (c.type === "checkbox") return c.checked === c.defaultChecked;
    if (c.tagName === "SELECT") {
      var chosen = [].filter.call(c.options, function (o) { return o.defaultSelected; })[0] || c.options[0];
      return c.value === (chosen ? chosen.value : "");
    }
    return c.value === c.defaultValue;
  }
  function saveDraft() {
    if (draftOffered || reviseToken) return; // do not overwrite a draft the user has not yet chosen to restore or clear
    var values = {};
    fields.forEach(function (f) { values[f.path] = raw(f); });
    if (!state.attachments.length && fields.every(untouched)) {
      // Nothing typed, nothing uploaded: a fresh page, or the form emptied after a receipt (a field that loses
      // focus then still fires "change"). A draft of nothing would only be offered back for nothing.
      try { localStorage.removeItem(DRAFT); } catch (e) { /* disabled storage: nothing was kept either */ }
      return;
    }
    try {
      localStorage.setItem(DRAFT, JSON.stringify({ values: values, attachments: state.attachments,
        token: state.token, key: state.key, saved: new Date().toISOString() }));
    } catch (e) { /* storage full or disabled: the form still works, only without a draft */ }
  }
  var saveTimer = 0;
  function saveSoon() { clearTimeout(saveTimer); saveTimer = setTimeout(saveDraft, 300); }
  var progressTimer = 0;
  function progressSoon() { clearTimeout(progressTimer); progressTimer = setTimeout(updateProgress, 300); }
  function readDraft() {
    try { return JSON.parse(localStorage.getItem(DRAFT) || "null"); } catch (e) { return null; }
  }
  function restoreDraft(d) {
    fields.forEach(function (f) { if (f.path in d.values) setRaw(f, d.values[f.path]); });
    state.attachments = d.attachments || [];
    state.key = d.key || "";
    if (d.token && !tokenStale(d.token)) {
      // Uploads are bound to the form token they were made with (their owner is its hash): keep using it.
      setToken(d.token);
      refreshAll();
    } else {
      // Too old to submit: the answers stay, the uploads made under that token cannot be used with a new one.
      setToken(campaignToken);
      if (!campaignToken) renewToken();
      dropUploads(say("draft_stale"));
    }
  }
  function setToken(token) { state.token = token; form.elements.form_token.value = token; }
  // A fresh token from /api/campaign (after an expired or used one); the answers in the form are kept.
  function renewToken() {
    setToken("");
    return fetch("/api/campaign", { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (c) { campaignToken = c.form_token; if (!state.token) setToken(c.form_token); saveDraft(); })
      .catch(function () { announce(say("unreachable_later")); });
  }
  // Uploads belong to the old token's owner hash and the server refuses them under a new token: say which
  // files to upload again, on their fields and in one notice, rather than failing at 确认提交.
  function dropUploads(why) {
    var stale = state.attachments;
    state.attachments = [];
    state.key = ""; // a new token makes a different submission body: a new Idempotency-Key goes with it
    refreshAll();
    saveDraft();
    var old = byId("uploads-again");
    if (old) old.remove();
    var errors = [];
    if (!stale.length) return errors;
    function quoted(list) {
      return list.map(function (a) { return say("quoted", { text: a.filename }); }).join(say("list_sep"));
    }
    kinds.forEach(function (k) {
      var mine = stale.filter(function (a) { return a.kind === k.kind; });
      if (mine.length) {
        errors.push({ id: idOf("application.attachments." + k.kind), message: say("upload_again", { files: quoted(mine) }) });
      }
    });
    errors.forEach(function (e) { setFieldError(e.id, e.message); });
    statusBox.appendChild(h("div", { "class": "apply-notice", id: "uploads-again", role: "status" }, [
      h("p", { text: say("uploads_again", { why: why, files: quoted(stale) }) })]));
    return errors;
  }
  function clearDraft() {
    localStorage.removeItem(DRAFT);
    draftOffered = false;
  }
  function offerDraft(d) {
    var when = new Date(d.saved);
    var text = say("draft_offer", { saved: when.toLocaleString("zh-CN") });
    draftOffered = true;
    var box = h("div", { "class": "apply-notice", id: "draft-offer", tabindex: "-1", role: "region",
                         "aria-label": say("draft_restore") }, [
      h("p", { text: text }),
      h("button", { type: "button", "class": "md-button md-button--primary", id: "draft-restore",
                    text: say("draft_restore"), on: { click: function () { draftOffered = false; box.remove();
                      restoreDraft(d); announce(say("draft_restored")); focusField(idOf(fields[0].path)); } } }),
      " ",
      h("button", { type: "button", "class": "md-button", id: "draft-discard", text: say("draft_clear"),
                    on: { click: function () { clearDraft(); box.remove(); announce(say("draft_cleared")); } } }),
    ]);
    statusBox.appendChild(box);
    // After a refresh the browser may restore a scroll position far below: bring the choice into view.
    if ("scrollRestoration" in history) history.scrollRestoration = "manual";
    box.focus({ preventScroll: true });
    box.scrollIntoView({ block: "center" });
  }

  // ---- live counters and conditional fields ---------------------------------------------------------------
  var announceTimer = 0;
  function updateCount(f, speak) {
    var count = byId(idOf(f.path) + "-count");
    if (!count) return;
    var max = f.spec.maxLength, n = Array.from(raw(f)).length;
    var text = n <= max ? say("typed", { count: n, left: max - n }) : say("over", { over: n - max });
    // One-line fields have no maxlength (it would cut pasted text silently): their count shows near the limit.
    if (f.widget === "text") {
      count.hidden = n < max * 0.8;
      if (count.hidden) { count.textContent = ""; return; }
    }
    count.textContent = text;
    count.classList.toggle("apply-count--over", n > max);
    if (speak) { clearTimeout(announceTimer); announceTimer = setTimeout(function () { announce(text); }, 1000); }
  }
  function updateConditional() {
    fields.forEach(function (f) {
      if (!f.spec["x-required-when"]) return;
      control(f).closest(".apply-field").hidden = !applies(f);
      control(f).setAttribute("aria-required", "true"); // shown only when it is required
    });
  }
  function refreshAll() {
    fields.forEach(function (f) { updateCount(f, false); });
    updateConditional();
    kinds.forEach(renderFiles);
  }

  // ---- section list and progress (the links themselves work without this script) --------------------------
  var progressBox = byId("apply-progress");
  function sectionDone(s) {
    if (s.widget === "attachments") {
      return kinds.every(function (k) {
        return !kindBox(k.kind).classList.contains("apply-uploading") &&
          (!k.required || state.attachments.some(function (a) { return a.kind === k.kind; }));
      });
    }
    return s.fields.every(function (f) { return !problem(f); });
  }
  function updateProgress() {
    if (!progressBox) return;
    var done = 0;
    sections.forEach(function (s) {
      var item = document.querySelector('#apply-toc li[data-section="' + s.key + '"]');
      var ok = sectionDone(s);
      done += ok ? 1 : 0;
      if (!item || item.classList.contains("apply-toc--done") === ok) return;
      item.classList.toggle("apply-toc--done", ok);
      var mark = item.querySelector(".apply-toc-mark");
      if (ok && !mark) item.querySelector("a").appendChild(h("span", { "class": "apply-toc-mark", text: say("section_done") }));
      if (!ok && mark) mark.remove();
    });
    progressBox.hidden = false;
    progressBox.textContent = say("progress", { done: done, total: sections.length });
  }

  // ---- attachments: straight to storage through a presigned POST ----------------------------------------
  function kindBox(kind) { return byId(idOf("application.attachments." + kind)).closest(".apply-attachment"); }
  function renderFiles(k) {
    var list = byId(idOf("application.attachments." + k.kind) + "-files");
    list.textContent = "";
    state.attachments.forEach(function (a) {
      if (a.kind !== k.kind) return;
      list.appendChild(h("li", {}, [
        h("span", { "class": "apply-file-name", text: a.filename }), " ",
        h("span", { "class": "apply-file-size", text: say("size_note", { size: sizeText(a.size || 0) }) }), " ",
        h("button", { type: "button", "class": "apply-link-button", on: { click: function () {
          replacing = a; byId(idOf("application.attachments." + k.kind)).click();
        } } }, [say("replace"), hidden(say("quoted", { text: a.filename }))]), " ",
        h("button", { type: "button", "class": "apply-link-button", on: { click: function () {
          removeAttachment(a);
          announce(say("deleted", { filename: a.filename }));
          byId(idOf("application.attachments." + k.kind)).focus();
        } } }, [say("delete"), hidden(say("quoted", { text: a.filename }))]),
      ]));
    });
    updateProgress();
  }
  var replacing = null;
  function removeAttachment(a) {
    state.attachments = state.attachments.filter(function (x) { return x !== a; });
    renderFiles(kinds.filter(function (k) { return k.kind === a.kind; })[0]);
    saveDraft();
  }
  function uploadFile(k, file, input) {
    var id = input.id, box = kindBox(k.kind);
    var status = box.querySelector(".apply-upload-status"), bar = box.querySelector("progress");
    var old = replacing;
    replacing = null;
    function fail(message) {
      box.classList.remove("apply-uploading");
      bar.hidden = true;
      status.textContent = "";
      setFieldError(id, message);
      input.value = "";
    }
    setFieldError(id, "");
    // Refused before any byte leaves the browser: wrong type or too big.
    if (!/\.pdf$/i.test(file.name) || (file.type && file.type !== "application/pdf")) {
      return fail(say("not_pdf", { filename: file.name }));
    }
    if (file.size > state.maxBytes) {
      return fail(say("too_big", { filename: file.name, size: sizeText(file.size) }));
    }
    if (file.size === 0) return fail(say("empty_file", { filename: file.name }));
    var count = state.attachments.filter(function (a) { return a.kind === k.kind && a !== old; }).length;
    if (count >= FIGURES.per_kind) return fail(say("too_many", { title: k.title }));
    box.classList.add("apply-uploading");
    bar.hidden = false;
    bar.value = 0;
    status.textContent = say("upload_start", { filename: file.name });
    fetch(reviseToken ? receiptApi("uploads") : "/api/uploads", { method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ form_token: state.token, filename: file.name, size: file.size,
                             content_type: "application/pdf" }) })
      .then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (res) {
        if (res.status !== 201) {
          var e = res.body.error || {};
          return fail((e.fields && e.fields[0] && e.fields[0].message) || e.message || say("upload_refused"));
        }
        var ticket = res.body;
        var xhr = new XMLHttpRequest();
        var data = new FormData();
        Object.keys(ticket.fields).forEach(function (name) { data.append(name, ticket.fields[name]); });
        data.append("file", file); // storage requires the file to be the last field
        xhr.upload.addEventListener("progress", function (e) {
          if (!e.lengthComputable) return;
          var pct = Math.round((e.loaded / e.total) * 100);
          bar.value = pct;
          status.textContent = say("upload_percent", { filename: file.name, percent: pct });
        });
        xhr.addEventListener("load", function () {
          if (xhr.status < 200 || xhr.status >= 300) return fail(say("upload_failed", { filename: file.name }));
          // The server checks the stored bytes now (a real PDF, this form's), not only at 确认提交.
          fetch("/api/uploads", { method: "POST", headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ form_token: state.token, upload_id: ticket.upload_id,
                                   title: say("upload_title", { title: k.title, filename: file.name }) }) })
            .then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }); })
            .then(function (res) {
              if (res.status === 422) return fail((res.body.error || {}).message || say("upload_unusable"));
              uploaded();
            }, uploaded); // unreachable check: the submission checks the file again
        });
        function uploaded() {
          box.classList.remove("apply-uploading");
          bar.value = 100;
          setFieldError(id, ""); // a "正在上传" error from an early 下一步 no longer holds
          var pending = document.querySelector('#error-summary a[href="#' + id + '"]');
          if (pending) pending.parentNode.remove();
          if (old) state.attachments = state.attachments.filter(function (x) { return x !== old; });
          state.attachments.push({ kind: k.kind, upload_id: ticket.upload_id, filename: file.name,
                                   size: file.size });
          renderFiles(k);
          saveDraft();
          input.value = "";
          status.textContent = say("uploaded", { filename: file.name, size: sizeText(file.size) });
        }
        xhr.addEventListener("error", function () { fail(say("upload_lost", { filename: file.name })); });
        xhr.open("POST", ticket.url);
        xhr.send(data);
      })
      .catch(function () { fail(say("upload_lost", { filename: file.name })); });
  }

  // ---- steps: form → check your answers → receipt ---------------------------------------------------------
  function showStep(step) {
    form.hidden = step !== "form";
    after.hidden = step === "form";
    document.body.classList.toggle("apply-done", step === "done");
  }
  function empty(v) { return v === undefined || v === null || v === ""; }
  function display(f, v) {
    if (empty(v)) return say("unfilled");
    if (f.widget === "pledge") return say(v === true ? "pledge_given" : "pledge_missing");
    if (f.spec.enum && f.spec["x-labels"]) {
      var i = f.spec.enum.map(String).indexOf(String(v));
      if (i >= 0) return f.spec["x-labels"][i];
    }
    return String(v);
  }
  function review() {
    var app = application();
    var body = [h("h2", { id: "review-title", tabindex: "-1", text: say("review_title") }),
                h("p", { text: say("review_intro") })];
    sections.forEach(function (s) {
      var rows = [];
      function row(title, value, id) {
        rows.push(h("div", { "class": "apply-review-row" }, [
          h("dt", { text: title }), h("dd", { text: value }),
          h("dd", { "class": "apply-review-edit" }, [h("a", { href: "#" + id, on: { click: function (e) {
            e.preventDefault(); focusField(id);
          } } }, [say("edit"), hidden(title)])]),
        ]));
      }
      if (s.widget === "attachments") {
        kinds.forEach(function (k) {
          var names = state.attachments.filter(function (a) { return a.kind === k.kind; })
            .map(function (a) { return say("file_size", { filename: a.filename, size: sizeText(a.size || 0) }); });
          row(k.title, names.length ? names.join(say("rule_sep")) : say("not_uploaded"),
              idOf("application.attachments." + k.kind));
        });
      } else if (s.widget === "pledge") {
        row(s.title, display(s.fields[0], app[s.key]), idOf(s.fields[0].path));
      } else {
        s.fields.forEach(function (f) {
          if (applies(f)) row(f.title, display(f, app[s.key][f.name]), idOf(f.path));
        });
      }
      body.push(h("h3", { text: s.title }), h("dl", { "class": "apply-review-list" }, rows));
    });
    var confirm = h("button", { type: "button", "class": "md-button md-button--primary", id: "apply-confirm",
                                text: say("confirm"), on: { click: send } });
    body.push(h("div", { "class": "apply-review-status", id: "review-status", role: "alert" }),
              h("div", { "class": "apply-actions" }, [confirm, " ",
                h("button", { type: "button", "class": "md-button", text: say("back_to_form"), on: { click: function () {
                  focusField(idOf(fields[0].path));
                } } })]));
    after.textContent = "";
    body.forEach(function (n) { after.appendChild(n); });
    showStep("review");
    byId("review-title").focus();
    window.scrollTo(0, after.offsetTop - 80);
  }

  var attempts = 0;
  function send() {
    if (state.busy) return; // double clicks: one request, one Idempotency-Key
    var button = byId("apply-confirm"), note = byId("review-status");
    state.busy = true;
    button.disabled = true;
    button.textContent = say("sending");
    note.textContent = "";
    if (!state.key) { state.key = newKey(); saveDraft(); }
    var payload = JSON.stringify({ application: application(), form_token: state.token,
                                   website: form.elements.website.value });
    function done() { state.busy = false; button.disabled = false; button.textContent = say("confirm"); }
    fetch(reviseToken ? receiptApi("revision") : "/api/submissions", { method: "POST", body: payload,
      headers: { "Content-Type": "application/json", "Idempotency-Key": state.key } })
      .then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b, r: r }; }); })
      .then(function (res) {
        attempts = 0;
        done();
        if (res.status === 201) return receipt(res.body);
        var e = res.body.error || {};
        if (e.code === "idempotency_key_reused") state.key = "";
        if (e.code === "form_token_invalid" || e.code === "form_token_used") {
          renewToken();
          return showErrors(dropUploads(say("expired")), say("refreshed"));
        }
        if (e.code === "duplicate_applicant") return duplicate(note, e.message, res.body.resend || e.resend);
        if (res.status === 422 && e.fields) {
          return showErrors(e.fields.map(function (x) { return { id: targetOf(x.path), message: x.message }; }),
                            e.message);
        }
        if (res.status >= 500 && res.status !== 501) return retry(note, e.message, res.r.headers.get("Retry-After"));
        note.textContent = e.message || say("failed");
      })
      .catch(function () {
        done();
        retry(note, say("offline"), null);
      });
  }
  // Network failures and 5xx: try again with the same Idempotency-Key, so a request that did arrive is not
  // stored twice; the server answers a repeat with the first answer.
  function retry(note, message, after) {
    attempts += 1;
    if (attempts > 3) {
      attempts = 0;
      note.textContent = say("retry_manually", { message: message });
      return;
    }
    note.textContent = say("retrying", { message: message, attempt: attempts });
    setTimeout(send, Math.min(10, parseInt(after, 10) || attempts) * 1000);
  }

  function savedReceipt() {
    try { return JSON.parse(localStorage.getItem(RECEIPT) || "null"); } catch (e) { return null; }
  }
  // 409 for a USCC that already applied: when this browser holds that application's receipt, point to it.
  function duplicate(note, message, resend) {
    note.textContent = message;
    var last = savedReceipt(), uscc = application().applicant.uscc;
    if (resend) note.appendChild(resendButton(uscc));
    if (!last || !last.record || last.record.application.applicant.uscc !== uscc) return;
    note.appendChild(h("p", {}, [say("duplicate_saved", { reference: last.reference }),
      h("button", { type: "button", "class": "md-button", id: "duplicate-receipt", text: say("receipt_show"),
                    on: { click: function () { receipt(last, true); } } })]));
  }
  // The receipt link again, mailed to the contact address on file: the answer is the same whoever asks.
  function resendButton(uscc) {
    var said = h("p", { id: "resend-status", role: "status" });
    var button = h("button", { type: "button", "class": "md-button", id: "resend-link", text: say("resend"),
      on: { click: function () {
        button.disabled = true;
        fetch("/api/receipt/resend", { method: "POST", headers: { "Content-Type": "application/json" },
                                       body: JSON.stringify({ uscc: uscc }) })
          .then(function (r) { return r.json(); })
          .then(function (b) { said.textContent = b.message || say("resend_done"); },
                function () { button.disabled = false; said.textContent = say("resend_failed"); });
      } } });
    return h("div", { "class": "apply-resend" }, [h("p", {}, [button]), said]);
  }
  function offerReceipt() {
    var last = savedReceipt();
    if (!last || !last.reference) return;
    statusBox.appendChild(h("div", { "class": "apply-notice", id: "receipt-offer" }, [
      h("p", { text: say("receipt_saved", { reference: last.reference, received: beijingTime(last.received_at) }) }),
      h("button", { type: "button", "class": "md-button", id: "receipt-last", text: say("receipt_show"),
                    on: { click: function () { receipt(last, true); } } })]));
  }

  function receipt(body, saved) {
    if (!saved) {
      clearDraft();
      state.key = "";
      state.attachments = [];
      try { localStorage.setItem(RECEIPT, JSON.stringify(body)); } catch (e) { /* full: the page still shows it */ }
      // A token is single-use: the next application on this page needs a fresh one.
      form.reset();
      refreshAll();
      renewToken().then(clearDraft);
    }
    after.textContent = "";
    function labelled(label, value) { return say("pair", { label: label, value: value }); }
    var version = body.version || (body.record && body.record.version) || 1;
    var steps = byId("apply-next-steps"); // printcopy.render_next_steps, embedded in the page by the build
    var panel = h("div", { "class": "apply-receipt" }, [
      h("h2", { id: "receipt-title", tabindex: "-1", text: say("receipt_title") }),
      h("p", { "class": "apply-reference" }, [labelled(W.reference, ""), h("strong", { id: "receipt-reference",
                                                                                    text: body.reference })]),
      h("p", {}, [labelled(W.received_at, beijingTime(body.received_at))]),
      version > 1 ? h("p", { id: "receipt-version", text: say("receipt_version", { version: version }) }) : null,
      h("p", { "class": "apply-digest" }, [labelled(W.digest, ""), h("code", { id: "receipt-digest",
                                                                              text: body.digest })]),
      body.receipt_url ? h("p", { "class": "apply-receipt-link" }, [say("receipt_link_intro"), " ",
        h("a", { href: body.receipt_url, id: "receipt-link", text: say("receipt_link") })]) : null,
      steps ? steps.content.cloneNode(true) : null,
      h("p", {}, [body.printable ? h("button", { type: "button", "class": "md-button md-button--primary",
                                                 id: "apply-print-button", text: say("print"),
                                                 on: { click: function () { window.print(); } } }) : null,
                  saved ? " " : null,
                  saved ? h("button", { type: "button", "class": "md-button", id: "receipt-back", text: say("back"),
                                        on: { click: function () { showStep("form"); } } }) : null]),
    ]);
    after.appendChild(panel);
    // The print copy is the server's (printcopy.render_record, in the 201 answer and in the saved receipt): the
    // same HTML as the no-JavaScript receipt, escaped there. A receipt saved before it was sent has none.
    if (body.printable) after.insertAdjacentHTML("beforeend", body.printable);
    showStep("done");
    byId("receipt-title").focus();
  }

  // ---- the submission window ------------------------------------------------------------------------------
  function closeForm(deadline) {
    state.open = false;
    var when = beijingTime(deadline, true);
    statusBox.insertBefore(h("div", { "class": "apply-notice apply-closed", id: "apply-closed" }, [
      h("h2", { text: say("closed_title") }), h("p", { text: say("closed", { deadline: when }) })]),
    statusBox.firstChild);
    Array.prototype.forEach.call(form.elements, function (c) { c.disabled = true; });
    submitButton.textContent = say("closed_title");
  }

  // ---- wiring ---------------------------------------------------------------------------------------------
  document.body.appendChild(h("div", { id: "apply-live", "class": "apply-vh", "aria-live": "polite" }));
  submitButton.textContent = say("next");
  form.appendChild(h("div", { "class": "apply-actions apply-draft-actions" }, [
    h("p", { "class": "apply-hint", text: say("draft_note") }),
    h("button", { type: "button", "class": "md-button", id: "draft-clear", text: say("draft_clear"), on: { click: function () {
      clearDraft();
      form.reset();
      state.attachments = [];
      state.key = "";
      clearErrors();
      refreshAll();
      var offer = byId("draft-offer");
      if (offer) offer.remove();
      announce(say("draft_cleared_all"));
    } } }),
  ]));
  Array.prototype.forEach.call(form.querySelectorAll(".apply-upload"), function (n) { n.hidden = false; });
  kinds.forEach(function (k) {
    var input = byId(idOf("application.attachments." + k.kind));
    input.addEventListener("change", function () { if (input.files[0]) uploadFile(k, input.files[0], input); });
  });
  form.addEventListener("input", function (e) {
    var f = fields.filter(function (x) { return idOf(x.path) === e.target.id; })[0];
    if (f) updateCount(f, true);
    saveSoon();
    progressSoon();
  });
  form.addEventListener("change", function (e) {
    updateConditional();
    // Once a field shows an error, say as soon as it is fixed (but never nag before the first submit).
    var f = fields.filter(function (x) { return idOf(x.path) === e.target.id; })[0];
    if (f && e.target.getAttribute("aria-invalid") && !problem(f)) setFieldError(e.target.id, "");
    saveSoon();
    updateProgress();
  });
  // Enter in a one-line field would submit the form, i.e. jump to the review: people press it to end a line.
  form.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.key === "Enter" && !e.isComposing && t.tagName === "INPUT" &&
        ["checkbox", "radio", "file", "submit", "button"].indexOf(t.type) < 0) e.preventDefault();
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!state.open) return;
    var errors = clientErrors();
    if (errors.length) return showErrors(errors, "");
    clearErrors();
    review();
  });
  refreshAll();

  // ---- revise mode ----------------------------------------------------------------------------------------
  function fillFrom(app) {
    fields.forEach(function (f) {
      var parts = f.path.split(".");
      var v = parts.length === 2 ? app[parts[1]] : (app[parts[1]] || {})[parts[2]];
      if (v !== undefined && v !== null) setRaw(f, typeof v === "number" ? String(v) : v);
    });
  }
  function reviseNotice(text, id) {
    statusBox.insertBefore(h("div", { "class": "apply-notice", id: id, role: "status" }, [h("p", { text: text })]),
                           statusBox.firstChild);
  }
  function openRevision() {
    return fetch(receiptApi("record"), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (res) {
        if (res.status !== 200) return reviseNotice(say("revise_missing"), "revise-missing");
        var b = res.body;
        fillFrom(b.application || {});
        state.attachments = (b.files || []).map(function (f) {
          return { kind: f.kind, upload_id: f.upload_id, filename: f.filename, size: f.size, kept: true };
        });
        refreshAll();
        updateProgress();
        if (!b.revisable) {
          reviseNotice(say("revise_closed"), "revise-closed");
          state.open = false;
          Array.prototype.forEach.call(form.elements, function (c) { c.disabled = true; });
          return;
        }
        setToken(b.form_token);
        reviseNotice(say("revise_notice", { reference: b.reference, version: b.version,
                                            deadline: beijingTime(b.deadline, true) }), "revise-notice");
      })
      .catch(function () { reviseNotice(say("unreachable_later"), "revise-missing"); });
  }
  if (reviseToken) {
    openRevision();
  } else {
    offerReceipt();
    var draft = readDraft();
    if (draft && draft.values) offerDraft(draft);
  }

  window.bdpilot.campaign()
    .then(function (c) {
      state.maxBytes = c.max_upload_bytes || state.maxBytes;
      campaignToken = c.form_token;
      if (reviseToken) return; // the record gave this form its token; a 退回修改 may come after the window
      if (!state.token) setToken(c.form_token);
      if (!c.window.open) closeForm(c.window.deadline);
    })
    .catch(function () {
      statusBox.appendChild(h("p", { "class": "apply-notice",
        text: say("unreachable") }));
    });
})();

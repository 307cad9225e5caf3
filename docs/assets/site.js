/* On every page: the effective deadline, and the one place that formats a time for people in JavaScript.
 *
 * The pages are built once, with the notice's deadline; the function's window follows its own setting
 * (BDPILOT_DEADLINE: a new round, the local run). Every statement of the deadline is a <time data-deadline> or
 * <time data-last-day> (overrides/hooks/campaign.py); this replaces them with /api/campaign's deadline. Without
 * JavaScript, or without the API, the built date stays. apply.js reuses beijingTime and the one /api/campaign
 * request through window.bdpilot.
 */
(function () {
  "use strict";

  var BEIJING_MS = 8 * 3600 * 1000;
  function two(n) { return ("0" + n).slice(-2); }
  function beijingDate(d) { return d.getUTCFullYear() + "年" + (d.getUTCMonth() + 1) + "月" + d.getUTCDate() + "日"; }
  // Beijing time whatever the browser's zone; formats.beijing_time says it the same way (the catalogue's dates.toml;
  // seconds unless a deadline). This script runs on every page, before any page data: its format stays here.
  function beijingTime(iso, withoutSeconds) {
    var t = Date.parse(iso || "");
    if (isNaN(t)) return iso || "";
    var d = new Date(t + BEIJING_MS);
    return beijingDate(d) + " " + two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) +
      (withoutSeconds ? "" : ":" + two(d.getUTCSeconds())) + "（北京时间）";
  }
  // The last day one can still submit: a deadline at 0:00 leaves the day before (campaign.last_full_day).
  function lastDay(iso) {
    var d = new Date(Date.parse(iso) - 1 + BEIJING_MS);
    return { text: beijingDate(d), iso: d.getUTCFullYear() + "-" + two(d.getUTCMonth() + 1) + "-" + two(d.getUTCDate()) };
  }

  var pending = null;
  function campaign() { // one request per page load, shared with apply.js
    if (!pending) {
      pending = fetch("/api/campaign", { headers: { Accept: "application/json" } }).then(function (r) {
        if (!r.ok) throw new Error("/api/campaign " + r.status);
        return r.json();
      });
    }
    return pending;
  }
  window.bdpilot = { beijingTime: beijingTime, campaign: campaign };

  var marks = document.querySelectorAll("time[data-deadline], time[data-last-day], time[data-unit-deadline]");
  if (!marks.length || !window.fetch) return;
  campaign().then(function (c) {
    var deadline = c && c.window && c.window.deadline;
    var units = c && c.window && c.window.unit_deadline;
    if (!deadline || isNaN(Date.parse(deadline))) return;
    Array.prototype.forEach.call(marks, function (t) {
      var at = t.hasAttribute("data-unit-deadline") ? units : deadline;
      if (!at || isNaN(Date.parse(at))) return;
      if (!t.hasAttribute("data-last-day")) {
        t.setAttribute("datetime", at);
        t.textContent = beijingTime(at, true);
      } else {
        var day = lastDay(deadline);
        t.setAttribute("datetime", day.iso);
        t.textContent = day.text;
      }
    });
  }).catch(function () { /* the built deadline stays; apply.js says when the system cannot be reached */ });
})();

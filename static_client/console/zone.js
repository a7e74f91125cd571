// The exam's time zone for every console page (hall_server/zone.py): times are shown in it
// whatever zone this laptop (or tablet) is set to, and a mismatch is said on screen.
(function () {
  "use strict";
  var b = document.body;
  var name = b.dataset.tz, offset = Number(b.dataset.tzOffset || 0);
  var fmt = null;
  try { fmt = new Intl.DateTimeFormat("zh-CN", { timeZone: name, hour12: false, year: "numeric", month: "2-digit",
                                                 day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }); }
  catch (e) { fmt = null; }    // an old browser without that zone: the fixed offset sent by the server
  function parts(ms) {
    if (fmt && fmt.formatToParts) {
      var o = {};
      fmt.formatToParts(new Date(ms)).forEach(function (p) { o[p.type] = p.value; });
      if (o.hour === "24") o.hour = "00";
      return o;
    }
    var d = new Date(ms + offset * 60000);
    var p2 = function (n) { return (n < 10 ? "0" : "") + n; };
    return { year: String(d.getUTCFullYear()), month: p2(d.getUTCMonth() + 1), day: p2(d.getUTCDate()),
             hour: p2(d.getUTCHours()), minute: p2(d.getUTCMinutes()), second: p2(d.getUTCSeconds()) };
  }
  window.hallZone = {
    name: name, label: b.dataset.tzLabel,
    hhmm: function (ms) { if (!ms) return ""; var p = parts(ms); return p.hour + ":" + p.minute; },
    hhmmss: function (ms) { var p = parts(ms); return p.hour + ":" + p.minute + ":" + p.second; },
    date: function (ms) { var p = parts(ms); return p.year + "-" + p.month + "-" + p.day; }
  };
  // This browser's own zone against the exam's (the server already compared the laptop's).
  var mine = -new Date().getTimezoneOffset();
  var exam = (function () { var p = parts(Date.now()); return Math.round((Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute) - Math.floor(Date.now() / 60000) * 60000) / 60000); })();
  if (mine !== exam) {
    var w = document.getElementById("zone-warning");
    var sign = mine >= 0 ? "+" : "-", a = Math.abs(mine);
    document.getElementById("zone-laptop").textContent = "UTC" + sign + (a / 60 < 10 ? "0" : "") + Math.floor(a / 60) + ":" + (a % 60 < 10 ? "0" : "") + (a % 60);
    if (w) w.hidden = false;
  }
})();

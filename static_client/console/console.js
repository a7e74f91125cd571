// Invigilator console: live roster of one sitting over the /staff namespace.
(function () {
  "use strict";
  var root = document.querySelector("section.sitting");
  if (!root) return;
  var sittingId = root.dataset.sitting;
  var rows = {};
  var sittingState = null;
  var offset = 0;
  var STATUS = { not_arrived: "未到", logged_in: "已登录", confirmed: "已核对", answering: "答题中",
                 submitted: "已交卷", terminated: "已终止", absent: "缺考" };
  var SITTING = { planned: "未开考", started: "考试中", paused: "暂停", ended: "已结束" };
  var socket = io("/staff", { transports: ["websocket", "polling"] });

  function msg(t, bad) { var m = document.getElementById("msg"); m.textContent = t; m.className = bad ? "error" : ""; }
  function fmtTime(ms) { if (!ms) return ""; var d = new Date(ms); return d.toTimeString().slice(0, 5); }
  function text(el, t) { el.textContent = t == null ? "" : String(t); }

  function render() {
    var tbody = document.querySelector("#roster tbody");
    var list = Object.keys(rows).map(function (k) { return rows[k]; })
      .sort(function (a, b) { return (a.seat_no || 0) - (b.seat_no || 0); });
    tbody.textContent = "";
    var n = { answering: 0, submitted: 0, present: 0 };
    list.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.id = "c-" + r.ticket;
      var cells = [r.seat_no, r.ticket, r.name, r.category, STATUS[r.status] || r.status,
                   r.status === "answering" || r.status === "submitted" ? r.answered + " 题" : "",
                   r.signin_order ? "#" + r.signin_order : "",
                   r.status === "not_arrived" ? "" : (r.connected ? "在线" : "离线 " + fmtTime(r.last_seen)),
                   r.device_changes || "", r.receipt || ""];
      cells.forEach(function (c, i) {
        var td = document.createElement("td"); text(td, c);
        if (i === 4) td.className = "s-" + r.status;
        if (i === 7 && !r.connected && r.status !== "not_arrived") td.className = "off";
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
      if (r.status === "answering") n.answering++;
      if (r.status === "submitted" || r.status === "terminated") n.submitted++;
      if (r.status !== "not_arrived" && r.status !== "absent") n.present++;
    });
    text(document.getElementById("n-answering"), n.answering);
    text(document.getElementById("n-submitted"), n.submitted);
    text(document.getElementById("n-present"), n.present);
  }

  function renderSitting(s) {
    sittingState = s;
    text(document.getElementById("sitting-status"), SITTING[s.status] || s.status);
    document.getElementById("start").disabled = s.status !== "planned";
    document.getElementById("end").disabled = s.status === "ended" || s.status === "planned";
  }

  function ack(r) {
    if (r && r.now) offset = r.now - Date.now();
    if (!r || !r.ok) { msg((r && r.error && r.error.message) || "操作失败", true); return false; }
    return true;
  }

  socket.on("connect", function () {
    socket.emit("watch", { sitting: sittingId }, function (r) {
      if (!ack(r)) return;
      rows = {};
      r.candidates.forEach(function (c) { rows[c.ticket] = c; });
      renderSitting(r.sitting); render();
    });
  });
  socket.on("connect_error", function () { msg("与考场服务器的连接已断开，正在重连…", true); });
  socket.on("candidate", function (c) { rows[c.ticket] = c; render(); });
  socket.on("sitting", function (s) { renderSitting(s); });

  document.getElementById("start").addEventListener("click", function () {
    if (!confirm("确认宣布开考？开考后考生可以打开试卷。")) return;
    socket.emit("start_sitting", { sitting: sittingId }, function (r) { if (ack(r)) { renderSitting(r.sitting); msg("已开考"); } });
  });
  document.getElementById("end").addEventListener("click", function () {
    if (!confirm("确认结束本场考试？所有仍在答题的考生将被自动交卷。")) return;
    socket.emit("end_sitting", { sitting: sittingId }, function (r) { if (ack(r)) { renderSitting(r.sitting); msg("本场考试已结束"); } });
  });
  document.getElementById("fullscreen").addEventListener("click", function () {
    document.querySelector(".qrbox").classList.toggle("full");
  });
  setInterval(function () {
    text(document.getElementById("clock"), new Date(Date.now() + offset).toTimeString().slice(0, 8));
  }, 1000);
  // The QR carries a fresh token; reload it so a rotating token never goes stale on screen.
  setInterval(function () {
    document.getElementById("qr").src = "/console/sitting/" + sittingId + "/qr.png?t=" + Date.now();
  }, 60000);
})();

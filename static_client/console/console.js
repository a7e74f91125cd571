// Invigilator console: one sitting, live over the /staff namespace (docs/protocol.md).
(function () {
  "use strict";
  var root = document.querySelector("section.sitting");
  if (!root) return;
  var sittingId = root.dataset.sitting;
  var rows = {};
  var sitting = null;
  var offset = 0;
  var filter = "all";
  var current = null; // ticket in the action dialog
  var entryTimer = null;
  var STATUS = { not_arrived: "未到", logged_in: "已登录", confirmed: "已核对", answering: "答题中",
                 submitted: "已交卷", terminated: "已终止", absent: "缺考" };
  var SITTING = { planned: "未开考", started: "考试中", paused: "暂停中", ended: "已结束" };
  var LEVEL = { minor: "一般违纪", cheating: "考试作弊", serious: "严重违纪" };
  var socket = io("/staff", { transports: ["websocket"] });

  function $(id) { return document.getElementById(id); }
  function text(el, t) { el.textContent = t == null ? "" : String(t); }
  function now() { return Date.now() + offset; }
  function hhmm(ms) { return ms ? new Date(ms).toTimeString().slice(0, 5) : ""; }
  function mins(ms) { return Math.floor(ms / 60000); }
  function msg(t, bad) { var m = $("msg"); text(m, t); m.className = bad ? "error" : "okmsg"; }

  function emit(event, payload, done) {
    payload.sitting = sittingId;
    socket.emit(event, payload, function (r) {
      if (r && r.now) offset = r.now - Date.now();
      if (!r || !r.ok) { (done || function () {})(null, (r && r.error && r.error.message) || "操作失败"); return; }
      if (r.sitting) renderSitting(r.sitting);
      (done || function () {})(r, null);
    });
  }

  function matches(r) {
    switch (filter) {
      case "all": return true;
      case "not_arrived": return r.status === "not_arrived";
      case "answering": return r.status === "answering";
      case "offline": return !r.connected && ["logged_in", "confirmed", "answering"].indexOf(r.status) >= 0;
      case "done": return r.status === "submitted" || r.status === "terminated";
      case "absent": return isAbsent(r);
      case "flagged": return r.violations && r.violations.length > 0;
    }
    return true;
  }

  // 缺考 is the server's count (hall_server/exam/counts.py), sent with the sitting view.
  function isAbsent(r) { return !!(sitting && sitting.absentees && sitting.absentees.indexOf(r.ticket) >= 0); }

  function connCell(r) {
    if (["not_arrived", "absent"].indexOf(r.status) >= 0) return "";
    if (r.connected) {
      if (r.status === "answering" && r.last_answer && now() - r.last_answer > 5 * 60000)
        return "在线 · " + mins(now() - r.last_answer) + " 分钟未作答";
      return "在线";
    }
    return "离线 " + (r.last_seen ? "自 " + hhmm(r.last_seen) : "");
  }

  function render() {
    var tbody = document.querySelector("#roster tbody");
    var list = Object.keys(rows).map(function (k) { return rows[k]; })
      .sort(function (a, b) { return (a.seat_no || 0) - (b.seat_no || 0); });
    tbody.textContent = "";
    var n = { answering: 0 };
    var approvals = [];
    list.forEach(function (r) {
      if (r.status === "answering") n.answering++;
      if (r.pending_device) approvals.push(r);
      if (!matches(r)) return;
      var tr = document.createElement("tr");
      tr.id = "c-" + r.ticket;
      var f = r.focus || {};
      var cells = [r.seat_no, r.ticket, r.name, r.category,
                   (STATUS[r.status] || r.status) + (r.mode === "paper" ? "（答题卡）" : "") + (r.late_reason ? "（迟到准入）" : "") +
                     (r.status !== "absent" && isAbsent(r) ? "（未开卷，计缺考）" : ""),
                   ["answering", "submitted", "terminated"].indexOf(r.status) >= 0 ? r.answered + " 题" : "",
                   r.signin_order ? "#" + r.signin_order : "",
                   connCell(r),
                   f.count ? f.count + " 次" + (f.hidden_now ? "（现在在后台）" : "") : "",
                   r.device_changes || "",
                   (r.violations || []).map(function (v) { return LEVEL[v.level]; }).join("、")];
      cells.forEach(function (c, i) {
        var td = document.createElement("td"); text(td, c);
        if (i === 4) td.className = "s-" + (isAbsent(r) ? "absent" : r.status);
        if (i === 7 && c.indexOf("离线") === 0) td.className = "off";
        if (i === 8 && f.hidden_now) td.className = "off";
        tr.appendChild(td);
      });
      var td = document.createElement("td");
      var b = document.createElement("button");
      b.type = "button"; b.textContent = "操作"; b.className = "act";
      b.addEventListener("click", function () { openDialog(r.ticket); });
      td.appendChild(b); tr.appendChild(td);
      tbody.appendChild(tr);
    });
    text($("n-answering"), n.answering);
    renderApprovals(approvals);
  }

  function renderApprovals(list) {
    $("approvals").hidden = list.length === 0;
    var ul = $("approval-list");
    ul.textContent = "";
    list.forEach(function (r) {
      var li = document.createElement("li");
      var span = document.createElement("span");
      text(span, "座位 " + r.seat_no + " · " + r.name + " · " + r.ticket + " 申请在新设备上继续答题");
      li.appendChild(span);
      [["同意换机", "approve_device", "primary"], ["拒绝", "reject_device", ""]].forEach(function (a) {
        var b = document.createElement("button");
        b.type = "button"; b.textContent = a[0]; b.className = a[2];
        b.dataset.ticket = r.ticket; b.dataset.action = a[1];
        b.addEventListener("click", function () {
          emit(a[1], { ticket: r.ticket }, function (ok, err) { msg(err || (a[1] === "approve_device" ? "已同意 " + r.name + " 换机" : "已拒绝"), !!err); });
        });
        li.appendChild(b);
      });
      ul.appendChild(li);
    });
  }

  function renderSitting(s) {
    sitting = s;
    text($("sitting-status"), SITTING[s.status] || s.status);
    $("sitting-status").className = "st-" + s.status;
    text($("n-expected"), s.expected); text($("n-present"), s.present); text($("n-absent"), s.absent);
    text($("n-pending"), s.pending); text($("n-submitted"), s.submitted);
    // At the late-entry limit the undecided become 缺考: ask the server for its count then.
    clearTimeout(entryTimer);
    if (s.late_entry_until && ["started", "paused"].indexOf(s.status) >= 0 && s.pending > 0) {
      var wait = s.late_entry_until - now() + 1500;
      if (wait > 0 && wait < 2147483647) entryTimer = setTimeout(function () { emit("watch", {}, function () { render(); }); }, wait);
    }
    $("start").disabled = s.status !== "planned";
    $("pause").disabled = s.status !== "started";
    $("resume").disabled = s.status !== "paused";
    $("room-extra").disabled = ["started", "paused"].indexOf(s.status) < 0;
    $("end").disabled = s.status === "ended" || s.status === "planned";
    text($("late-until"), s.late_entry_until ? "· 入场截止 " + hhmm(s.late_entry_until) : "");
  }

  function openDialog(ticket) {
    var r = rows[ticket];
    current = ticket;
    text($("act-title"), "考生操作：" + r.name);
    text($("act-who"), "准考证号 " + r.ticket + " · 座位 " + r.seat_no + " · " + r.category + " · " + (STATUS[r.status] || r.status));
    text($("act-msg"), "");
    $("act").showModal();
  }

  document.querySelectorAll("#act-form [data-do]").forEach(function (b) {
    b.addEventListener("click", function () {
      var f = $("act-form").elements;
      var action = b.dataset.do;
      var p = { ticket: current };
      if (action === "admit_late") p.reason = f.late_reason.value;
      if (action === "extra_time") { p.minutes = Number(f.minutes.value); p.reason = f.extra_reason.value; }
      if (action === "violation") {
        p.level = f.level.value; p.facts = f.facts.value;
        if (p.level !== "minor" && !confirm("记录为“" + LEVEL[p.level] + "”将立即终止该考生的考试并交卷，确认？")) return;
      }
      if (action === "paper_entry") { p.pass = Number(f.pass.value); p.answers = f.answers.value; }
      emit(action, p, function (r, err) {
        var m = $("act-msg");
        if (err) { text(m, err); m.className = "error"; return; }
        m.className = "okmsg";
        if (action === "paper_entry") {
          var e = r.entry;
          text(m, e.complete ? "两遍录入一致，已计分" : (e.mismatches.length ? "两遍录入不一致的题号：" + e.mismatches.join("、") : "已保存第 " + p.pass + " 遍"));
        } else text(m, "已保存");
      });
    });
  });

  socket.on("connect", function () {
    emit("watch", {}, function (r, err) {
      if (err) { msg(err, true); return; }
      rows = {};
      r.candidates.forEach(function (c) { rows[c.ticket] = c; });
      showFault(r.fault);
      render();
      msg("已连接");
    });
  });
  socket.on("disconnect", function () { msg("与考场服务器的连接已断开，正在重连…", true); });
  socket.on("candidate", function (c) { rows[c.ticket] = c; render(); });
  // Answer progress arrives batched per room: [ticket, answered, last_answer ms].
  socket.on("progress", function (d) {
    (d.rows || []).forEach(function (p) {
      var r = rows[p[0]];
      if (r) { r.answered = p[1]; r.last_answer = p[2]; }
    });
    render();
  });
  socket.on("sitting", function (s) { renderSitting(s); render(); });
  socket.on("fault", function (d) { showFault(d.fault); });
  function showFault(fault) {
    var d = { fault: fault };
    var el = $("fault");
    el.hidden = !d.fault;
    text(el, d.fault ? "⚠ 服务器无法保存数据：" + d.fault + "。考生答案暂存在手机上。请立即检查电脑磁盘空间，并联系技术支持。" : "");
  }

  function ask(question) { var v = prompt(question); return v == null ? null : v.trim(); }
  $("start").addEventListener("click", function () {
    var payload = {};
    if (sitting && sitting.sealed) {
      var code = ask("本场次试卷已加密。请输入区县定考办提供的放行码（12位，如 ABCD-EFGH-JKMN）：");
      if (!code) return;
      payload.release_code = code;
    } else if (!confirm("确认宣布开考？开考后考生可以打开试卷。")) return;
    emit("start_sitting", payload, function (r, err) { msg(err || "已开考", !!err); });
  });
  $("pause").addEventListener("click", function () {
    var reason = ask("暂停原因（如：停电）。暂停期间所有考生计时停止："); if (!reason) return;
    emit("pause", { reason: reason }, function (r, err) { msg(err || "已暂停，考生计时停止", !!err); });
  });
  $("resume").addEventListener("click", function () {
    emit("resume", {}, function (r, err) { msg(err || "已恢复，所有考生的截止时间已顺延", !!err); });
  });
  $("room-extra").addEventListener("click", function () {
    var m = ask("全场延长多少分钟？（仅限系统原因）"); if (!m) return;
    var reason = ask("延时原因："); if (!reason) return;
    emit("extra_time", { minutes: Number(m), reason: reason }, function (r, err) { msg(err || "已为全场延时 " + m + " 分钟", !!err); });
  });
  $("incident").addEventListener("click", function () {
    var kinds = { "1": "power", "2": "network", "3": "system", "4": "sick", "5": "other" };
    var k = ask("情况类别：1 停电  2 网络故障  3 系统故障  4 考生身体不适  5 其他"); if (!k) return;
    if (!kinds[k]) { msg("请输入 1-5", true); return; }
    var t = ask("情况说明（时间、经过、处理）："); if (!t) return;
    emit("incident", { kind: kinds[k], text: t }, function (r, err) { msg(err || "已记录", !!err); });
  });
  $("end").addEventListener("click", function () {
    if (!confirm("确认结束本场考试？所有仍在答题的考生将被自动交卷。")) return;
    emit("end_sitting", {}, function (r, err) { msg(err || "本场考试已结束", !!err); });
  });
  $("fullscreen").addEventListener("click", function () { document.querySelector(".qrbox").classList.toggle("full"); });
  document.querySelectorAll(".filters button").forEach(function (b) {
    b.addEventListener("click", function () {
      filter = b.dataset.filter;
      document.querySelectorAll(".filters button").forEach(function (x) { x.classList.toggle("on", x === b); });
      render();
    });
  });
  setInterval(function () { text($("clock"), new Date(now()).toTimeString().slice(0, 8)); }, 1000);
  setInterval(render, 30000); // idle times and offline durations age
  // The QR carries a fresh token; with qr_rotate_seconds set, a new code replaces it on
  // that beat so a photo sent out of the room stops working after the grace period.
  setInterval(function () { $("qr").src = "/console/sitting/" + sittingId + "/qr.png?t=" + Date.now(); },
              Number(root.dataset.qrRefresh || 60) * 1000);
})();

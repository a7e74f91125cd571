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
  // Times in the exam's zone (zone.js), never the laptop's.
  function hhmm(ms) { return window.hallZone.hhmm(ms); }
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
      case "photo": return !!(r.camera && r.camera.flags && r.camera.flags.length);
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

  // 照片: flags and the lowest similarity (proctor); the manual says to look at the lowest first.
  var sortBySim = false;
  function bySimilarity(a, b) {
    function key(r) {
      var c = r.camera || {};
      if (c.failed) return -1;
      return c.min_similarity === null || c.min_similarity === undefined ? 2 : c.min_similarity;
    }
    return key(a) - key(b);
  }
  function photoCell(r) {
    var c = r.camera;
    if (!c) return "";
    var parts = [];
    if (c.min_similarity !== null && c.min_similarity !== undefined) parts.push("最低相似度 " + Math.round(c.min_similarity * 100) + "%");
    if (c.flags.length) parts.push(c.flags.join("、"));
    if (!parts.length && c.photos) parts.push(c.photos + " 张");
    return parts.join(" · ");
  }
  function idCell(r) {
    var c = r.camera || {};
    var s = [];
    if (c.id_entry) s.push(c.id_entry.method === "id_card" ? "已核验" : (c.id_entry.method === "other" ? "其他证件" : "免拍照"));
    if (c.id_during) s.push("考中已核");
    return s.join(" · ");
  }

  function render() {
    var tbody = document.querySelector("#roster tbody");
    var list = Object.keys(rows).map(function (k) { return rows[k]; })
      .sort(function (a, b) { return (a.seat_no || 0) - (b.seat_no || 0); });
    if (sortBySim) list.sort(bySimilarity);
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
                     (r.status !== "absent" && isAbsent(r) ? "（未开卷，计缺考）" : "") +
                     (r.login_locked_s > 0 ? "（登录已锁定）" : ""),
                   ["answering", "submitted", "terminated"].indexOf(r.status) >= 0 ? r.answered + " 题" : "",
                   r.signin_order ? "#" + r.signin_order : "",
                   connCell(r),
                   f.count ? f.count + " 次" + (f.hidden_now ? "（现在在后台）" : "") : "",
                   r.device_changes || "",
                   (r.violations || []).map(function (v) { return LEVEL[v.level]; }).join("、"),
                   photoCell(r), idCell(r)];
      cells.forEach(function (c, i) {
        var td = document.createElement("td"); text(td, c);
        if (i === 4) td.className = "s-" + (isAbsent(r) ? "absent" : r.status);
        if (i === 7 && c.indexOf("离线") === 0) td.className = "off";
        if (i === 8 && f.hidden_now) td.className = "off";
        if (i === 11 && r.camera && r.camera.flags.length) td.className = "off";
        tr.appendChild(td);
      });
      var td = document.createElement("td");
      var b = document.createElement("button");
      b.type = "button"; b.textContent = "操作"; b.className = "act";
      b.addEventListener("click", function () { openDialog(r.ticket); });
      td.appendChild(b);
      var ph = document.createElement("button");
      ph.type = "button"; ph.textContent = "照片"; ph.className = "act photos-btn";
      ph.addEventListener("click", function () { window.hallPhotos.open(r.ticket); });
      td.appendChild(ph);
      if (r.login_locked_s > 0) {
        // Too many wrong logins for this ticket: the invigilator checks the ID and lifts it.
        var u = document.createElement("button");
        u.type = "button"; u.className = "unlock"; u.textContent = "解除锁定";
        u.title = "该考生登录失败次数过多已被锁定（约 " + Math.ceil(r.login_locked_s / 60) + " 分钟）。核对身份后解除";
        u.addEventListener("click", function () {
          emit("unlock_login", { ticket: r.ticket }, function (ok, err) { msg(err || "已解除 " + r.name + " 的登录锁定", !!err); });
        });
        td.appendChild(u);
      }
      tr.appendChild(td);
      tbody.appendChild(tr);
    });
    text($("n-answering"), n.answering);
    renderApprovals(approvals);
    noteApprovals(approvals);
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

  // 操作 on a candidate: first what to do (four tasks), then a form with only that task's
  // fields. Tasks that cannot apply to the candidate's state are not offered.
  var TASKS_FOR = {
    late: function (r) { return r.status === "not_arrived" || r.status === "absent" || isAbsent(r); },
    extra: function (r) { return r.status === "answering"; },
    violation: function (r) { return ["logged_in", "confirmed", "answering", "submitted"].indexOf(r.status) >= 0; },
    paper: function () { return true; }
  };
  function openDialog(ticket) {
    var r = rows[ticket];
    current = ticket;
    text($("act-title"), "考生操作：" + r.name);
    text($("act-who"), "准考证号 " + r.ticket + " · 座位 " + r.seat_no + " · " + r.category + " · " + (STATUS[r.status] || r.status));
    document.querySelectorAll("#act-choose [data-open]").forEach(function (b) {
      b.hidden = !TASKS_FOR[b.dataset.open](r);
    });
    showTask(null);
    $("act").showModal();
  }
  function showTask(task) {
    $("act-choose").hidden = !!task;
    $("act-back").hidden = !task;
    document.querySelectorAll("#act-form fieldset[data-task]").forEach(function (f) { f.hidden = f.dataset.task !== task; });
    text($("act-msg"), "");
    if (task) {
      var r = rows[current];
      var names = { late: "准许迟到入场", extra: "延长时间", violation: "记录违纪", paper: "答题卡录入" };
      text($("act-title"), names[task] + "：" + r.name);
      var first = document.querySelector("#act-form fieldset[data-task='" + task + "'] input, #act-form fieldset[data-task='" + task + "'] select");
      if (first) first.focus();
    } else if (current && rows[current]) text($("act-title"), "考生操作：" + rows[current].name);
  }
  document.querySelectorAll("#act-choose [data-open]").forEach(function (b) {
    b.addEventListener("click", function () { showTask(b.dataset.open); });
  });
  $("act-back").addEventListener("click", function () { showTask(null); });
  // A violation that ends the exam needs a tick in the form itself, not a browser confirm().
  function levelChanged() {
    var f = $("act-form").elements;
    var line = document.querySelector("#act-form .confirm-line");
    line.hidden = f.level.value === "minor";
    f.terminate_ok.checked = false;
  }
  $("act-form").elements.level.addEventListener("change", levelChanged);

  document.querySelectorAll("#act-form [data-do]").forEach(function (b) {
    b.addEventListener("click", function () {
      var f = $("act-form").elements;
      var action = b.dataset.do;
      var p = { ticket: current };
      var m = $("act-msg");
      if (action === "admit_late") p.reason = f.late_reason.value;
      if (action === "extra_time") { p.minutes = Number(f.minutes.value); p.reason = f.extra_reason.value; }
      if (action === "violation") {
        p.level = f.level.value; p.facts = f.facts.value;
        if (p.level !== "minor" && !f.terminate_ok.checked) {
          text(m, "“" + LEVEL[p.level] + "”将立即终止该考生的考试：请先勾选确认。"); m.className = "error"; return;
        }
      }
      if (action === "paper_entry") { p.pass = Number(f.pass.value); p.answers = f.answers.value; }
      emit(action, p, function (r, err) {
        if (err) { text(m, err); m.className = "error"; return; }
        m.className = "okmsg";
        if (action === "paper_entry") {
          var e = r.entry;
          text(m, e.complete ? "两遍录入一致，已计分" : (e.mismatches.length ? "两遍录入不一致的题号：" + e.mismatches.join("、") : "已保存第 " + p.pass + " 遍"));
        } else text(m, "已保存");
      });
    });
  });

  // Room actions: each opens its own form in the #room dialog.
  var ROOM_TITLES = { pause: "暂停全场", room_extra: "全场延时", incident: "记录情况", start: "宣布开考", end: "结束本场考试" };
  function openRoom(task) {
    text($("room-title"), ROOM_TITLES[task]);
    document.querySelectorAll("#room-form fieldset[data-task]").forEach(function (f) { f.hidden = f.dataset.task !== task; });
    text($("room-msg"), "");
    if (task === "start") prepareStart();
    $("room").showModal();
  }
  function roomDone(okText) {
    return function (r, err) {
      var m = $("room-msg");
      if (err) { text(m, err); m.className = "error"; return; }
      msg(okText);
      $("room").close();
    };
  }
  document.querySelectorAll("#room-form [data-room]").forEach(function (b) {
    b.addEventListener("click", function () {
      var f = $("room-form").elements;
      var m = $("room-msg");
      switch (b.dataset.room) {
        case "pause":
          var kind = f.pause_kind.value, extra = f.pause_text.value.trim();
          emit("pause", { reason: extra ? kind + "：" + extra : kind }, roomDone("已暂停，考生计时停止"));
          break;
        case "extra_time":
          if (!f.room_reason.value.trim()) { text(m, "请填写延时原因"); m.className = "error"; return; }
          emit("extra_time", { minutes: Number(f.room_minutes.value), reason: f.room_reason.value },
               roomDone("已为全场延时 " + f.room_minutes.value + " 分钟"));
          break;
        case "incident":
          if (!f.incident_text.value.trim()) { text(m, "请填写情况说明"); m.className = "error"; return; }
          emit("incident", { kind: f.incident_kind.value, text: f.incident_text.value }, roomDone("已记录"));
          break;
        case "start_sitting":
          var payload = startPayload(f);
          if (!payload) return;
          socket.emit("start_sitting", Object.assign({ sitting: sittingId }, payload), function (r) {
            if (r && r.now) offset = r.now - Date.now();
            if (r && r.ok) { renderSitting(r.sitting); msg("已开考"); $("room").close(); return; }
            var e = (r && r.error) || {};
            if (e.confirm_date) {               // the server's clock says another day than ours
              $("date-line").hidden = false;
              text($("date-warning"), "今天是 " + e.today + "，本场次的考试日期是 " + e.date + "。我已核对：确实要在今天开考本场次。");
            }
            text($("room-msg"), e.message || "操作失败"); $("room-msg").className = "error";
          });
          break;
        case "end_sitting":
          emit("end_sitting", {}, roomDone("本场考试已结束"));
          break;
      }
    });
  });
  // Start: a sealed paper asks for its release code (item 8 adds the date check here).
  // A sitting started on a day that is not its date needs a second, explicit tick (the
  // server refuses without confirm_date as well).
  function prepareStart() {
    var sealed = !!(sitting && sitting.sealed);
    $("release-line").hidden = !sealed;
    var today = window.hallZone.date(now());
    var wrongDay = !!(sitting && sitting.date && sitting.date !== today);
    $("date-line").hidden = !wrongDay;
    $("room-form").elements.confirm_date.checked = false;
    if (wrongDay) text($("date-warning"), "今天是 " + today + "，本场次的考试日期是 " + sitting.date +
                       "。我已核对：确实要在今天开考本场次。");
  }
  function startPayload(f) {
    var p = {};
    if (!$("date-line").hidden) {
      if (!f.confirm_date.checked) { text($("room-msg"), "今天不是本场次的考试日期：请先勾选确认。"); $("room-msg").className = "error"; return null; }
      p.confirm_date = true;
    }
    if (sitting && sitting.sealed) {
      var code = f.release_code.value.trim();
      if (!code) { text($("room-msg"), "请输入放行码"); $("room-msg").className = "error"; return null; }
      p.release_code = code;
    }
    return p;
  }

  // Device changes: a badge that stays on screen while scrolling, a sound, the tab title.
  var knownPending = {};
  var audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
      [0, 0.35].forEach(function (t0) {
        var o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = 880; g.gain.value = 0.25;
        o.connect(g); g.connect(audio.destination);
        o.start(audio.currentTime + t0); o.stop(audio.currentTime + t0 + 0.2);
      });
    } catch (e) { /* no audio device: the badge still shows */ }
  }
  // Browsers allow sound only after a click on the page: any click unlocks it.
  document.addEventListener("click", function () {
    try { audio = audio || new (window.AudioContext || window.webkitAudioContext)(); if (audio.state === "suspended") audio.resume(); } catch (e) {}
  }, { once: true });
  function noteApprovals(list) {
    var fresh = list.some(function (r) { return !knownPending[r.ticket]; });
    knownPending = {};
    list.forEach(function (r) { knownPending[r.ticket] = true; });
    $("approval-badge").hidden = list.length === 0;
    text($("approval-count"), list.length);
    document.title = (list.length ? "【换机申请 " + list.length + "】" : "") + baseTitle;
    if (fresh) beep();
  }
  var baseTitle = document.title;

  $("sort-sim").addEventListener("click", function () {
    sortBySim = !sortBySim;
    this.setAttribute("aria-pressed", sortBySim ? "true" : "false");
    this.classList.toggle("on", sortBySim);
    render();
  });
  // For photos.js: the same socket, rows and violation form.
  window.hallConsole = {
    emit: emit, rows: function () { return rows; }, hhmm: hhmm, msg: msg,
    violation: function (ticket, level, facts) {
      openDialog(ticket); showTask("violation");
      var f = $("act-form").elements;
      f.level.value = level; f.facts.value = facts; levelChanged();
    }
  };

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
  // Alerts for every page (disk, background tasks, the laptop's clock): replace the banner.
  socket.on("alerts", function (d) {
    var box = $("alerts"), list = (d && d.alerts) || {};
    box.textContent = "";
    Object.keys(list).forEach(function (k) {
      if (k === "storage") return;  // shown in the fault line of this page
      var p = document.createElement("p");
      p.className = "alert"; p.dataset.key = k; text(p, "⚠ " + list[k]);
      box.appendChild(p);
    });
    box.hidden = box.children.length === 0;
  });
  function showFault(fault) {
    var d = { fault: fault };
    var el = $("fault");
    el.hidden = !d.fault;
    text(el, d.fault ? "⚠ 服务器无法保存数据：" + d.fault + "。考生答案暂存在手机上。请立即检查电脑磁盘空间，并联系技术支持。" : "");
  }

  $("start").addEventListener("click", function () { openRoom("start"); });
  $("pause").addEventListener("click", function () { openRoom("pause"); });
  $("resume").addEventListener("click", function () {
    emit("resume", {}, function (r, err) { msg(err || "已恢复，所有考生的截止时间已顺延", !!err); });
  });
  $("room-extra").addEventListener("click", function () { openRoom("room_extra"); });
  $("incident").addEventListener("click", function () { openRoom("incident"); });
  $("end").addEventListener("click", function () { openRoom("end"); });
  // The QR panel folds away (the roster then starts near the top of a 1366x768 screen); the
  // choice is remembered on this laptop. Full screen shows the room and its WiFi with it.
  function setQr(open) {
    $("qrbox").hidden = !open;
    $("qr-show").hidden = open;
    try { localStorage.setItem("hall.console.qr", open ? "1" : "0"); } catch (e) {}
  }
  var qrPref = null;
  try { qrPref = localStorage.getItem("hall.console.qr"); } catch (e) {}
  setQr(qrPref === "1");   // folded by default: the roster comes first
  $("qr-hide").addEventListener("click", function () { setQr(false); });
  $("qr-show").addEventListener("click", function () { setQr(true); });
  function fullQr(open) {
    $("qr-full").hidden = !open;
    if (open) $("qr-full-img").src = "/console/sitting/" + sittingId + "/qr.png?t=" + Date.now();
  }
  $("fullscreen").addEventListener("click", function () { fullQr(true); });
  $("qr-full").addEventListener("click", function () { fullQr(false); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") fullQr(false); });
  document.querySelectorAll(".filters button[data-filter]").forEach(function (b) {
    b.addEventListener("click", function () {
      filter = b.dataset.filter;
      document.querySelectorAll(".filters button[data-filter]").forEach(function (x) { x.classList.toggle("on", x === b); });
      render();
    });
  });
  function showClock() { text($("clock"), window.hallZone.hhmmss(now()) + "（" + window.hallZone.label.split("（")[0] + "）"); }
  showClock();
  setInterval(showClock, 1000);
  setInterval(render, 30000); // idle times and offline durations age
  // The QR carries a fresh token; with qr_rotate_seconds set, a new code replaces it on
  // that beat so a photo sent out of the room stops working after the grace period.
  setInterval(function () { $("qr").src = "/console/sitting/" + sittingId + "/qr.png?t=" + Date.now(); },
              Number(root.dataset.qrRefresh || 60) * 1000);
})();

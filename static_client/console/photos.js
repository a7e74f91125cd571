// Console: a candidate's photos (proctoring) and identity checks (docs/protocol.md "Camera").
// Every photo shown here is fetched from /console/photos/…, which writes the view to the
// audit chain first. One tap from a photo opens the violation form, filled in.
(function () {
  "use strict";
  var C = window.hallConsole;
  if (!C) return;
  var current = null, idMethod = null;
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, txt) { var e = document.createElement(tag); if (cls) e.className = cls; if (txt != null) e.textContent = String(txt); return e; }
  function pct(x) { return Math.round(x * 100) + "%"; }
  var REF = { roster: "证件照", login: "登录照片" };

  function when(c) { return C.hhmm(c.taken_at || c.received_at); }
  function captureFacts(c) {
    return "抓拍照片 " + when(c) + "（编号 " + c.id + "）" + (c.flags.length ? "：" + c.flags.join("、") : "") +
      (c.similarity !== null ? "，与" + (REF[c.reference] || "参照照片") + "相似度 " + pct(c.similarity) : "") + "。";
  }

  function figure(c, threshold) {
    var f = el("figure", "shot" + (c.flags.length ? " flagged" : ""));
    f.id = "shot-" + c.id;
    if (c.status === "ok" && !c.purged) {
      var img = el("img"); img.alt = "抓拍 " + when(c); img.loading = "lazy";
      img.src = "/console/photos/capture/" + encodeURIComponent(c.id) + ".jpg";
      f.appendChild(img);
    } else {
      f.appendChild(el("div", "failed", c.status === "ok" ? "照片已删除" : "拍照失败"));
    }
    var cap = el("figcaption");
    cap.appendChild(el("b", null, (c.slot === 0 ? "登录 " : "抓拍 ") + when(c)));
    if (c.status !== "ok") cap.appendChild(el("span", "bad", c.status === "missed" ? "（未拍照，超时）" : "（考生称无法拍照）"));
    if (c.similarity !== null) cap.appendChild(el("span", c.similarity < threshold ? "bad" : "", " 相似度 " + pct(c.similarity)));
    if (c.faces === 0) cap.appendChild(el("span", "bad", " 无人脸/遮挡"));
    if (c.faces >= 2) cap.appendChild(el("span", "bad", " 多人（" + c.faces + "）"));
    if (c.status === "ok" && !c.analyzed) cap.appendChild(el("span", "muted", " 待分析"));
    f.appendChild(cap);
    var acts = el("div", "shot-acts");
    [["记录违纪", "minor", "act-violation"], ["疑似替考", "serious", "act-impersonation"]].forEach(function (a) {
      var b = el("button", a[1] === "serious" ? "danger" : "", a[0]); b.type = "button"; b.dataset.act = a[2];
      b.addEventListener("click", function () {
        $("photos").close();
        C.violation(current, a[1], (a[1] === "serious" ? "疑似替考：" : "") + captureFacts(c));
      });
      acts.appendChild(b);
    });
    f.appendChild(acts);
    return f;
  }

  function idText(s) {
    function one(k, stage) {
      if (!k) return stage + "：未核验";
      var m = k.method === "id_card" ? "身份证" : (k.method === "other" ? "其他证件（" + k.document + "，批准人 " + k.approver + "）" : "免登录拍照（批准人 " + k.approver + "）");
      return stage + "：" + m + " · " + C.hhmm(k.ts) + " · " + k.staff;
    }
    return one(s.id_entry, "入场") + "；" + one(s.id_during, "考中");
  }

  function load(ticket) {
    return fetch("/console/photos/list/" + encodeURIComponent(ticket), { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (d) {
        $("photos-title").textContent = "照片与身份：" + d.name + "（" + d.ticket + "）";
        var roster = $("photos-roster");
        roster.textContent = "";
        if (d.summary.roster_photo) {
          var img = el("img"); img.alt = "证件照"; img.src = "/console/photos/roster/" + encodeURIComponent(ticket) + ".jpg";
          roster.appendChild(img); roster.appendChild(el("figcaption", null, "证件照（名单）"));
        } else roster.appendChild(el("figcaption", "muted", "名单无证件照：与登录照片比对"));
        var strip = $("photos-strip");
        strip.textContent = "";
        if (!d.captures.length) strip.appendChild(el("p", "muted", "还没有照片"));
        d.captures.forEach(function (c) { strip.appendChild(figure(c, d.threshold)); });
        $("photos-id").textContent = idText(d.summary);
      });
  }

  function open(ticket) {
    current = ticket; idMethod = null;
    $("id-more").hidden = true;
    $("photos-msg").textContent = "";
    load(ticket).then(function () { if (!$("photos").open) $("photos").showModal(); })
      .catch(function (e) { C.msg("无法打开照片：" + e.message, true); });
  }

  function saveId(stage, method) {
    var f = $("photos-form").elements;
    var p = { ticket: current, stage: stage, method: method };
    if (method !== "id_card") { p.document = f.document.value; p.approver = f.approver.value; }
    C.emit("id_check", p, function (r, err) {
      var m = $("photos-msg");
      m.textContent = err || "已记录"; m.className = err ? "error" : "okmsg";
      if (!err) { $("id-more").hidden = true; load(current); }
    });
  }
  document.querySelectorAll("#photos [data-id]").forEach(function (b) {
    b.addEventListener("click", function () { var x = b.dataset.id.split(":"); saveId(x[0], x[1]); });
  });
  document.querySelectorAll("#photos [data-open-id]").forEach(function (b) {
    b.addEventListener("click", function () {
      idMethod = b.dataset.openId;
      $("id-more").hidden = false;
      $("id-doc-line").hidden = idMethod !== "other";
    });
  });
  $("id-save").addEventListener("click", function () { saveId("entry", idMethod); });

  window.hallPhotos = { open: open };
})();

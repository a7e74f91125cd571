/* hall candidate app (served at /static/client/app.js).
 *
 * Plain JavaScript, no build step, no network except the hall server.
 * Contract: docs/protocol.md (v1). Nothing the candidate answers is lost:
 *   - every answer gets seq = ++counter, written to localStorage BEFORE it is sent;
 *   - it is shown "已保存" only once an `answer` ack (or a `sync`) says the server's
 *     stored seq >= the seq we sent;
 *   - unacknowledged answers are replayed, in seq order, after every `resume`;
 *   - after every login/resume the server's answers are merged (`sync`) before anything is
 *     trusted as saved: a spare laptop that took over may lack some (docs/takeover.md).
 *
 * localStorage keys (all JSON unless noted):
 *   hall.device          random device id of this phone (string, never changes)
 *   hall.session         {session, ticket, token, candidate} of the current login
 *   hall.last_ticket     last ticket typed here (string; pre-fills the login form)
 *   hall.att.<ticket>    the attempt: {v, seq, ans: {q: {c, s, a}}, flags, cur, state,
 *                        offset, paperHash, submitWanted, receipt}
 *                        c = choice (or null), s = seq of the latest local change,
 *                        a = highest seq the server acknowledged for q (saved iff a >= s)
 *   hall.paper.<hash>    the paper JSON as served by GET /api/paper
 */
(function () {
  'use strict';

  // ------------------------------------------------------------------ storage
  var memStore = {};
  var storageOk = true;
  var LS = {
    get: function (k) {
      var raw = null;
      try { raw = window.localStorage.getItem(k); } catch (e) { storageOk = false; raw = memStore[k] || null; }
      if (raw === null || raw === undefined) return null;
      try { return JSON.parse(raw); } catch (e) { return null; }
    },
    set: function (k, v) {
      var raw = JSON.stringify(v);
      memStore[k] = raw;
      try { window.localStorage.setItem(k, raw); return true; } catch (e) { storageOk = false; return false; }
    },
    del: function (k) {
      delete memStore[k];
      try { window.localStorage.removeItem(k); } catch (e) { /* ignore */ }
    },
    keys: function () {
      var out = [];
      try { for (var i = 0; i < window.localStorage.length; i++) out.push(window.localStorage.key(i)); } catch (e) { out = Object.keys(memStore); }
      return out;
    }
  };
  var K = {
    device: 'hall.device',
    session: 'hall.session',
    lastTicket: 'hall.last_ticket',
    att: function (t) { return 'hall.att.' + t; },
    paper: function (h) { return 'hall.paper.' + h; },
    cap: function (t) { return 'hall.cap.' + t; }   // photos waiting for their ack (camera.js)
  };

  // ------------------------------------------------------------------ messages
  var MSG = {
    disconnected: '网络已断开，答案已暂存在手机上，恢复后自动提交。请不要刷新页面',
    connecting: '正在连接考场服务器…请确认手机已连接考场 WiFi',
    reconnecting: '正在恢复连接…',
    storage: '服务器暂时无法保存，答案已暂存在手机上，正在自动重试',
    replaced: '您已在另一台设备登录，本设备已停止',
    // A plain-HTTP page has no offline copy: a reload without WiFi shows the browser's own
    // (English) error page. Said on the login page and the poster; see also beforeunload.
    noReload: '考试中请不要刷新或关闭本页面，断网时尤其不要刷新：答案会自动保存。',
    noSwitch: '请关闭手机的“WLAN+”（华为）、“Wi-Fi 助理”（苹果）等自动切换到移动数据的功能，始终连接考场 WiFi。'
  };
  // Fallbacks; the server's own `message` (Chinese) wins when present.
  var ERR = {
    bad_request: '请求格式错误，请刷新页面后重试',
    bad_token: '二维码无效，请重新扫描本考场的二维码',
    token_expired: '二维码已过期，请重新扫描考场屏幕上的二维码',
    bad_credentials: '准考证号或身份证号后6位不正确',
    wrong_room: '您不在本考场或本场次，请核对准考证上的考场和场次',
    rate_limited: '尝试次数过多，请稍后再试',
    late_entry: '已超过开考后允许进入的时间，不能再进入考试，请联系监考老师',
    bad_session: '登录已失效，请重新登录',
    replaced: MSG.replaced,
    not_logged_in: '尚未登录，请重新登录',
    not_confirmed: '请先核对个人信息并确认',
    not_started: '考试尚未开始，请等待监考老师宣布开考',
    paused: '考试已暂停，请等待监考老师恢复考试',
    sitting_ended: '本场考试已结束',
    not_answering: '当前不在答题状态',
    time_up: '考试时间已到，答案不再接收',
    submitted: '已交卷，答案不再接收',
    bad_question: '题号错误',
    bad_choice: '选项错误',
    storage: MSG.storage,
    too_early: '开考一段时间后才能交卷',
    not_open: '尚未开始答题',
    forbidden: '无权限',
    unknown_sitting: '场次不存在',
    bad_state: '当前状态不允许此操作',
    offline: '网络未连接，请确认手机已连接考场 WiFi',
    awaiting_approval: '您已在另一台设备登录。请举手，由监考老师确认更换设备后继续答题',
    device_rejected: '监考老师未同意更换设备，请使用原设备答题或联系监考老师',
    paper_sealed: '试卷尚未解封，请等待监考老师',
    bad_release_code: '试卷尚未解封，请等待监考老师',
    timeout: '服务器没有响应，请稍后再试',
    capture_required: '开始答题前请先拍一张本人正面照片（点击“拍照”）',
    capture_conflict: '照片编号冲突，请重新拍照',
    capture_limit: '照片数量已达上限，请举手联系监考老师',
    bad_photo: '照片无效，请重新拍照',
    camera_off: '本考点未启用拍照',
    bad_seal: '试卷尚未解封，请等待监考老师'
  };
  function errCode(r) { return (r && r.error && r.error.code) || 'unknown'; }
  // Server messages addressed to staff rather than to the candidate: the phone's own wording wins.
  var PHONE_WORDING = { paper_sealed: true };
  function errText(r) {
    var e = (r && r.error) || {};
    var text = (PHONE_WORDING[e.code] && ERR[e.code]) || e.message || ERR[e.code] || ('发生错误（' + (e.code || '未知') + '），请联系监考老师');
    if (e.code === 'rate_limited' && e.retry_after) text += '（请 ' + Math.ceil(e.retry_after) + ' 秒后再试）';
    return text;
  }

  // ------------------------------------------------------------------ app state
  var S = {
    token: null,
    device: null,
    session: null,       // {session, ticket, token, candidate}
    att: null,           // attempt store (see header)
    attWasNew: false,
    state: null,         // latest server state object
    paper: null,
    socket: null,
    authed: false,       // this socket connection has passed login/resume
    synced: false,       // the server's answers were merged since that login/resume
    syncing: false,
    resuming: false,
    everConnected: false,
    stopped: false,      // replaced by another device
    screen: null,
    inflight: {},        // q -> {seq, t}
    offset: 0,           // server clock - phone clock (ms)
    offsetKnown: false,
    storageErrUntil: 0,
    loadingPaper: false,
    paperError: null,
    submitting: false,
    focusQueue: [],
    bootAt: Date.now(),
    hiddenAt: null,
    lastStateFetch: 0,
    loginBusy: false,
    loginError: null,
    rateLimitedUntil: 0,
    awaiting: null,      // {ticket, id6, message}: a device change waiting for an invigilator
    sheetOpen: false,
    viewer: null,        // the full-screen image, when open
    modal: null
  };

  // ------------------------------------------------------------------ helpers
  function $(id) { return document.getElementById(id); }
  function h(tag, props) {
    var el = document.createElement(tag);
    if (props) {
      for (var k in props) {
        if (!Object.prototype.hasOwnProperty.call(props, k)) continue;
        var v = props[k];
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
        else if (v === true) el.setAttribute(k, '');
        else el.setAttribute(k, String(v));
      }
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, kid) {
    if (kid === null || kid === undefined || kid === false) return;
    if (Array.isArray(kid)) { kid.forEach(function (x) { append(el, x); }); return; }
    el.appendChild(typeof kid === 'object' ? kid : document.createTextNode(String(kid)));
  }
  function serverNow() { return Date.now() + S.offset; }
  function pad2(n) { return (n < 10 ? '0' : '') + n; }
  function fmtDur(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000));
    var hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
    return (hh ? hh + ':' + pad2(mm) : pad2(mm)) + ':' + pad2(ss);
  }
  // A server timestamp shown as the exam's local wall time, whatever time zone the phone is
  // set to: the exam's UTC offset is the one its planned start carries (from the bundle,
  // "2023-09-04T09:00:00+08:00"), the same zone the console and the forms use.
  function examOffsetMs() {
    var ps = (S.state && S.state.sitting && S.state.sitting.planned_start) || '';
    var m = /([+-])(\d{2}):?(\d{2})$/.exec(ps);
    if (m) return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60000;
    if (/Z$/.test(ps)) return 0;
    return -new Date(ms0()).getTimezoneOffset() * 60000;   // not known yet: the phone's own zone
  }
  function ms0() { return Date.now(); }
  function fmtClock(ms) {
    var d = new Date(ms + examOffsetMs());
    return pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes());
  }
  function fmtClockSec(ms) {
    var d = new Date(ms + examOffsetMs());
    return pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes()) + ':' + pad2(d.getUTCSeconds());
  }
  function plannedClock(iso) {
    var m = /T(\d{2}):(\d{2})/.exec(iso || '');
    return m ? m[1] + ':' + m[2] : '';
  }
  function randomId() {
    var b = new Uint8Array(16);
    try { window.crypto.getRandomValues(b); } catch (e) { for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256); }
    return Array.prototype.map.call(b, function (x) { return (x < 16 ? '0' : '') + x.toString(16); }).join('');
  }
  function status() { return S.state ? S.state.status : null; }
  function sittingStatus() { return S.state && S.state.sitting ? S.state.sitting.status : null; }
  function qCount() {
    return (S.paper && S.paper.questions && S.paper.questions.length) ||
      (S.state && S.state.question_count) || 0;
  }

  // ------------------------------------------------------------------ attempt store
  function freshAtt() {
    return { v: 1, seq: 0, ans: {}, flags: {}, cur: 1, state: null, offset: null, paperHash: null, submitWanted: false, receipt: null };
  }
  function loadAtt(ticket) {
    var a = LS.get(K.att(ticket));
    S.attWasNew = !a || !a.ans || Object.keys(a.ans).length === 0;
    if (!a || a.v !== 1) a = freshAtt();
    a.ans = a.ans || {}; a.flags = a.flags || {};
    S.att = a;
    if (typeof a.offset === 'number' && !S.offsetKnown) S.offset = a.offset;
    return a;
  }
  function saveAtt() {
    if (!S.att || !S.session) return;
    S.att.offset = S.offsetKnown ? S.offset : S.att.offset;
    LS.set(K.att(S.session.ticket), S.att);
  }
  function isSaved(e) { return !!e && (e.a || 0) >= e.s; }
  function pendingList() {
    var out = [];
    if (!S.att) return out;
    Object.keys(S.att.ans).forEach(function (q) {
      var e = S.att.ans[q];
      if (e && !e.bad && !isSaved(e)) out.push({ q: Number(q), c: e.c, s: e.s });
    });
    out.sort(function (x, y) { return x.s - y.s; });
    return out;
  }
  function answeredCount() {
    if (!S.att) return 0;
    var n = 0, max = qCount();
    Object.keys(S.att.ans).forEach(function (q) {
      var e = S.att.ans[q];
      if (e && e.c !== null && e.c !== undefined && (!max || Number(q) <= max)) n++;
    });
    return n;
  }
  function unansweredList() {
    var out = [], n = qCount();
    for (var q = 1; q <= n; q++) {
      var e = S.att && S.att.ans[q];
      if (!e || e.c === null || e.c === undefined) out.push(q);
    }
    return out;
  }
  // Merge the server's saved answers (from `sync`) into the phone's store.
  function mergeServerAnswers(answers) {
    var seen = {};
    var maxSeq = 0;
    Object.keys(answers || {}).forEach(function (q) {
      var v = answers[q];
      if (!Array.isArray(v)) return;
      var choice = v[0], seq = Number(v[1]) || 0;
      seen[q] = true;
      if (seq > maxSeq) maxSeq = seq;
      var e = S.att.ans[q];
      if (!e || seq >= e.s) S.att.ans[q] = { c: choice, s: seq, a: seq };
      else e.a = seq; // the server holds an older one: ours is still to be sent, even if it was
                      // acknowledged once (a spare laptop that took over from a replica lacks it)
    });
    // Anything we believed saved but the server does not hold: send it again.
    Object.keys(S.att.ans).forEach(function (q) {
      var e = S.att.ans[q];
      if (!seen[q] && e && isSaved(e) && e.c !== null) e.a = 0;
    });
    if (maxSeq > S.att.seq) S.att.seq = maxSeq;
  }

  // ------------------------------------------------------------------ socket
  function request(ev, data, ms) {
    return new Promise(function (resolve) {
      var sock = S.socket;
      if (!sock || !sock.connected) { resolve({ ok: false, error: { code: 'offline' } }); return; }
      var t0 = Date.now();
      sock.timeout(ms || 10000).emit(ev, data, function (err, resp) {
        if (err) { resolve({ ok: false, error: { code: 'timeout' } }); return; }
        var t1 = Date.now();
        if (resp && typeof resp.now === 'number') noteServerTime(resp.now, t0, t1);
        resolve(resp && typeof resp === 'object' ? resp : { ok: false, error: { code: 'bad_response' } });
      });
    });
  }
  function noteServerTime(now, t0, t1) {
    var rtt = t1 - t0;
    if (S.offsetKnown && rtt > 3000) return; // a slow round trip says little about the clock
    var off = now - Math.round((t0 + t1) / 2);
    var changed = !S.offsetKnown || Math.abs(off - S.offset) > 500;
    S.offset = off; S.offsetKnown = true;
    if (changed && S.att) saveAtt();
  }

  // What the server's connection reserve checks before the websocket is up (near its
  // connection cap, only phones with a valid session or room token get in; docs/protocol.md).
  function admissionQuery() {
    var q = {}, t = S.token || (S.session && S.session.token);
    if (t) q.t = t;
    if (S.session && S.session.session) q.s = S.session.session;
    return q;
  }
  function credentialsChanged() {
    if (S.socket && S.socket.io && S.socket.io.opts) S.socket.io.opts.query = admissionQuery(); // used from the next reconnect on
  }

  function connect() {
    if (S.socket) return;
    if (typeof window.io !== 'function') { showFatal('页面组件加载失败，请刷新页面。'); return; }
    var sock = window.io({
      transports: ['websocket'],
      tryAllTransports: true,
      reconnection: true,
      reconnectionAttempts: Infinity,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      randomizationFactor: 0.3,
      timeout: 8000,
      query: admissionQuery()
    });
    S.socket = sock;
    sock.on('connect', onConnect);
    sock.on('disconnect', function (reason) {
      S.authed = false; S.resuming = false; S.syncing = false; S.inflight = {};
      if (sock.sendBuffer) sock.sendBuffer.length = 0; // never flush stale events before `resume`
      updateBanner(); refreshScreen();
      if (reason === 'io server disconnect' && !S.stopped) setTimeout(function () { if (!S.stopped) sock.connect(); }, 1000);
    });
    sock.on('connect_error', function () { updateBanner(); });
    sock.on('state', function (st) { if (st && typeof st === 'object' && S.authed) applyState(st.state || st); });
    sock.on('replaced', function () { stopReplaced(); });
    // Device change approved / rejected by an invigilator (server extension, see report).
    sock.on('approved', function (r) {
      if (!S.awaiting || !r || !r.session) return;
      var cred = S.awaiting; S.awaiting = null;
      if (typeof r.now === 'number') noteServerTime(r.now, Date.now(), Date.now());
      loginOk(r, cred.ticket);
    });
    sock.on('rejected', function (r) {
      if (!S.awaiting) return;
      S.awaiting = null;
      S.loginError = errText(r && r.error ? r : { error: { code: 'device_rejected' } });
      route(true);
    });
  }

  function onConnect() {
    S.everConnected = true;
    if (S.stopped) { S.socket.disconnect(); return; }
    if (S.socket.sendBuffer) S.socket.sendBuffer.length = 0;
    updateBanner(); refreshScreen();
    if (S.session) doResume();
    else if (S.awaiting) doLogin(S.awaiting.ticket, S.awaiting.id6, true);
  }

  function doResume() {
    if (S.resuming || !S.session) return;
    S.resuming = true;
    updateBanner();
    request('resume', { session: S.session.session, device: S.device }, 10000).then(function (r) {
      S.resuming = false;
      if (r.ok) { afterAuth(r, false); return; }
      var code = errCode(r);
      if (code === 'replaced') { stopReplaced(); return; }
      if (code === 'bad_session' || code === 'not_logged_in') {
        dropSession(errText(r)); return;
      }
      // timeout / offline / storage: try again while connected
      setTimeout(function () { if (S.socket && S.socket.connected && !S.authed) doResume(); }, 2000);
      updateBanner();
    });
  }

  // After every login or resume the phone trusts none of its "saved" marks until it has
  // merged the server's answers once: the server may be a spare laptop that took over from a
  // replica a few seconds behind (docs/takeover.md), holding fewer answers, an older choice,
  // no opening or no submission. The merge re-queues what it lacks; a receipt the server no
  // longer knows means the submission must be made again.
  function hasAnswers(st) { return !!st && (st.status === 'answering' || st.status === 'submitted' || st.status === 'terminated'); }
  function afterAuth(r, fresh) {
    S.authed = true;
    S.synced = false;
    if (r.candidate) {
      S.session.candidate = r.candidate;
      LS.set(K.session, S.session);
    }
    if (!S.att) loadAtt(S.session.ticket);
    var st = r.state || S.state;
    var done = function () {
      if (st) applyState(st);
      updateBanner();
      flushFocus();
      pump();
      resubmitIfLost();
      capPump();
      if (S.att && S.att.submitWanted && status() === 'answering') doSubmit(true);
    };
    if (hasAnswers(st)) syncAnswers(function (s) { if (s && s.state) st = s.state; done(); });
    else done();
  }
  function syncAnswers(then) {
    if (S.syncing) return;
    S.syncing = true;
    request('sync', {}, 15000).then(function (s) {
      S.syncing = false;
      if (s.ok) {
        mergeServerAnswers(s.answers);
        S.attWasNew = false;
        S.synced = true;
        saveAtt();
      }
      if (then) then(s.ok ? s : null);
      else if (s.ok && s.state) applyState(s.state);
    });
  }
  function resubmitIfLost() {
    if (S.att && S.att.receipt && status() === 'answering' && !S.att.submitWanted) {
      S.att.submitWanted = true; S.att.lostSubmit = true; saveAtt();
    }
  }

  function dropSession(message) {
    S.session = null; S.authed = false; S.att = null; S.state = null; S.paper = null;
    LS.del(K.session);
    credentialsChanged();
    S.loginError = message || null;
    route(true);
  }

  function stopReplaced() {
    S.stopped = true; S.authed = false;
    if (S.socket) S.socket.disconnect();
    closeModal(); S.sheetOpen = false;
    updateBanner();
    route(true);
  }

  // ------------------------------------------------------------------ answers
  function canAnswer() {
    return !S.stopped && status() === 'answering' && sittingStatus() !== 'paused' && !timeIsUp() && !!S.paper;
  }
  function timeIsUp() {
    // while the room is paused the server holds the clock (the deadline moves on resume)
    return !!(S.state && S.state.deadline && sittingStatus() !== 'paused' && serverNow() >= S.state.deadline);
  }

  function choose(q, key) {
    if (!canAnswer()) return;
    var e = S.att.ans[q];
    if (e && e.c === key && !e.bad) return;
    var seq = ++S.att.seq;
    S.att.ans[q] = { c: key, s: seq, a: e ? (e.a || 0) : 0 };
    saveAtt(); // on the phone first, then on the wire
    renderExamAll();
    pump();
  }

  function pump() {
    if (!S.authed || S.stopped || !S.socket || !S.socket.connected) return;
    if (status() !== 'answering' || sittingStatus() === 'paused') return;
    var now = Date.now();
    pendingList().forEach(function (p) {
      var inf = S.inflight[p.q];
      if (inf && inf.seq === p.s && now - inf.t < 15000) return;
      S.inflight[p.q] = { seq: p.s, t: now };
      sendAnswer(p.q, p.c, p.s);
    });
  }

  function sendAnswer(q, choice, seq) {
    request('answer', { q: q, choice: choice, seq: seq }, 15000).then(function (r) {
      var inf = S.inflight[q];
      if (inf && inf.seq <= seq) delete S.inflight[q];
      if (!S.att) return;
      if (r.ok) { onAnswerAck(r, q, seq); return; }
      var code = errCode(r);
      var e = S.att.ans[q];
      if (code === 'storage') {
        S.storageErrUntil = Date.now() + 8000; updateBanner();
        setTimeout(pump, 3000);
      } else if (code === 'bad_question' || code === 'bad_choice' || code === 'bad_request') {
        if (e && e.s === seq) { e.bad = errText(r); saveAtt(); }
      } else if (code === 'time_up' || code === 'submitted' || code === 'not_answering') {
        fetchState();
      } else if (code === 'not_logged_in' || code === 'bad_session') {
        S.authed = false; doResume();
      } else if (code === 'replaced') {
        stopReplaced();
      } // paused / timeout / offline: stays queued; the next pump or resume sends it again
      refreshExam();
    });
  }

  function onAnswerAck(r, sentQ, sentSeq) {
    var q = r.q !== undefined ? Number(r.q) : sentQ;
    var rseq = Number(r.seq);
    if (!(rseq >= 0)) rseq = sentSeq;
    var e = S.att.ans[q];
    if (!e) {
      S.att.ans[q] = { c: r.choice === undefined ? null : r.choice, s: rseq, a: rseq };
    } else if (rseq >= e.s) {
      // The server's stored (choice, seq) is the truth: at an equal seq it may hold another
      // choice (a counter that restarted); show what is saved, never our own unsaved one.
      if (r.choice !== undefined && (rseq > e.s || r.choice !== e.c)) { e.c = r.choice; e.s = rseq; }
      e.a = rseq; delete e.bad;
    } else {
      e.a = Math.max(e.a || 0, rseq); // we changed it again meanwhile: still pending
    }
    if (rseq > S.att.seq) S.att.seq = rseq;
    saveAtt();
    refreshExam();
  }

  function fetchState() {
    if (!S.authed || Date.now() - S.lastStateFetch < 4000) return;
    S.lastStateFetch = Date.now();
    request('sync', {}, 10000).then(function (r) {
      if (r.ok) {
        if (S.att && r.answers) { mergeServerAnswers(r.answers); saveAtt(); }
        if (r.state) applyState(r.state);
      } else if (errCode(r) === 'replaced') stopReplaced();
      else if (errCode(r) === 'not_logged_in' || errCode(r) === 'bad_session') { S.authed = false; doResume(); }
    });
  }

  // ------------------------------------------------------------------ submit
  function allAnswersPayload() {
    var out = {};
    Object.keys(S.att.ans).forEach(function (q) {
      var e = S.att.ans[q];
      if (e && !e.bad) out[String(q)] = [e.c, e.s];
    });
    return out;
  }

  function doSubmit(automatic) {
    if (S.submitting || !S.att) return;
    S.att.submitWanted = true; saveAtt();
    if (!S.authed) {
      showModal(h('div', { class: 'dialog', id: 'submit-waiting' },
        h('h2', { text: '暂时无法交卷' }),
        h('div', { class: 'pulse' }),
        h('p', { text: '网络已断开。您的交卷请求已记录在手机上，网络恢复后将自动交卷，无需再次点击。请不要关闭本页面。' }),
        h('button', { class: 'btn', id: 'submit-withdraw', text: '取消交卷，继续答题', onclick: function () {
          if (S.att) { S.att.submitWanted = false; saveAtt(); }
          closeModal();
        } })));
      return;
    }
    S.submitting = true;
    if (!automatic) showModal(h('div', { class: 'dialog center' }, h('h2', { text: '正在交卷…' }), h('div', { class: 'pulse' })));
    request('submit', { answers: allAnswersPayload() }, 20000).then(function (r) {
      S.submitting = false;
      if (r.ok) {
        S.att.submitWanted = false; S.att.lostSubmit = false;
        // What was sealed, from the server's transaction: if the sitting ended (or time ran
        // out) before this submit arrived, answers the phone still held were not saved.
        var lost = [];
        if (r.answers && typeof r.answers === 'object') {
          mergeServerAnswers(r.answers);
          Object.keys(S.att.ans).forEach(function (q) {
            var e = S.att.ans[q];
            if (e && !isSaved(e) && e.c !== null && e.c !== undefined) lost.push(Number(q));
          });
        }
        S.att.receipt = r.receipt || S.att.receipt;
        saveAtt();
        closeModal();
        if (lost.length) {
          lost.sort(function (a, b) { return a - b; });
          showMessage('部分答案未能保存',
            '交卷请求到达前，考试已经结束（时间已到或监考老师已收卷）。第 ' + lost.join('、') +
            ' 题最后的修改未被保存，成绩按已保存的答案计算（回执上的已答题数为准）。如有疑问请举手告知监考老师。');
        }
        var st = r.state || Object.assign({}, S.state, { status: 'submitted', receipt: r.receipt, submitted_at: r.submitted_at, answered: r.answered, submit_reason: 'candidate' });
        applyState(st);
        return;
      }
      var code = errCode(r);
      var at = (r.error && r.error.earliest_submit) || (S.state && S.state.earliest_submit);
      if (code === 'too_early' && S.att.lostSubmit && at) {
        // A submission the server lost (a spare laptop took over): the candidate's decision
        // stands; it is made again as soon as the (pause-extended) earliest submit allows.
        closeModal();
        showMessage('交卷将自动完成', '考点服务器更换期间，您的交卷没有保存。系统将在 ' + fmtClock(at) +
          ' 自动重新交卷，之前可以继续检查答案。请不要关闭本页面。');
        setTimeout(function () { if (S.att && S.att.submitWanted && S.authed) doSubmit(true); }, Math.max(1000, at - serverNow() + 500));
      } else if (code === 'too_early') {
        S.att.submitWanted = false; saveAtt();
        if (at && S.state) S.state.earliest_submit = at;
        showMessage('还不能交卷', errText(r) + (at ? '（' + fmtClock(at) + ' 以后可以交卷）' : ''));
      } else if (code === 'not_answering' || code === 'time_up' || code === 'submitted') {
        S.att.submitWanted = false; saveAtt(); closeModal(); fetchState();
      } else if (code === 'replaced') {
        stopReplaced();
      } else if (code === 'not_logged_in' || code === 'bad_session') {
        closeModal(); S.authed = false; doResume();
      } else {
        // storage / timeout / offline: the request is remembered and retried
        showMessage('交卷未完成', errText(r) + '。系统将自动重试，请不要关闭本页面。');
        setTimeout(function () { if (S.att && S.att.submitWanted && S.authed) doSubmit(true); }, 3000);
      }
    });
  }

  // ------------------------------------------------------------------ state & routing
  function applyState(st) {
    if (!st || typeof st !== 'object') return;
    S.state = st;
    if (S.att) {
      S.att.state = st;
      if (st.paper_hash) S.att.paperHash = st.paper_hash;
      if (st.receipt) S.att.receipt = st.receipt;
      saveAtt();
    }
    if (st.status === 'submitted' || st.status === 'terminated' || st.status === 'rescheduled') { closeModal(); closeViewer(); S.sheetOpen = false; }
    route(false);
    checkPrompt();
    // The paper was opened again on a server that had lost the opening: merge before sending.
    if (S.authed && !S.synced && hasAnswers(st)) { syncAnswers(null); return; }
    if (st.status === 'answering') pump();
    if (S.authed && S.synced) { resubmitIfLost(); if (S.att && S.att.submitWanted && st.status === 'answering' && !S.submitting) doSubmit(true); }
  }

  function route(force) {
    var want;
    if (S.stopped) want = 'replaced';
    else if (!S.session) want = S.awaiting ? 'approval' : (S.token ? 'login' : 'noqr');
    else if (!S.state) want = 'connecting';
    else {
      switch (S.state.status) {
        case 'logged_in': want = 'confirm'; break;
        case 'confirmed': want = 'waiting'; break;
        case 'answering': want = 'exam'; break;
        case 'submitted': case 'terminated': case 'rescheduled': want = 'receipt'; break;
        default: want = 'connecting';
      }
    }
    if (!force && want === S.screen) {
      if (want === 'exam') { ensurePaper(); refreshExam(); return; }
      // keep what the candidate is typing or reading
      if (want === 'login' || want === 'confirm' || want === 'replaced' || want === 'noqr' || want === 'approval') return;
    }
    S.screen = want;
    if (want === 'exam') ensurePaper(); // from storage at once, or starts the download
    render();
  }

  function refreshScreen() {
    if (S.screen === 'exam') refreshExam();
    else if (S.screen === 'login') renderLoginStatus();
  }

  // ------------------------------------------------------------------ paper
  function ensurePaper() {
    var want = (S.state && S.state.paper_hash) || (S.att && S.att.paperHash);
    if (S.paper && (!want || S.paper.paper_hash === want)) return;
    if (want) {
      var cached = LS.get(K.paper(want));
      if (cached && cached.questions) { S.paper = cached; return; }
    }
    fetchPaper();
  }

  function fetchPaper() {
    if (S.loadingPaper || !S.session) return;
    S.loadingPaper = true; S.paperError = null;
    var known = S.att && S.att.paperHash;
    var cached = known ? LS.get(K.paper(known)) : null;
    var attempt = 0;
    var go = function () {
      if (!S.session || S.stopped || S.screen !== 'exam') { S.loadingPaper = false; return; }
      var headers = { 'Authorization': 'Bearer ' + S.session.session };
      if (cached && cached.questions) headers['If-None-Match'] = '"' + known + '"';
      fetch('/api/paper', { headers: headers, cache: 'no-store' }).then(function (res) {
        if (res.status === 304 && cached) { gotPaper(cached, false); return null; }
        if (res.status === 200) return res.json().then(function (p) { gotPaper(p, true); });
        if (res.status === 401) { S.loadingPaper = false; dropSession(ERR.bad_session); return null; }
        if (res.status === 304) { cached = null; throw new Error('304 without a copy'); } // ask again without the ETag
        return res.json().catch(function () { return {}; }).then(function (body) {
          S.paperError = errText(body && body.error ? body : { error: { code: 'http_' + res.status } });
          throw new Error('http ' + res.status);
        });
      }).catch(function () {
        attempt++;
        if (!S.paperError) S.paperError = '试卷下载失败，正在自动重试…';
        refreshExam();
        setTimeout(go, Math.min(5000, 500 * attempt));
      });
    };
    go();
  }

  function gotPaper(p, store) {
    S.loadingPaper = false; S.paperError = null;
    S.paper = p;
    if (S.att) {
      if (p.paper_hash) S.att.paperHash = p.paper_hash;
      var n = (p.questions || []).length;
      if (!(S.att.cur >= 1 && S.att.cur <= n)) S.att.cur = 1;
    }
    // Show the question first; the bookkeeping can wait a frame.
    if (S.screen === 'exam') render();
    setTimeout(function () {
      if (store && p.paper_hash) {
        // Keep only this candidate's paper: a shared phone must not fill up.
        LS.keys().forEach(function (k) { if (k && k.indexOf('hall.paper.') === 0 && k !== K.paper(p.paper_hash)) LS.del(k); });
        LS.set(K.paper(p.paper_hash), p);
      }
      saveAtt();
    }, 0);
  }

  // ------------------------------------------------------------------ focus reporting
  function onVisibility() {
    var hidden = document.visibilityState === 'hidden';
    var ms = 0;
    if (hidden) S.hiddenAt = Date.now();
    else if (S.hiddenAt) { ms = Date.now() - S.hiddenAt; S.hiddenAt = null; }
    if (status() === 'answering') {
      S.focusQueue.push({ hidden: hidden, ms: ms });
      if (S.focusQueue.length > 20) S.focusQueue.shift();
      flushFocus();
    }
    if (!hidden) {
      if (S.socket && !S.socket.connected && !S.stopped) S.socket.connect();
      tick();
    }
  }
  function flushFocus() {
    if (!S.authed) return;
    while (S.focusQueue.length) request('focus', S.focusQueue.shift(), 10000);
  }

  // While answers wait on the phone, or the network is down during the exam, a reload or a
  // closed tab could land on the browser's own error page: ask first (the browser shows its
  // own wording; the banner above already says why).
  function unloadRisk() {
    if (S.stopped || !S.att) return false;
    if (pendingList().length || S.att.submitWanted) return true;
    return status() === 'answering' && !(S.socket && S.socket.connected);
  }
  function onBeforeUnload(ev) {
    if (!unloadRisk()) return undefined;
    ev.preventDefault();
    ev.returnValue = MSG.noReload;
    return MSG.noReload;
  }

  // ------------------------------------------------------------------ banner
  function updateBanner() {
    var b = $('banner');
    if (!b) return;
    var text = null, cls = 'banner';
    var sock = S.socket;
    // after submission the network no longer matters to the candidate: no alarm
    if (S.stopped || S.screen === 'noqr' || (S.screen === 'receipt' && !(S.att && S.att.submitWanted))) text = null;
    else if (!sock || !sock.connected) {
      var booting = !S.everConnected && Date.now() - S.bootAt < 3000; // a reload is not a network failure
      if (booting) { text = MSG.connecting; cls += ' info'; }
      else if (S.session || S.everConnected) text = (S.screen === 'exam' || (S.state && S.state.status === 'answering')) ? MSG.disconnected : MSG.connecting;
      else if (sock) text = MSG.connecting;
    } else if (S.session && !S.authed) { text = MSG.reconnecting; cls += ' info'; }
    else if (Date.now() < S.storageErrUntil) { text = MSG.storage; cls += ' warn'; }
    if (text) {
      b.className = cls; b.textContent = text; b.hidden = false;
      document.documentElement.style.setProperty('--banner-h', b.offsetHeight + 'px');
    } else {
      b.hidden = true;
      document.documentElement.style.setProperty('--banner-h', '0px');
    }
  }

  // ------------------------------------------------------------------ modal
  function showModal(content) {
    var m = $('modal');
    m.textContent = '';
    m.appendChild(content);
    m.hidden = false;
    S.modal = content;
    var b = content.querySelector('button');
    if (b) b.focus();
  }
  function closeModal() {
    var m = $('modal');
    if (m) { m.hidden = true; m.textContent = ''; }
    S.modal = null;
  }
  function showMessage(title, text) {
    showModal(h('div', { class: 'dialog' }, h('h2', { text: title }), h('p', { text: text }),
      h('button', { class: 'btn primary', onclick: closeModal, text: '知道了' })));
  }
  function showFatal(text) {
    var app = $('app');
    app.textContent = '';
    app.appendChild(h('section', { class: 'screen center' }, h('h1', { class: 'title', text: '医师定期考核' }), h('div', { class: 'msg error', text: text })));
  }

  // ------------------------------------------------------------------ screens
  function render() {
    var app = $('app');
    app.textContent = '';
    window.scrollTo(0, 0);
    var fn = SCREENS[S.screen] || SCREENS.connecting;
    append(app, fn());
    if (S.screen === 'exam') renderExamAll();
    else { var sh = $('sheet'); if (sh) sh.remove(); closeViewer(); }
    if (S.screen === 'login') renderLoginStatus();
    updateBanner();
  }

  var SCREENS = {
    noqr: function () {
      return h('section', { class: 'screen center' },
        h('h1', { class: 'title', text: '医师定期考核' }),
        h('p', { class: 'huge', text: '请扫描考场二维码' }),
        h('p', { class: 'big', text: '请用手机扫描本考场的二维码进入考试。' }));
    },

    connecting: function () {
      return h('section', { class: 'screen center' },
        h('h1', { class: 'title', text: '医师定期考核' }),
        h('div', { class: 'pulse' }),
        h('p', { class: 'big', text: '正在连接考场服务器…' }),
        h('p', { class: 'muted', text: '请确认手机已连接考场 WiFi。如长时间无法连接，请举手联系监考老师。' }));
    },

    login: function () {
      var last = LS.get(K.lastTicket) || '';
      var ticket = h('input', { id: 'ticket', name: 'ticket', type: 'text', inputmode: 'numeric', autocomplete: 'off', autocorrect: 'off', spellcheck: 'false', maxlength: 32, value: last, 'aria-describedby': 'ticket-hint' });
      var id6 = h('input', { id: 'id6', name: 'id6', type: 'text', inputmode: 'text', autocomplete: 'off', autocapitalize: 'characters', autocorrect: 'off', spellcheck: 'false', maxlength: 6, 'aria-describedby': 'id6-hint' });
      id6.addEventListener('input', function () {
        var v = id6.value.toUpperCase().replace(/[^0-9X]/g, '').slice(0, 6);
        if (v !== id6.value) id6.value = v;
      });
      var btn = h('button', { class: 'btn primary', id: 'login-btn', type: 'submit', text: '登录' });
      var form = h('form', { id: 'login-form', novalidate: true, onsubmit: function (ev) { ev.preventDefault(); doLogin(ticket.value, id6.value); } },
        h('div', { class: 'field' }, h('label', { for: 'ticket', text: '准考证号' }), ticket,
          h('div', { class: 'hint', id: 'ticket-hint', text: '见准考证或考生一览表' })),
        h('div', { class: 'field' }, h('label', { for: 'id6', text: '身份证号后6位' }), id6,
          h('div', { class: 'hint', id: 'id6-hint', text: '最后一位是 X 的，请输入字母 X' })),
        h('div', { id: 'login-msg' }),
        btn);
      return h('section', { class: 'screen' },
        h('h1', { class: 'title center', text: '医师定期考核' }),
        h('p', { class: 'subtitle center', text: '业务水平测评 · 考生登录' }),
        form,
        h('p', { class: 'muted', id: 'conn-state' }),
        h('div', { class: 'card advice', id: 'net-advice' }, h('p', { text: MSG.noReload }), h('p', { text: MSG.noSwitch })));
    },

    confirm: function () {
      var c = (S.session && S.session.candidate) || {};
      var msg = h('div', { id: 'confirm-msg' });
      var btn = h('button', { class: 'btn primary huge-btn', id: 'confirm-btn', text: '信息无误，确认',
        onclick: function () {
          btn.disabled = true;
          request('confirm', {}, 10000).then(function (r) {
            btn.disabled = false;
            if (r.ok) { applyState(r.state); return; }
            if (errCode(r) === 'replaced') { stopReplaced(); return; }
            msg.textContent = ''; msg.appendChild(h('div', { class: 'msg error', text: errText(r) }));
          });
        } });
      return h('section', { class: 'screen' },
        h('h1', { class: 'title center', text: '请核对您的信息' }),
        h('div', { class: 'category-box' },
          h('div', { class: 'k', text: '试卷类别（执业类别）' }),
          h('div', { class: 'v', id: 'category', text: c.category || '—' }),
          c.level ? h('div', { class: 'k', text: c.level }) : null),
        h('p', { class: 'notice', text: '请核对试卷类别与您的执业类别一致' }),
        h('div', { class: 'card' },
          row('姓名', c.name), stack('准考证号', c.ticket || (S.session && S.session.ticket)),
          row('考场 / 座位号', [c.room, c.seat_no !== undefined && c.seat_no !== null ? c.seat_no + '号' : null].filter(Boolean).join(' · ')),
          row('场次', c.sitting_no ? '第' + c.sitting_no + '场' : null)),
        msg, btn,
        h('p', { class: 'muted', text: '如信息有误或类别不一致，请不要确认，举手联系监考老师。' }),
        (c.unit || c.site) ? h('div', { class: 'card' }, stack('工作单位', c.unit), stack('考点', c.site)) : null,
        h('button', { class: 'btn link', text: '不是我，返回重新登录', onclick: logout }));
    },

    waiting: function () {
      var st = S.state, c = (S.session && S.session.candidate) || {};
      var ss = sittingStatus();
      var body = [];
      var msg = h('div', { id: 'open-msg' });
      var photo = loginPhotoBlock();
      if (photo) body.push(photo);
      if (ss === 'started') {
        var lateLeft = st.late_entry_until ? st.late_entry_until - serverNow() : null;
        var btn = h('button', { class: 'btn primary huge-btn', id: 'open-btn', text: '开始答题',
          onclick: function () {
            btn.disabled = true; btn.textContent = '正在打开试卷…';
            request('open', {}, 15000).then(function (r) {
              if (r.ok) { applyState(r.state); return; }
              btn.disabled = false; btn.textContent = '开始答题';
              if (errCode(r) === 'replaced') { stopReplaced(); return; }
              msg.textContent = ''; msg.appendChild(h('div', { class: 'msg error', text: errText(r) }));
            });
          } });
        body.push(h('p', { class: 'huge', text: '考试已开始' }),
          h('p', { class: 'big', text: '点击下方按钮打开试卷，打开后立即开始计时。' }),
          lateLeft !== null && lateLeft > 0 ? h('div', { class: 'msg warn', text: '请尽快点击：超过 ' + fmtClock(st.late_entry_until) + ' 将不能再进入考试（还剩约 ' + Math.max(1, Math.floor(lateLeft / 60000)) + ' 分钟）。' }) : null,
          msg, btn);
        if (!S.authed || photo) btn.disabled = true;
      } else if (ss === 'paused') {
        body.push(h('div', { class: 'pulse' }), h('p', { class: 'huge', text: '考试已暂停' }), h('p', { class: 'big', text: '请等待监考老师恢复考试。' }));
      } else if (ss === 'ended') {
        body.push(h('p', { class: 'huge', text: '本场考试已结束' }), h('p', { class: 'big', text: '如有疑问请联系监考老师。' }));
      } else {
        var pl = st.sitting && plannedClock(st.sitting.planned_start);
        body.push(h('div', { class: 'pulse' }), h('p', { class: 'huge', text: '请等待开考' }),
          h('p', { class: 'big', text: '监考老师宣布开考后，本页面会自动出现“开始答题”按钮，无需刷新。' }),
          pl ? h('p', { class: 'big', text: '计划开考时间：' + pl }) : null,
          h('p', { class: 'muted', text: '请保持本页面打开，手机不要锁屏。' }));
      }
      return h('section', { class: 'screen center' },
        h('h1', { class: 'title', text: '医师定期考核' }),
        h('div', { class: 'card' },
          h('div', { class: 'row' }, h('span', { class: 'k', text: '姓名' }), h('span', { class: 'v', text: c.name || '' })),
          h('div', { class: 'row' }, h('span', { class: 'k', text: '试卷类别' }), h('span', { class: 'v', text: c.category || '' })),
          h('div', { class: 'row' }, h('span', { class: 'k', text: '座位号' }), h('span', { class: 'v', text: c.seat_no === undefined ? '' : String(c.seat_no) }))),
        body);
    },

    exam: function () {
      return h('div', { class: 'exam' }, h('div', { id: 'exam-top' }), h('div', { id: 'exam-q' }), h('div', { id: 'exam-bottom' }));
    },

    receipt: function () {
      var st = S.state || {}, c = (S.session && S.session.candidate) || {};
      var receipt = st.receipt || (S.att && S.att.receipt);
      var reason = st.submit_reason;
      var head;
      if (st.status === 'terminated' || reason === 'terminated') head = h('div', {}, h('div', { class: 'stop-mark', text: '■' }), h('h1', { class: 'title', text: '您的考试已被监考老师终止' }));
      else if (reason === 'time_up') head = h('div', {}, h('div', { class: 'done-mark', text: '✓' }), h('h1', { class: 'title', text: '考试时间到，系统已自动交卷' }));
      else if (st.status === 'rescheduled') head = h('div', {}, h('div', { class: 'stop-mark', text: '■' }),
        h('h1', { class: 'title', id: 'retake-title', text: '本场考试已改为另择期再考（待重考）' }),
        h('p', { class: 'big', text: '不计缺考，也不计成绩。重考的时间和地点由市定考办另行通知。' }));
      // staff: the room was ended for everyone, or this candidate was stopped (停考/代为交卷)
      else if (reason === 'staff') head = h('div', {}, h('div', { class: 'done-mark', text: '✓' }), h('h1', { class: 'title',
        text: st.sitting && st.sitting.status !== 'ended' ? '监考老师已为您停考并代为交卷' : '监考老师已统一收卷' }));
      else head = h('div', {}, h('div', { class: 'done-mark', text: '✓' }), h('h1', { class: 'title', text: '交卷成功' }));
      var lost = S.att ? pendingList().length : 0;
      return h('section', { class: 'screen center' }, head,
        receipt ? h('div', { class: 'receipt' }, h('div', { class: 'k', text: '交卷回执码' }), h('div', { class: 'code', id: 'receipt-code', text: receipt })) : null,
        h('div', { class: 'card' },
          h('div', { class: 'row' }, h('span', { class: 'k', text: '姓名' }), h('span', { class: 'v', text: c.name || '' })),
          stack('准考证号', c.ticket || (S.session && S.session.ticket) || ''),
          typeof st.answered === 'number' ? h('div', { class: 'row' }, h('span', { class: 'k', text: '已答题数' }), h('span', { class: 'v', text: st.answered + ' / ' + (st.question_count || qCount()) })) : null,
          st.submitted_at ? h('div', { class: 'row' }, h('span', { class: 'k', text: st.status === 'rescheduled' ? '改为待重考' : '交卷时间' }), h('span', { class: 'v', text: fmtClockSec(st.submitted_at) })) : null),
        lost > 0 ? h('div', { class: 'msg warn', text: '有 ' + lost + ' 题的答案在交卷前没有送达服务器。' }) : null,
        h('p', { class: 'big', text: '请向监考老师出示本页面，然后按要求离场。' }),
        h('button', { class: 'btn link', text: '退出登录（换人使用本手机）', onclick: function () {
          showModal(h('div', { class: 'dialog' }, h('h2', { text: '退出登录？' }),
            h('p', { text: '退出后本手机可供其他考生登录。您的答卷已交，不受影响。' }),
            h('button', { class: 'btn danger', text: '退出登录', onclick: function () { closeModal(); logout(); } }),
            h('button', { class: 'btn', text: '取消', onclick: closeModal })));
        } }));
    },

    approval: function () {
      return h('section', { class: 'screen center' },
        h('h1', { class: 'title', text: '等待监考老师确认' }),
        h('div', { class: 'pulse' }),
        h('div', { class: 'msg warn', id: 'approval-msg', text: (S.awaiting && S.awaiting.message) || ERR.awaiting_approval }),
        h('p', { class: 'big', text: '监考老师确认后，本页面会自动继续，您的答案不会丢失。' }),
        h('button', { class: 'btn', text: '取消，返回登录', onclick: function () { S.awaiting = null; route(true); } }));
    },

    replaced: function () {
      return h('section', { class: 'screen center' },
        h('div', { class: 'stop-mark', text: '✕' }),
        h('h1', { class: 'title', id: 'replaced-msg', text: MSG.replaced }),
        replacedLostList(),
        h('p', { class: 'muted', text: '如果不是您本人操作，请立即举手联系监考老师。' }),
        h('button', { class: 'btn', text: '在本设备重新登录', onclick: function () {
          S.stopped = false; S.session = null; S.authed = false; S.state = null; S.paper = null; S.att = null;
          LS.del(K.session);
          credentialsChanged();
          S.screen = null;
          if (S.socket) S.socket.connect();
          route(true);
        } }));
    }
  };

  function row(k, v) {
    return v === undefined || v === null || v === '' ? null : h('div', { class: 'row' }, h('span', { class: 'k', text: k }), h('span', { class: 'v', text: String(v) }));
  }
  function stack(k, v) {
    return v === undefined || v === null || v === '' ? null : h('div', { class: 'row stack' }, h('span', { class: 'k', text: k }), h('span', { class: 'v', text: String(v) }));
  }

  // On the stopped phone: answers that never reached the server must be re-entered on
  // the new phone, so say exactly which ones.
  function replacedLostList() {
    var lost = S.att ? pendingList() : [];
    if (!lost.length) return h('p', { class: 'big', text: '您已保存的答案都在服务器上，请在新设备上继续作答。' });
    return h('div', { class: 'msg warn', id: 'lost-list' },
      h('div', { text: '以下 ' + lost.length + ' 题的答案没有送达服务器，请在新设备上重新作答：' }),
      h('div', { class: 'big', text: lost.map(function (p) { return '第' + p.q + '题 ' + (p.c === null ? '（清除）' : p.c); }).join('，') }));
  }

  function renderLoginStatus() {
    var el = $('conn-state');
    if (el) el.textContent = S.socket && S.socket.connected ? '已连接考场服务器' : '正在连接考场服务器…';
    var box = $('login-msg');
    if (box) {
      box.textContent = '';
      if (S.loginError) box.appendChild(h('div', { class: 'msg error', role: 'alert', text: S.loginError }));
    }
    var btn = $('login-btn');
    if (btn) {
      var wait = Math.ceil((S.rateLimitedUntil - Date.now()) / 1000);
      btn.disabled = S.loginBusy || wait > 0;
      btn.textContent = S.loginBusy ? '正在登录…' : (wait > 0 ? '请 ' + wait + ' 秒后再试' : '登录');
    }
  }

  function doLogin(ticketRaw, id6Raw, silent) {
    var ticket = String(ticketRaw || '').replace(/\s+/g, '');
    var id6 = String(id6Raw || '').replace(/\s+/g, '').toUpperCase();
    if (!ticket) { S.loginError = '请输入准考证号'; renderLoginStatus(); return; }
    if (!/^[0-9]{5}[0-9X]$/.test(id6)) { S.loginError = '请输入身份证号的最后6位（6个字符）'; renderLoginStatus(); return; }
    if (S.loginBusy || Date.now() < S.rateLimitedUntil) return;
    LS.set(K.lastTicket, ticket);
    S.loginBusy = true; S.loginError = null;
    if (!silent) renderLoginStatus();
    var attempt = function (tries) {
      if (!S.socket || !S.socket.connected) {
        if (tries > 20) { S.loginBusy = false; S.loginError = ERR.offline; renderLoginStatus(); return; }
        setTimeout(function () { attempt(tries + 1); }, 500);
        return;
      }
      request('login', { token: S.token, ticket: ticket, id6: id6, device: S.device }, 15000).then(function (r) {
        S.loginBusy = false;
        if (r.ok) { S.awaiting = null; loginOk(r, ticket); return; }
        var code = errCode(r);
        if (code === 'awaiting_approval') {
          S.awaiting = { ticket: ticket, id6: id6, message: errText(r) };
          S.screen = 'approval'; render();
          return;
        }
        if (code === 'rate_limited') {
          S.rateLimitedUntil = Date.now() + 1000 * Number((r.error && r.error.retry_after) || 30);
        }
        S.awaiting = null;
        S.loginError = errText(r);
        if (S.screen !== 'login') route(true); else renderLoginStatus();
      });
    };
    attempt(0);
  }

  function loginOk(r, ticket) {
    S.loginError = null;
    S.session = { session: r.session, ticket: (r.candidate && r.candidate.ticket) || ticket, token: S.token, candidate: r.candidate || {} };
    LS.set(K.session, S.session);
    credentialsChanged();
    loadAtt(S.session.ticket);
    afterAuth(r, true);
  }

  function logout() {
    S.session = null; S.authed = false; S.att = null; S.state = null; S.paper = null; S.loginError = null;
    LS.del(K.session);
    credentialsChanged();
    closeModal();
    route(true);
  }

  // ------------------------------------------------------------------ exam view
  function curQ() {
    var n = qCount();
    var c = (S.att && S.att.cur) || 1;
    return Math.min(Math.max(1, c), Math.max(1, n));
  }
  function goTo(q) {
    if (!S.att) return;
    S.att.cur = q; saveAtt();
    S.sheetOpen = false;
    closeViewer();
    renderExamAll();
    window.scrollTo(0, 0);
  }

  // What the question view's interactive parts depend on. When only save states or
  // counts change (an ack arrives), those are updated in place: rebuilding buttons under
  // a finger can swallow a tap, and rebuilding the grid would lose its scroll position.
  function examSig() {
    var q = curQ(), e = S.att && S.att.ans[q], st = S.state || {};
    return [q, !!S.paper, canAnswer(), sittingStatus(), timeIsUp(), status(), e ? e.c : '-', e && e.bad ? 1 : 0,
      S.att && S.att.flags[q] ? 1 : 0, !!(st.earliest_submit && serverNow() < st.earliest_submit), st.earliest_submit, S.paperError].join('|');
  }
  function renderExamAll() {
    if (S.screen !== 'exam') return;
    S.examSig = examSig();
    renderTop(); renderQuestion(); renderBottom(); renderSheet();
    updateBanner();
  }
  function refreshExam() {
    if (S.screen !== 'exam') return;
    if (!$('exam-q')) { render(); return; }
    if (examSig() !== S.examSig) { renderExamAll(); return; }
    updateExamInPlace();
  }
  function saveStateOf(q) {
    var e = S.att && S.att.ans[q];
    if (!e || (e.c === null && isSaved(e))) return ['none', '第' + q + '题：未作答'];
    if (e.bad) return ['pending', '第' + q + '题：未保存'];
    if (isSaved(e)) return ['saved', '✓ 已保存'];
    return ['pending', '● 未保存 · 联网后自动提交'];
  }
  function cellState(q, cur) {
    var e = S.att.ans[q];
    var ans = !!e && e.c !== null && e.c !== undefined;
    var p = !!e && !isSaved(e);
    var f = !!S.att.flags[q];
    return {
      cls: 'cell' + (ans ? ' ans' : '') + (f ? ' flag' : '') + (p ? ' pend' : '') + (q === cur ? ' cur' : ''),
      label: '第' + q + '题' + (ans ? '，已答' : '，未答') + (f ? '，已标记' : '') + (p ? '，未保存' : ''),
      pend: p
    };
  }
  function countsText(pend) {
    return '已答 ' + answeredCount() + ' 题 · 未答 ' + unansweredList().length + ' 题' + (pend ? ' · 未保存 ' + pend + ' 题' : '');
  }
  function updateExamInPlace() {
    var q = curQ();
    var ss = $('savestate');
    if (ss) { var v = saveStateOf(q); ss.className = 'savestate ' + v[0]; ss.textContent = v[1]; }
    var un = $('unanswered');
    if (un) un.textContent = (S.paper && S.paper.category ? S.paper.category + ' · ' : '') + '未答 ' + unansweredList().length + ' 题';
    var sum = $('summary-text');
    if (sum) sum.textContent = '已答 ' + answeredCount() + ' 题，未答 ' + unansweredList().length + ' 题';
    var grid = $('grid');
    if (grid) {
      var pend = 0;
      Array.prototype.forEach.call(grid.children, function (cell) {
        var c = cellState(Number(cell.getAttribute('data-q')), q);
        if (c.pend) pend++;
        if (cell.className !== c.cls) cell.className = c.cls;
        cell.setAttribute('aria-label', c.label);
      });
      var ct = $('sheet-counts');
      if (ct) ct.textContent = countsText(pend);
    }
    updateBanner();
  }

  // One line at any text size: question number, time left, the question list. Counts and
  // the category live in the question list and under the options, not here.
  function renderTop() {
    var top = $('exam-top');
    if (!top) return;
    top.textContent = '';
    var n = qCount(), q = curQ();
    top.appendChild(h('div', { class: 'topbar' },
      h('div', { class: 'qno', 'aria-label': S.paper ? '第' + q + '题，共' + n + '题' : '试卷' },
        S.paper ? [h('b', { id: 'qno', text: String(q) }), h('span', { class: 'of', text: '/' + n })] : '试卷'),
      h('div', { class: 'clock', id: 'clock' }),
      h('button', { class: 'gridbtn', id: 'grid-btn', onclick: function () { S.sheetOpen = true; renderSheet(); } }, '题目')));
    tick();
  }

  function renderQuestion() {
    var box = $('exam-q');
    if (!box) return;
    box.textContent = '';
    var wrap = h('div', { class: 'question' });
    box.appendChild(wrap);
    var st = S.state || {};
    if (sittingStatus() === 'paused') wrap.appendChild(h('div', { class: 'msg warn', text: '考试已暂停，请等待监考老师恢复考试。' }));
    if (timeIsUp()) wrap.appendChild(h('div', { class: 'msg warn', id: 'timeup-msg', text: '考试时间已到，正在自动交卷，请稍候…' }));
    if (!S.paper) {
      wrap.appendChild(h('div', { class: 'center' }, h('div', { class: 'pulse' }), h('p', { class: 'big', text: '正在下载试卷…' }),
        S.paperError ? h('p', { class: 'muted', text: S.paperError }) : null));
      return;
    }
    var q = curQ();
    var item = S.paper.questions[q - 1];
    if (!item) return;
    var e = S.att && S.att.ans[q];
    var choice = e ? e.c : null;
    var enabled = canAnswer();
    wrap.appendChild(stemBlock(q, item.stem || ''));
    if (item.image) {
      var src = String(item.image).charAt(0) === '/' ? item.image : '/api/media/' + item.image;
      var img = h('img', { class: 'qimg', loading: 'lazy', src: src, alt: '第' + q + '题图片（点击放大）',
        onclick: function () { openViewer(src, '第' + q + '题图片'); } });
      img.addEventListener('error', function () {
        var retry = h('div', { class: 'imgfail' }, h('div', { class: 'msg warn', text: '图片没有加载出来' }),
          h('button', { class: 'btn', text: '重新加载图片', onclick: function () { retry.replaceWith(img); img.src = src + (src.indexOf('?') < 0 ? '?' : '&') + 'r=' + Date.now(); } }));
        img.replaceWith(retry);
      });
      wrap.appendChild(img);
      wrap.appendChild(h('button', { class: 'btn zoombtn', id: 'zoom-btn', text: '点击放大图片',
        onclick: function () { openViewer(src, '第' + q + '题图片'); } }));
    }
    var opts = h('div', { class: 'options', role: 'radiogroup', 'aria-label': '选项' });
    (item.options || []).forEach(function (o) {
      var sel = choice === o.key;
      opts.appendChild(h('button', { class: 'opt' + (sel ? ' sel' : ''), type: 'button', role: 'radio', 'aria-checked': sel ? 'true' : 'false',
        'data-key': o.key, disabled: !enabled, onclick: function () { choose(q, o.key); } },
        h('span', { class: 'key', text: o.key }), h('span', { class: 'txt', text: o.text })));
    });
    wrap.appendChild(opts);
    watchOptions(opts);
    var bad = e && e.bad;
    if (bad) wrap.appendChild(h('div', { class: 'msg error', text: '本题答案未被服务器接受：' + bad + '。请重新选择或联系监考老师。' }));
    var sv = saveStateOf(q);
    var flagged = !!(S.att && S.att.flags[q]);
    wrap.appendChild(h('div', { class: 'qstate' },
      h('div', { class: 'savestate ' + sv[0], id: 'savestate', text: sv[1] }),
      h('button', { id: 'flag-btn', class: 'flag' + (flagged ? ' on' : ''), type: 'button', 'aria-pressed': flagged ? 'true' : 'false',
        onclick: function () { if (S.att.flags[q]) delete S.att.flags[q]; else S.att.flags[q] = true; saveAtt(); renderExamAll(); },
        text: flagged ? '⚑ 已标记' : '⚑ 标记本题' })));
    if (flagged) wrap.appendChild(h('div', { class: 'flagnote', text: '⚑ 已标记本题，交卷前可在题目列表中找到' }));
    wrap.appendChild(h('div', { class: 'summary' },
      h('div', { id: 'summary-text', text: '已答 ' + answeredCount() + ' 题，未答 ' + unansweredList().length + ' 题' })));
  }

  // 交卷 is on every question (the footer) and in the question list. Before submission
  // opens it says when, in its own label, and a tap explains rather than doing nothing.
  function submitButton(id, cls) {
    var st = S.state || {};
    var openAt = st.earliest_submit;
    var early = !!(openAt && serverNow() < openAt);
    var footer = id === 'submit-btn';           // a third of the row: the short form of the time
    var b = h('button', { class: cls + (early ? ' later' : ''), id: id, type: 'button', onclick: openSubmitDialog,
                          'aria-label': early ? fmtClock(openAt) + ' 以后可以交卷' : '交卷' },
      h('span', { text: '交卷' }),
      early ? h('span', { class: 'when', id: footer ? 'submit-opens' : null,
                          text: fmtClock(openAt) + (footer ? ' 起' : ' 以后可以交卷') }) : null);
    if (early) b.setAttribute('aria-disabled', 'true');
    if (status() !== 'answering') b.disabled = true;
    return b;
  }

  function bottomBarHeight() {
    var bar = document.querySelector('.bottombar');
    return bar ? Math.round(bar.getBoundingClientRect().height) : 80;
  }

  // A long stem pushes the options below the screen: say where they are.
  var optObserver = null;
  function watchOptions(opts) {
    if (optObserver) { optObserver.disconnect(); optObserver = null; }
    var hint = $('opt-hint');
    if (hint) hint.hidden = true;
    if (!('IntersectionObserver' in window)) return;
    // Shown only while the options lie wholly below what the candidate sees; observed for
    // as long as the question is shown, so an image that loads late and pushes them down
    // brings the hint back.
    optObserver = new IntersectionObserver(function (entries) {
      var e = entries[entries.length - 1];
      var el = $('opt-hint');
      if (!el || !e) return;
      var below = !e.isIntersecting && e.boundingClientRect.top >= (e.rootBounds ? e.rootBounds.bottom : window.innerHeight) - 1;
      el.hidden = !below;
    }, { rootMargin: '0px 0px -' + (bottomBarHeight() + 24) + 'px 0px' });
    optObserver.observe(opts.firstChild || opts);
  }

  // The footer is one row of large buttons; the "options below" hint sits in the bar's own
  // flow (above the row) so it never covers the question, the counts or 交卷.
  function renderBottom() {
    var box = $('exam-bottom');
    if (!box) return;
    box.textContent = '';
    if (!S.paper) return;
    var q = curQ(), n = qCount();
    box.appendChild(h('div', { class: 'bottombar' },
      h('button', { class: 'opt-hint', id: 'opt-hint', hidden: true, text: '↓ 选项在下方',
        onclick: function () { var o = document.querySelector('.options'); if (o) o.scrollIntoView({ behavior: 'smooth', block: 'center' }); } }),
      h('div', { class: 'navrow' },
        h('button', { id: 'prev-btn', disabled: q <= 1, onclick: function () { goTo(q - 1); }, text: '上一题' }),
        submitButton('submit-btn', 'submitbtn'),
        q < n ? h('button', { id: 'next-btn', class: 'next', onclick: function () { goTo(q + 1); }, text: '下一题' })
          : h('button', { id: 'next-btn', class: 'next', onclick: function () { S.sheetOpen = true; renderSheet(); }, text: '题目列表' }))));
  }

  // A3/A4 items carry their shared case first, then (after a line break) their own question:
  // the case is set off in a box so the candidate sees which part is shared.
  function stemBlock(q, stem) {
    var cut = stem.indexOf('\n');
    if (cut < 0) return h('div', { class: 'stem', id: 'stem' }, h('b', { text: q + '. ' }), stem);
    return h('div', { class: 'stem', id: 'stem' },
      h('div', { class: 'case', text: stem.slice(0, cut).replace('（共用题干）', '') }),
      h('div', { class: 'ask' }, h('b', { text: q + '. ' }), stem.slice(cut + 1)));
  }

  // Tap an image: it fills the screen at full resolution; pinch (or the buttons) zooms,
  // dragging pans. 关闭 returns to the question where it was.
  function openViewer(src, title) {
    closeViewer();
    var scale = 1, pinch = null;
    var img = h('img', { class: 'viewer-img', src: src, alt: title });
    var stage = h('div', { class: 'viewer-stage', id: 'viewer-stage' }, img);
    var label = h('span', { class: 'viewer-scale', id: 'viewer-scale', text: '100%' });
    function setScale(v) {
      var cx = stage.scrollLeft + stage.clientWidth / 2, cy = stage.scrollTop + stage.clientHeight / 2;
      var old = scale;
      scale = Math.max(1, Math.min(6, v));
      img.style.width = (scale * 100) + '%';
      stage.scrollLeft = cx * scale / old - stage.clientWidth / 2;
      stage.scrollTop = cy * scale / old - stage.clientHeight / 2;
      label.textContent = Math.round(scale * 100) + '%';
    }
    function dist(t) { return Math.hypot(t[0].clientX - t[1].clientX, t[0].clientY - t[1].clientY); }
    stage.addEventListener('touchstart', function (ev) {
      if (ev.touches.length === 2) { pinch = { d: dist(ev.touches), s: scale }; ev.preventDefault(); }
    }, { passive: false });
    stage.addEventListener('touchmove', function (ev) {
      if (pinch && ev.touches.length === 2) { setScale(pinch.s * dist(ev.touches) / pinch.d); ev.preventDefault(); }
    }, { passive: false });
    stage.addEventListener('touchend', function (ev) { if (ev.touches.length < 2) pinch = null; });
    var v = h('div', { class: 'viewer', id: 'viewer', role: 'dialog', 'aria-label': title },
      h('div', { class: 'viewer-bar' },
        h('button', { class: 'btn', id: 'viewer-out', text: '缩小', onclick: function () { setScale(scale / 1.5); } }),
        label,
        h('button', { class: 'btn', id: 'viewer-in', text: '放大', onclick: function () { setScale(scale * 1.5); } }),
        h('button', { class: 'btn primary', id: 'viewer-close', text: '关闭', onclick: closeViewer })),
      stage,
      h('p', { class: 'viewer-tip', text: '双指捏合可放大缩小，单指拖动查看' }));
    document.body.appendChild(v);
    S.viewer = v;
  }
  function closeViewer() {
    if (S.viewer) { S.viewer.remove(); S.viewer = null; }
  }

  function renderSheet() {
    var old = $('sheet');
    if (old) old.remove();
    if (!S.sheetOpen || S.screen !== 'exam' || !S.paper) return;
    var n = qCount(), cur = curQ();
    var grid = h('div', { class: 'grid', id: 'grid' });
    var pend = 0;
    for (var q = 1; q <= n; q++) {
      var c = cellState(q, cur);
      if (c.pend) pend++;
      grid.appendChild(h('button', { class: c.cls, 'data-q': q, 'aria-label': c.label, onclick: (function (qq) { return function () { goTo(qq); }; })(q), text: String(q) }));
    }
    var sheet = h('div', { class: 'sheet', id: 'sheet', role: 'dialog', 'aria-label': '题目列表' },
      h('div', { class: 'sheet-head' }, h('h2', { text: '题目列表' }),
        h('button', { class: 'btn', id: 'sheet-close', text: '返回答题', onclick: function () { S.sheetOpen = false; renderSheet(); } })),
      h('div', { class: 'sheet-submit-top' }, submitButton('sheet-submit-top', 'btn primary')),
      h('div', { class: 'counts', id: 'sheet-counts', text: countsText(pend) }),
      h('div', { class: 'legend' },
        h('span', {}, h('i', { class: 'a' }), '已答'), h('span', {}, h('i', {}), '未答'),
        h('span', {}, h('i', { class: 'f' }), '已标记'), h('span', {}, h('i', { class: 'p', text: '!' }), '未保存'),
        h('span', {}, h('i', { class: 'c' }), '当前题')),
      grid,
      submitButton('sheet-submit', 'btn primary'));
    document.body.appendChild(sheet);
  }

  function openSubmitDialog() {
    var st = S.state || {};
    if (st.earliest_submit && serverNow() < st.earliest_submit) {
      showMessage('还不能交卷', '开考后须答题一段时间才能交卷。' + fmtClock(st.earliest_submit) + ' 以后可以交卷（还需约 ' + Math.ceil((st.earliest_submit - serverNow()) / 60000) + ' 分钟）。');
      return;
    }
    var un = unansweredList();
    var pend = pendingList().length;
    var nums = h('div', { class: 'nums', id: 'unanswered-list' });
    un.forEach(function (q) { nums.appendChild(h('button', { text: String(q), onclick: function () { closeModal(); goTo(q); } })); });
    showModal(h('div', { class: 'dialog split', id: 'submit-dialog' },
      h('div', { class: 'dialog-body' },
        h('h2', { text: '确认交卷？' }),
        h('p', { class: 'big' }, '共 ' + qCount() + ' 题，已答 ', h('b', { text: String(answeredCount()) }), ' 题，',
          h('b', { class: un.length ? 'bad' : null, text: '未答 ' + un.length + ' 题' }), '。'),
        pend ? h('div', { class: 'msg warn', text: '有 ' + pend + ' 题答案尚未保存到服务器，交卷时将一并提交。' }) : null,
        un.length ? [h('p', { text: '未答的题号（点击题号可返回作答）：' }), nums] : h('p', { text: '所有题目均已作答。' })),
      h('div', { class: 'dialog-foot' },
        h('p', { class: 'notice', text: '交卷后不能再修改答案。' }),
        h('div', { class: 'two' },
          h('button', { class: 'btn', id: 'submit-cancel', text: '返回检查', onclick: closeModal }),
          h('button', { class: 'btn danger', id: 'submit-confirm', text: '确认交卷', onclick: function () { doSubmit(false); } })))));
  }

  // ------------------------------------------------------------------ clock
  function tick() {
    var el = $('clock');
    var st = S.state;
    if (el && st) {
      el.textContent = '';
      if (sittingStatus() === 'paused') { el.appendChild(document.createTextNode('考试暂停')); el.className = 'clock'; }
      else if (st.deadline) {
        var left = st.deadline - serverNow();
        el.appendChild(h('small', { text: '剩余' }));
        el.appendChild(document.createTextNode(left > 0 ? fmtDur(left) : '00:00'));
        el.className = 'clock' + (left < 5 * 60000 ? ' low' : '');
      }
    }
    // time-up or the opening of submission changes what may be tapped
    if (S.screen === 'exam' && S.examSig !== undefined && examSig() !== S.examSig) renderExamAll();
    if (timeIsUp() && status() === 'answering') fetchState();
    if (S.screen === 'login' && S.rateLimitedUntil) renderLoginStatus();
  }


  // ------------------------------------------------------------------ camera (docs/protocol.md "Camera")
  // A photo is queued on the phone (hall.cap.<ticket>) before it is sent, and leaves the
  // queue only when the server acknowledges it: a WiFi drop or a reload loses no photo.
  var CAM = { inflight: {}, promptSlot: null, busy: false };
  function camCfg() { return (S.state && S.state.camera) || null; }
  function capQueue() { return (S.session && LS.get(K.cap(S.session.ticket))) || []; }
  function capSave(q) { if (S.session) LS.set(K.cap(S.session.ticket), q); }
  function slotsTaken() {
    var done = (S.att && S.att.capSlots) || {};
    capQueue().forEach(function (it) { done[it.slot] = done[it.slot] || 'queued'; });
    return done;
  }
  function markSlot(slot, how) {
    if (!S.att) return;
    S.att.capSlots = S.att.capSlots || {};
    S.att.capSlots[slot] = how; saveAtt();
  }

  // A photo (Blob, already downsized) joins the queue, then goes out.
  function enqueuePhoto(blob, slot, source) {
    return window.hallCamera.blobToDataUrl(blob).then(function (data) {
      var q = capQueue();
      q.push({ id: 'c' + randomId().slice(0, 24), slot: slot, source: source, taken: serverNow(), data: data });
      capSave(q);
      markSlot(slot, 'queued');
      capPump();
      refreshCameraViews();
    });
  }

  function capPump() {
    if (!S.session || S.stopped) return;
    capQueue().forEach(function (it) {
      if (CAM.inflight[it.id] && Date.now() - CAM.inflight[it.id] < 30000) return;
      CAM.inflight[it.id] = Date.now();
      var body = window.hallCamera.dataUrlToBlob(it.data);
      fetch('/api/capture', { method: 'POST', body: body, cache: 'no-store', headers: {
        'Authorization': 'Bearer ' + S.session.session, 'Content-Type': 'image/jpeg',
        'X-Capture-Id': it.id, 'X-Capture-Slot': String(it.slot), 'X-Capture-Source': it.source,
        'X-Taken-At': String(Math.round(it.taken)) } })
        .then(function (res) { return res.json().catch(function () { return { ok: false, error: { code: 'http_' + res.status } }; }); })
        .then(function (r) {
          delete CAM.inflight[it.id];
          var code = errCode(r);
          if (r.ok || code === 'capture_conflict' || code === 'bad_photo' || code === 'capture_limit') {
            capSave(capQueue().filter(function (x) { return x.id !== it.id; }));
            markSlot(it.slot, r.ok ? 'sent' : 'bad');
            if (!r.ok && S.att && S.att.capSlots) { delete S.att.capSlots[it.slot]; saveAtt(); }
            if (!r.ok) showMessage('照片未能保存', errText(r) + '。请重新拍照。');
            if (r.state && S.authed) applyState(r.state);
            refreshCameraViews();
          } else if (code === 'bad_session') { S.authed = false; doResume(); }
        })
        .catch(function () { delete CAM.inflight[it.id]; });  // offline: stays queued
    });
  }

  // The button that opens the front camera on any phone (<input capture="user">).
  function fileButton(slot, label) {
    var input = h('input', { type: 'file', accept: 'image/*', capture: 'user', id: 'cam-file-' + slot, class: 'cam-input' });
    input.addEventListener('change', function () {
      var f = input.files && input.files[0];
      if (!f) return;
      var cfg = camCfg() || {};
      CAM.busy = true; refreshCameraViews();
      window.hallCamera.loadImage(f).then(function (img) {
        return window.hallCamera.downsize(img, cfg.max_side || 480, cfg.target_bytes || 40960);
      }).then(function (r) { return enqueuePhoto(r.blob, slot, 'file'); })
        .catch(function () { showMessage('照片无法使用', '没有读到照片，请再拍一次。'); })
        .then(function () { CAM.busy = false; input.value = ''; refreshCameraViews(); });
    });
    return h('label', { class: 'btn primary huge-btn cam-btn', for: 'cam-file-' + slot, id: 'cam-btn-' + slot },
      input, h('span', { text: CAM.busy ? '正在处理照片…' : label }));
  }

  function cannotButton(slot) {
    return h('button', { class: 'btn link', id: 'cam-cannot-' + slot, text: '无法拍照？', onclick: function () {
      showModal(h('div', { class: 'dialog', id: 'cam-cannot-dialog' }, h('h2', { text: '无法拍照' }),
        h('p', { text: '将记录为“抓拍失败”。考试规定：未开启摄像头或遮挡、躲避摄像头导致抓拍失败的，成绩可能无效。请举手请监考老师协助。' }),
        h('button', { class: 'btn danger', id: 'cam-cannot-confirm', text: '确认无法拍照', onclick: function () {
          request('capture_failed', { slot: slot, reason: 'no_camera' }, 10000).then(function (r) {
            if (r.ok) { markSlot(slot, 'refused'); closeModal(); if (r.state) applyState(r.state); CAM.promptSlot = null; }
            else showMessage('未能记录', errText(r));
          });
        } }),
        h('button', { class: 'btn', text: '返回拍照', onclick: function () { closeModal(); CAM.promptSlot = null; checkPrompt(); } })));
    } });
  }

  // The login photo, on the waiting screen: required before 开始答题.
  function loginPhotoBlock() {
    var cam = camCfg();
    if (!cam || cam.login !== 'needed') return null;
    var taken = slotsTaken()[0];
    if (taken === 'queued' || taken === 'sent') {
      return h('div', { class: 'card cam-card', id: 'cam-login' }, h('div', { class: 'pulse' }),
        h('p', { class: 'big', text: '照片已拍好，正在上传到考场服务器…' }));
    }
    var box = h('div', { class: 'card cam-card', id: 'cam-login' },
      h('p', { class: 'big', text: '开始答题前，请拍一张本人正面照片' }),
      h('p', { class: 'muted', text: '请正对手机前置摄像头，露出整张脸，不要戴口罩帽子。' }));
    if (window.hallCamera.liveSupported() && !window.hallCamera.live.failed) {
      var holder = h('div', { class: 'cam-preview', id: 'cam-preview' });
      box.appendChild(holder);
      window.hallCamera.startLive().then(function (v) { holder.appendChild(v); }).catch(function () { refreshCameraViews(); });
      box.appendChild(h('button', { class: 'btn primary huge-btn', id: 'cam-shoot', text: '拍照', onclick: function () {
        var cfg = camCfg() || {};
        window.hallCamera.grab(cfg.max_side || 480, cfg.target_bytes || 40960)
          .then(function (blob) { return enqueuePhoto(blob, 0, 'camera'); })
          .catch(function () { window.hallCamera.live.failed = window.hallCamera.live.failed || 'dark'; refreshCameraViews(); });
      } }));
    } else {
      box.appendChild(fileButton(0, '拍照'));
    }
    box.appendChild(cannotButton(0));
    return box;
  }

  // A prompt from the server: silent with a live camera, else a screen that cannot be
  // missed (the clock keeps running underneath).
  function checkPrompt() {
    var cam = camCfg();
    var p = cam && cam.prompt;
    if (!p || status() !== 'answering' || S.stopped) {
      if (CAM.promptSlot !== null && $('cam-prompt')) closeModal();
      CAM.promptSlot = null;
      return;
    }
    if (slotsTaken()[p.slot] || CAM.promptSlot === p.slot) return;
    CAM.promptSlot = p.slot;
    var cfg = cam;
    if (window.hallCamera.liveSupported() && !window.hallCamera.live.failed) {
      window.hallCamera.grab(cfg.max_side || 480, cfg.target_bytes || 40960)
        .then(function (blob) { return enqueuePhoto(blob, p.slot, 'camera'); })
        .catch(function (e) {
          window.hallCamera.live.failed = (e && e.code) || window.hallCamera.live.failed || 'no_camera';
          CAM.promptSlot = null; showPrompt(p);
        });
      return;
    }
    showPrompt(p);
  }
  function showPrompt(p) {
    CAM.promptSlot = p.slot;
    showModal(h('div', { class: 'dialog cam-prompt', id: 'cam-prompt' },
      h('h2', { text: '请立即拍照' }),
      h('p', { class: 'big', text: '考试系统随机抓拍：请正对手机前置摄像头，拍一张本人正面照片。' }),
      h('p', { class: 'muted', text: '考试计时不暂停。拍完后自动回到试题。' }),
      fileButton(p.slot, '拍照'), cannotButton(p.slot)));
  }
  function refreshCameraViews() {
    if (S.screen === 'waiting') render();
    var p = CAM.promptSlot;
    if (p !== null && slotsTaken()[p] && $('cam-prompt')) { closeModal(); CAM.promptSlot = null; }
  }

  // ------------------------------------------------------------------ boot
  function boot() {
    var m = /^\/r\/([^\/?#]+)/.exec(window.location.pathname);
    S.token = m ? decodeURIComponent(m[1]) : null;
    S.device = LS.get(K.device);
    if (typeof S.device !== 'string' || S.device.length < 8) { S.device = randomId(); LS.set(K.device, S.device); }
    var sess = LS.get(K.session);
    if (sess && sess.session && sess.ticket) {
      S.session = sess;
      loadAtt(sess.ticket);
      // Show where the candidate was at once (from the phone), then confirm with the server.
      if (S.att.state) S.state = S.att.state;
    }
    route(true);
    document.addEventListener('visibilitychange', onVisibility);
    window.addEventListener('beforeunload', onBeforeUnload);
    window.addEventListener('online', function () { if (S.socket && !S.socket.connected && !S.stopped) S.socket.connect(); });
    setInterval(tick, 1000);
    setTimeout(updateBanner, 3100);
    setInterval(function () { pump(); capPump(); updateBanner(); }, 5000);
    if (!storageOk) console.warn('localStorage unavailable: answers kept in memory only');
    if (S.session || S.token) connect();
  }

  // exposed for tests and debugging only
  window.hallApp = { S: S, pendingList: pendingList, serverNow: serverNow };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();

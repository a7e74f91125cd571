/* hall camera (served at /static/client/camera.js): photos of the candidate for proctoring.
 *
 * Contract: docs/protocol.md "Camera". Two ways to take a photo:
 *   - everywhere (plain-HTTP LAN page): <input type="file" accept="image/*" capture="user">,
 *     which opens the front camera on Android Chrome, iOS Safari and WeChat's browser;
 *   - where the page is a secure context (localhost, or HTTPS with the site's certificate):
 *     getUserMedia, a live stream from which the prompts' photos are taken silently.
 *     Denied, absent or covered (a black frame): back to the file input.
 * Every photo is downsized here (longest side <= max_side, JPEG <= target_bytes), queued in
 * localStorage (hall.cap.<ticket>) before it is sent, and sent by POST /api/capture with
 * its own id until the server acknowledges it (idempotent by that id).
 */
(function () {
  'use strict';

  function loadImage(file) {
    if (window.createImageBitmap) {
      return window.createImageBitmap(file, { imageOrientation: 'from-image' }).catch(function () { return viaImg(file); });
    }
    return viaImg(file);
  }
  function viaImg(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file), img = new Image();
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error('not an image')); };
      img.src = url;
    });
  }
  function sizeOf(src) {
    return { w: src.videoWidth || src.naturalWidth || src.width, h: src.videoHeight || src.naturalHeight || src.height };
  }
  function toBlob(canvas, q) {
    return new Promise(function (resolve) {
      if (canvas.toBlob) canvas.toBlob(resolve, 'image/jpeg', q);
      else resolve(dataUrlToBlob(canvas.toDataURL('image/jpeg', q)));
    });
  }
  function dataUrlToBlob(url) {
    var b = atob(url.split(',')[1]), a = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) a[i] = b.charCodeAt(i);
    return new Blob([a], { type: 'image/jpeg' });
  }

  // Longest side <= maxSide, then lower the JPEG quality, then the size, until <= target.
  function downsize(src, maxSide, target) {
    var s = sizeOf(src);
    if (!s.w || !s.h) return Promise.reject(new Error('empty image'));
    var side = maxSide, q = 0.82;
    function attempt() {
      var k = Math.min(1, side / Math.max(s.w, s.h));
      var canvas = document.createElement('canvas');
      canvas.width = Math.max(16, Math.round(s.w * k)); canvas.height = Math.max(16, Math.round(s.h * k));
      canvas.getContext('2d').drawImage(src, 0, 0, canvas.width, canvas.height);
      return toBlob(canvas, q).then(function (blob) {
        if (blob.size <= target || side < 120) return { blob: blob, canvas: canvas };
        if (q > 0.45) q -= 0.12; else side = Math.round(side * 0.8);
        return attempt();
      });
    }
    return attempt();
  }

  // Mean brightness of a frame: a covered or dead camera gives an (almost) black one.
  function brightness(canvas) {
    var c = document.createElement('canvas'); c.width = 32; c.height = 32;
    var g = c.getContext('2d'); g.drawImage(canvas, 0, 0, 32, 32);
    var d = g.getImageData(0, 0, 32, 32).data, sum = 0;
    for (var i = 0; i < d.length; i += 4) sum += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    return sum / (d.length / 4);
  }

  function blobToDataUrl(blob) {
    return new Promise(function (resolve, reject) {
      var r = new FileReader();
      r.onload = function () { resolve(r.result); };
      r.onerror = reject;
      r.readAsDataURL(blob);
    });
  }

  // ------------------------------------------------------------------ the live camera
  var live = { stream: null, video: null, failed: null };
  function liveSupported() {
    return !!(window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }
  function startLive() {
    if (live.stream) return Promise.resolve(live.video);
    if (!liveSupported()) return Promise.reject(new Error('insecure'));
    return navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user', width: { ideal: 640 } }, audio: false })
      .then(function (stream) {
        live.stream = stream; live.failed = null;
        var v = document.createElement('video');
        v.muted = true; v.setAttribute('playsinline', ''); v.autoplay = true; v.srcObject = stream;
        v.className = 'cam-live';
        live.video = v;
        stream.getVideoTracks().forEach(function (t) { t.addEventListener('ended', function () { stopLive('ended'); }); });
        return v.play().then(function () { return waitFrame(v); });
      })
      .catch(function (e) { live.failed = (e && e.name === 'NotAllowedError') ? 'denied' : 'no_camera'; throw e; });
  }
  function waitFrame(v) {
    return new Promise(function (resolve) {
      var n = 0;
      (function check() { if (v.videoWidth || n++ > 50) resolve(v); else setTimeout(check, 100); })();
    });
  }
  function stopLive(why) {
    if (live.stream) live.stream.getTracks().forEach(function (t) { t.stop(); });
    live.stream = null; live.video = null; live.failed = why || null;
  }
  // A frame from the stream, downsized; rejects 'dark' when the camera is covered.
  function grab(maxSide, target) {
    return startLive().then(function (v) {
      return downsize(v, maxSide, target).then(function (r) {
        if (brightness(r.canvas) < 12) { var e = new Error('dark'); e.code = 'dark'; throw e; }
        return r.blob;
      });
    });
  }

  window.hallCamera = {
    downsize: downsize, loadImage: loadImage, blobToDataUrl: blobToDataUrl, dataUrlToBlob: dataUrlToBlob,
    brightness: brightness, liveSupported: liveSupported, startLive: startLive, stopLive: stopLive, grab: grab,
    live: live
  };
})();

// The scan page's camera: reads a label's QR code with the browser's BarcodeDetector where it exists,
// else with jsQR (vendored, loaded only when needed), puts the payload in the form and sends it.
// Handheld scanners need none of this: they type into the focused field and press Enter.
(function () {
  "use strict";
  var form = document.getElementById("scan-form");
  var input = document.getElementById("scan-payload");
  var section = document.getElementById("camera");
  if (!form || !input || !section) { return; }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
  section.hidden = false;
  var start = document.getElementById("camera-start");
  var stop = document.getElementById("camera-stop");
  var video = document.getElementById("camera-video");
  var canvas = document.getElementById("camera-canvas");
  var status = document.getElementById("camera-status");
  var stream = null;
  var timer = null;
  var KEEP = "dossier.scan.camera";

  function say(name) { status.textContent = section.getAttribute("data-msg-" + name) || ""; }

  function loadJsQR() {
    return new Promise(function (resolve, reject) {
      if (window.jsQR) { resolve(window.jsQR); return; }
      var script = document.createElement("script");
      script.src = section.getAttribute("data-jsqr");
      script.onload = function () { resolve(window.jsQR); };
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  // A function that reads the current video frame: the text of a QR code in it, or null.
  async function makeDetector() {
    if ("BarcodeDetector" in window) {
      try {
        var formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.indexOf("qr_code") >= 0) {
          var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
          return function () {
            return detector.detect(video).then(function (codes) {
              return codes.length ? codes[0].rawValue : null;
            });
          };
        }
      } catch (e) { /* fall back to jsQR */ }
    }
    var jsQR = await loadJsQR();
    var context = canvas.getContext("2d", { willReadFrequently: true });
    return function () {
      var w = video.videoWidth, h = video.videoHeight;
      if (!w || !h) { return Promise.resolve(null); }
      canvas.width = w;
      canvas.height = h;
      context.drawImage(video, 0, 0, w, h);
      var image = context.getImageData(0, 0, w, h);
      var code = jsQR(image.data, w, h, { inversionAttempts: "attemptBoth" });
      return Promise.resolve(code ? code.data : null);
    };
  }

  function stopCamera(forget) {
    if (timer) { clearTimeout(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.hidden = true;
    start.hidden = false;
    stop.hidden = true;
    if (forget) { try { sessionStorage.removeItem(KEEP); } catch (e) { /* private mode */ } }
  }

  function found(text) {
    stopCamera(false);
    say("found");
    input.value = text;
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }

  async function startCamera() {
    say("starting");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      say("denied");
      return;
    }
    try { sessionStorage.setItem(KEEP, "on"); } catch (e) { /* private mode */ }
    video.srcObject = stream;
    video.hidden = false;
    start.hidden = true;
    stop.hidden = false;
    try { await video.play(); } catch (e) { /* autoplay rules; frames still arrive */ }
    var detect = await makeDetector();
    say("scanning");
    var tick = function () {
      if (!stream) { return; }
      detect().then(function (text) {
        if (text) { found(text); } else { timer = setTimeout(tick, 150); }
      }, function () { timer = setTimeout(tick, 400); });
    };
    tick();
  }

  start.addEventListener("click", startCamera);
  stop.addEventListener("click", function () { stopCamera(true); input.focus(); });
  // After a scan the page reloads: keep the camera on when it was on.
  try { if (sessionStorage.getItem(KEEP) === "on") { startCamera(); } } catch (e) { /* private mode */ }
})();

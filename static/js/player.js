// Lesson player: HLS (native or hls.js) with an MP4 fallback, speed, HD/SD where the lesson has
// both, resume, lock-screen controls, progress reports every 12 s and on pause or leave, and a
// watermark that moves about every 20 s.
(function () {
  var root = document.querySelector("[data-lesson]");
  if (!root) return;
  var d = root.dataset;
  var media = document.getElementById("media");

  if (media && d.hls) {
    if (window.Hls && window.Hls.isSupported()) {
      var hls = new window.Hls();
      hls.loadSource(d.hls);
      hls.attachMedia(media);
      offerQuality(hls);
    } else if (media.canPlayType("application/vnd.apple.mpegurl")) {
      // Safari plays HLS itself and picks HD or SD by the network; it offers no choice to script.
      media.src = d.hls;
    }
  }

  // 自动 / 高清 / 标清 when the playlist has more than one rendition.
  function offerQuality(hls) {
    var pick = document.querySelector("[data-quality-pick]");
    var select = document.querySelector("[data-quality]");
    if (!pick || !select) return;
    hls.on(window.Hls.Events.MANIFEST_PARSED, function () {
      if (hls.levels.length < 2) return;
      var option = function (value, label) {
        var o = document.createElement("option");
        o.value = String(value);
        o.textContent = label;
        select.appendChild(o);
      };
      option(-1, select.dataset.auto);
      hls.levels.forEach(function (level, i) {
        option(i, (level.height > 480 ? select.dataset.hd : select.dataset.sd) + " " + level.height + "p");
      });
      select.value = "-1";
      pick.hidden = false;
      select.addEventListener("change", function () { hls.currentLevel = Number(select.value); });
    });
  }

  function send(position, duration) {
    if (!d.progressUrl || !(duration > 0)) return;
    fetch(d.progressUrl, {
      method: "POST",
      credentials: "same-origin",
      keepalive: true,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": d.csrf },
      body: JSON.stringify({ position: Math.floor(position), duration: Math.floor(duration) })
    }).catch(function () {});
  }

  if (media) {
    var resume = Number(d.resume || 0);
    media.addEventListener("loadedmetadata", function () {
      if (resume > 0 && resume < media.duration - 3) media.currentTime = resume;
    });
    var report = function () { send(media.currentTime, media.duration); };
    setInterval(function () { if (!media.paused) report(); }, 12000);
    media.addEventListener("pause", report);
    media.addEventListener("ended", report);
    window.addEventListener("pagehide", report);
    // Speed: chosen once, kept for this learner's next lessons (in this browser).
    var speedKey = "kedian.speed";
    var speed = document.querySelector("[data-speed-select]");
    var kept = Number((window.localStorage && localStorage.getItem(speedKey)) || 0);
    if (kept > 0) {
      media.playbackRate = kept;
      if (speed) speed.value = String(kept);
      // Loading a source resets the rate; put it back.
      media.addEventListener("loadedmetadata", function () { media.playbackRate = kept; });
    }
    if (speed) {
      speed.addEventListener("change", function () {
        kept = Number(speed.value);
        media.playbackRate = kept;
        try { localStorage.setItem(speedKey, String(kept)); } catch (e) {}
      });
    }
    // 15 s back and forward.
    var skip = function (by) {
      var to = media.currentTime + by;
      media.currentTime = Math.max(0, Math.min(isFinite(media.duration) ? media.duration : to, to));
    };
    document.querySelectorAll("[data-skip]").forEach(function (b) {
      b.addEventListener("click", function () { skip(Number(b.dataset.skip)); });
    });
    // The lock screen and the notification shade show the lesson and skip 15 s; audio keeps
    // playing with the screen off, as the browser allows for an <audio> element.
    var box = document.querySelector(".player");
    if ("mediaSession" in navigator && box && window.MediaMetadata) {
      navigator.mediaSession.metadata = new window.MediaMetadata({
        title: box.dataset.title, album: box.dataset.album,
        artwork: box.dataset.artwork ? [{ src: box.dataset.artwork }] : []
      });
      try {
        navigator.mediaSession.setActionHandler("seekbackward", function () { skip(-15); });
        navigator.mediaSession.setActionHandler("seekforward", function () { skip(15); });
      } catch (e) {}
    }
    // Picture-in-picture, where the browser allows it.
    var pip = document.querySelector("[data-pip]");
    if (pip && document.pictureInPictureEnabled && media.requestPictureInPicture) {
      pip.hidden = false;
      pip.addEventListener("click", function () {
        if (document.pictureInPictureElement) document.exitPictureInPicture();
        else media.requestPictureInPicture().catch(function () {});
      });
    }
    // "上次看到 12:34": where playback resumes, said for a few seconds.
    var toast = document.getElementById("resume-toast");
    if (toast && resume > 0) {
      var m = Math.floor(resume / 60), s = Math.floor(resume % 60);
      toast.textContent = (toast.dataset.label || "{t}").replace("{t}", m + ":" + (s < 10 ? "0" : "") + s);
      toast.hidden = false;
      setTimeout(function () { toast.hidden = true; }, 5000);
    }
  }

  // Articles: the reading position is the share scrolled, in percent (of 100); the end completes.
  var end = document.getElementById("article-end");
  if (end) {
    var scrolled = function () {
      var h = document.documentElement.scrollHeight - window.innerHeight;
      return h > 0 ? Math.min(100, Math.round((window.scrollY / h) * 100)) : 100;
    };
    // How far the reader is, as a bar across the top.
    var bar = document.getElementById("read-bar");
    if (bar) {
      var queued = false;
      var draw = function () { queued = false; bar.style.width = scrolled() + "%"; };
      window.addEventListener("scroll", function () {
        if (!queued) { queued = true; window.requestAnimationFrame(draw); }
      }, { passive: true });
      draw();
    }
    var resumeAt = Number(d.resume || 0);
    if (resumeAt > 0 && resumeAt < 100) {
      window.scrollTo(0, (document.documentElement.scrollHeight - window.innerHeight) * resumeAt / 100);
    }
    var last = -1;
    var keep = function () { var p = scrolled(); if (p !== last) { last = p; send(p, 100); } };
    setInterval(keep, 12000);
    window.addEventListener("pagehide", keep);
    if ("IntersectionObserver" in window) {
      var seen = false;
      new IntersectionObserver(function (entries) {
        if (!seen && entries[0].isIntersecting) { seen = true; last = 100; send(100, 100); }
      }).observe(end);
    }
  }

  var mark = document.querySelector(".watermark");
  if (mark) {
    var move = function () {
      mark.style.left = Math.floor(Math.random() * 60 + 5) + "%";
      mark.style.top = Math.floor(Math.random() * 70 + 5) + "%";
    };
    move();
    setInterval(move, 20000);
  }
})();

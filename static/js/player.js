// Lesson player: HLS (native or hls.js) with an MP4 fallback, speed, HD/SD where the lesson has
// both, resume, lock-screen controls, progress reports every 12 s and on pause or leave, and a
// watermark that moves about every 20 s.
(function () {
  var root = document.querySelector("[data-lesson]");
  if (!root) return;
  var d = root.dataset;
  var media = document.getElementById("media");

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
    // Where to resume. It is applied once the media knows its duration, whichever comes first:
    // the script or the metadata (a cached file can have its metadata before this runs).
    var resume = Number(d.resume || 0);
    var resumed = !(resume > 0);
    // Positions are reported only once playback has really begun, so leaving before the seek
    // (or before pressing play) never overwrites the stored position with 0.
    var started = false;
    var hls = null;
    var retries = 0;
    var errorBox = document.getElementById("player-error");

    var seekToResume = function () {
      if (resumed || !(media.readyState >= 1)) return;
      resumed = true;
      if (!isFinite(media.duration) || resume < media.duration - 3) media.currentTime = resume;
    };
    media.addEventListener("loadedmetadata", seekToResume);
    media.addEventListener("durationchange", seekToResume);

    var logFailure = function (reason) {
      if (!d.errorUrl) return;
      fetch(d.errorUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": d.csrf },
        body: JSON.stringify({ reason: String(reason) })
      }).catch(function () {});
    };
    var showFailure = function (reason) {
      if (errorBox) errorBox.hidden = false;
      var said = document.getElementById("resume-toast");
      if (said) said.hidden = true;
      logFailure(reason);
    };

    // HLS through hls.js where the browser has MediaSource (Chrome, Android, WeChat on Android),
    // natively on Safari, else the MP4.
    var load = function () {
      if (errorBox) errorBox.hidden = true;
      if (hls) { hls.destroy(); hls = null; }
      if (d.hls && window.Hls && window.Hls.isSupported()) {
        hls = new window.Hls({ startPosition: resumed ? -1 : resume });
        hls.on(window.Hls.Events.ERROR, function (_, data) {
          if (!data.fatal) return;
          if (retries < 2 && data.type === window.Hls.ErrorTypes.NETWORK_ERROR) { retries += 1; hls.startLoad(); return; }
          if (retries < 2 && data.type === window.Hls.ErrorTypes.MEDIA_ERROR) { retries += 1; hls.recoverMediaError(); return; }
          fallBack("hls " + data.type + ": " + data.details);
        });
        hls.loadSource(d.hls);
        hls.attachMedia(media);
        offerQuality(hls);
      } else if (d.hls && media.canPlayType("application/vnd.apple.mpegurl")) {
        // Safari plays HLS itself and picks HD or SD by the network; it offers no choice to script.
        media.src = d.hls;
      } else if (d.mp4 && media.getAttribute("src") !== d.mp4) {
        media.src = d.mp4;
      } else if (!media.getAttribute("src")) {
        showFailure("no playable source in this browser");
      }
      seekToResume();
    };
    // HLS that cannot play here (a decoder, a proxy, a policy refusing blob: media) gives way to
    // the MP4 where the lesson has one; otherwise the learner sees why, and 重试.
    var fallBack = function (reason) {
      if (hls) { hls.destroy(); hls = null; }
      if (d.hls && d.mp4) {
        logFailure(reason + " (playing the MP4 instead)");
        d.hls = "";
        media.src = d.mp4;
        return;
      }
      showFailure(reason);
    };
    media.addEventListener("error", function () {
      var e = media.error;
      var reason = "media error " + (e ? e.code + " " + (e.message || "") : "");
      if (hls) { fallBack(reason); } else { showFailure(reason); }
    });
    document.querySelectorAll("[data-retry]").forEach(function (b) {
      b.addEventListener("click", function () {
        if (media.currentTime > 0) { resume = media.currentTime; resumed = false; }
        retries = 0;
        if (errorBox) errorBox.hidden = true;
        if (hls || d.hls) { load(); } else { media.load(); }
        var p = media.play();
        if (p && p.catch) p.catch(function () {});
      });
    });
    load();

    var report = function () { if (started) send(media.currentTime, media.duration); };
    media.addEventListener("playing", function () { started = true; if (errorBox) errorBox.hidden = true; });
    setInterval(function () { if (!media.paused) report(); }, 12000);
    media.addEventListener("pause", report);
    media.addEventListener("seeked", function () { if (media.paused) report(); });
    media.addEventListener("ended", report);
    window.addEventListener("pagehide", report);

    // A note sits at the moment the learner is at when they start writing it (unless they typed one).
    var noteAt = document.querySelector("[data-note-at]");
    if (noteAt) {
      var stamp = function () {
        if (noteAt.dataset.edited) return;
        var t = Math.floor(media.currentTime || 0), h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
        noteAt.value = (h ? h + ":" + (m < 10 ? "0" : "") : "") + m + ":" + (s < 10 ? "0" : "") + s;
      };
      noteAt.addEventListener("input", function () { noteAt.dataset.edited = "1"; });
      var noteBox = document.getElementById("note-form");
      if (noteBox) noteBox.addEventListener("toggle", stamp);
      var noteBody = document.getElementById("note-body");
      if (noteBody) noteBody.addEventListener("focus", stamp);
    }

    // A free preview that ends offers the course, calmly: the price and 立即购买, or watch again.
    var paywall = document.getElementById("paywall");
    if (paywall) {
      media.addEventListener("ended", function () { paywall.hidden = false; });
      media.addEventListener("play", function () { paywall.hidden = true; });
      var again = paywall.querySelector("[data-replay]");
      if (again) again.addEventListener("click", function () { paywall.hidden = true; media.currentTime = 0; media.play(); });
    }

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

  // 自动 / 高清 / 标清 when the playlist has more than one rendition.
  function offerQuality(levels) {
    var pick = document.querySelector("[data-quality-pick]");
    var select = document.querySelector("[data-quality]");
    if (!pick || !select) return;
    levels.on(window.Hls.Events.MANIFEST_PARSED, function () {
      if (levels.levels.length < 2 || select.options.length) return;
      var option = function (value, label) {
        var o = document.createElement("option");
        o.value = String(value);
        o.textContent = label;
        select.appendChild(o);
      };
      option(-1, select.dataset.auto);
      levels.levels.forEach(function (level, i) {
        option(i, (level.height > 480 ? select.dataset.hd : select.dataset.sd) + " " + level.height + "p");
      });
      select.value = "-1";
      pick.hidden = false;
      // The player in use now (a retry makes a new one).
      select.addEventListener("change", function () { if (hls) hls.currentLevel = Number(select.value); });
    });
  }

  // Articles: the reading position is the share scrolled, in percent (of 100), reported every 12 s
  // while the page is in view: the shop credits reading at a reader's pace, so time spent at the
  // end still counts towards completing it.
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
    var report = function () { send(scrolled(), 100); };
    setInterval(function () { if (document.visibilityState === "visible") report(); }, 12000);
    window.addEventListener("pagehide", report);
    if ("IntersectionObserver" in window) {
      new IntersectionObserver(function (entries) {
        if (entries[0].isIntersecting) send(100, 100);
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

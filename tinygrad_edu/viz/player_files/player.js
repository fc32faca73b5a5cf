// The backprop player: shows one frame at a time (the forward graph, then one per step of the
// backward pass), with buttons, a slider, the arrow keys, play/pause and #step=N in the URL.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("frames-data").textContent);
  const frames = Array.from(document.querySelectorAll("#picture .frame"));
  const slider = document.getElementById("slider");
  const title = document.getElementById("step-title");
  const text = document.getElementById("step-text");
  const position = document.getElementById("position");
  const play = document.getElementById("play");
  let current = 0;
  let timer = null;

  slider.max = String(frames.length - 1);

  // #step=N opens the frame of steps[N]; the forward graph is the frame before steps[0].
  function frameOfHash() {
    const match = /^#step=(-?\d+)$/.exec(window.location.hash);
    if (!match) return null;
    const step = parseInt(match[1], 10);
    for (let f = frames.length - 1; f >= 0; f--) {
      if (data.frames[f].first_step <= step) return f;
    }
    return 0;
  }

  function show(f, updateHash) {
    current = Math.max(0, Math.min(frames.length - 1, f));
    frames.forEach(function (frame, i) { frame.hidden = i !== current; });
    const info = data.frames[current];
    title.textContent = info.title;
    text.textContent = info.text;
    slider.value = String(current);
    position.textContent = "frame " + (current + 1) + " of " + frames.length;
    if (updateHash) {
      try {  // a sandboxed notebook frame may refuse; the player works without it
        history.replaceState(null, "", "#step=" + info.last_step);
      } catch (error) { /* ignore */ }
    }
    focusCurrentNode(frames[current], info.focus);
  }

  // Scroll the op running in this frame into view, for pictures larger than the window.
  function focusCurrentNode(frame, name) {
    if (!name) return;
    const titles = frame.querySelectorAll("g.node > title");
    for (const t of titles) {
      if (t.textContent === name) {
        t.parentNode.scrollIntoView({ block: "center", inline: "center" });
        return;
      }
    }
  }

  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    play.textContent = "▶ play";
  }

  function start() {
    if (current === frames.length - 1) show(0, true);
    timer = setInterval(function () {
      show(current + 1, true);
      if (current >= frames.length - 1) stop();  // the end of the pass: stay there
    }, data.interval);
    play.textContent = "❚❚ pause";
  }

  document.getElementById("first").addEventListener("click", function () { stop(); show(0, true); });
  document.getElementById("previous").addEventListener("click", function () { stop(); show(current - 1, true); });
  document.getElementById("next").addEventListener("click", function () { stop(); show(current + 1, true); });
  document.getElementById("last").addEventListener("click", function () { stop(); show(frames.length - 1, true); });
  play.addEventListener("click", function () { if (timer === null) start(); else stop(); });
  slider.addEventListener("input", function () { stop(); show(parseInt(slider.value, 10), true); });
  window.addEventListener("hashchange", function () {
    const f = frameOfHash();
    if (f !== null && f !== current) show(f, false);
  });
  document.addEventListener("keydown", function (event) {
    if (event.target === slider || event.altKey || event.ctrlKey || event.metaKey) return;
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (event.key in moves) { stop(); show(current + moves[event.key], true); }
    else if (event.key === "Home") { stop(); show(0, true); }
    else if (event.key === "End") { stop(); show(frames.length - 1, true); }
    else if (event.key === " ") { if (timer === null) start(); else stop(); }
    else return;
    event.preventDefault();
  });

  const f = frameOfHash();
  show(f === null ? 0 : f, false);
})();

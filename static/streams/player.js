// The live's video, for the live page (live.js) and the embed page (embed.js): HLS through
// our hls.js where the browser cannot play it natively, any other URL (the demo loop, a
// replay file) as the video's own source. window.tapbuyPlayer.play(video) (re)starts the
// URL in the video's data-src.
(function () {
  "use strict";
  const players = new WeakMap();

  function play(video) {
    const url = video && video.dataset.src;
    if (!url) return;
    const previous = players.get(video);
    if (previous) { previous.destroy(); players.delete(video); }
    if (url.includes(".m3u8") && !video.canPlayType("application/vnd.apple.mpegurl") && window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls({ lowLatencyMode: true });
      hls.loadSource(url);
      hls.attachMedia(video);
      players.set(video, hls);
    } else {
      video.src = url;
    }
    video.play().catch(() => {});
  }

  window.tapbuyPlayer = { play };
})();

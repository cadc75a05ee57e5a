// The embed page (/live/<id>/embed/), framed by other sites: it plays the video and follows
// the live's state. It listens on the live socket as one more viewer (framed on another
// site, the browser sends none of the visitor's Tapbuy cookies with it), and it acts for
// nobody: it never sends a frame.
// When the live has moved on from the state the page shows (a scheduled live goes live, a
// live ends), it loads itself again, and the server renders the player for that state.
// States only move forward, so an older one (a snapshot built a moment before the change
// was announced) is ignored and the page never loads itself over and over.
(function () {
  "use strict";
  const root = document.querySelector("[data-testid=embed]");
  if (window.tapbuyPlayer) window.tapbuyPlayer.play(document.getElementById("video"));
  if (!root || root.dataset.status === "ended" || !("WebSocket" in window)) return;

  // A cancelled live is as far along as an ended one (its page is then gone).
  const ORDER = { scheduled: 0, live: 1, ended: 2, cancelled: 2 };
  let retry = 0;
  let reloading = false;

  function follow(status) {
    if (reloading || !(ORDER[status] > ORDER[root.dataset.status])) return;
    reloading = true;
    location.reload();
  }

  function onMessage(event) {
    let message;
    try { message = JSON.parse(event.data); } catch (error) { return; }
    if (message.type === "snapshot") follow(message.data.stream.status);
    else if (message.type === "stream.state") follow(message.data.status);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/live/${root.dataset.stream}/`);
    socket.addEventListener("open", () => { retry = 0; root.dataset.connected = "1"; });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", (event) => {
      root.dataset.connected = "0";
      if (reloading) return;
      // The live has ended (or is gone) since the page was rendered: it says so when loaded
      // again.
      if (event.code === 4404) { follow("ended"); return; }
      // Back off, with jitter, so that a restarted server is not hit by every embed at once.
      const delay = Math.min(30000, 500 * 2 ** retry++) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    });
  }

  connect();
})();

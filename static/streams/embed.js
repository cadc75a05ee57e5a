// The embed page (/live/<id>/embed/), framed by other sites: it plays the video and does
// nothing else (no socket, no session, nothing that acts for the visitor).
(function () {
  "use strict";
  if (window.tapbuyPlayer) window.tapbuyPlayer.play(document.getElementById("video"));
})();

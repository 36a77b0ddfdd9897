// shipway console: an activity's log, streamed live (server-sent events). Text only:
// each line is appended as a text node, so a line such as <script> shows as written.
(function () {
  "use strict";
  var pre = document.querySelector("pre[data-stream]");
  if (!pre || !window.EventSource) { return; }
  var source = new EventSource(pre.getAttribute("data-stream"));
  source.addEventListener("line", function (event) {
    pre.appendChild(document.createTextNode(event.data + "\n"));
    pre.scrollTop = pre.scrollHeight;
  });
  source.addEventListener("done", function (event) {
    source.close();
    pre.removeAttribute("data-stream");
    pre.setAttribute("data-done", "1");
    var state = document.getElementById("state");
    try {
      var result = JSON.parse(event.data);
      if (state) { state.textContent = result.state + (result.result ? " · " + result.result : ""); }
    } catch (e) { /* the page still shows the log */ }
    // The timeline and figures are recorded at the end: a reload shows them.
    setTimeout(function () { window.location.reload(); }, 800);
  });
  source.onerror = function () { if (source.readyState === 2) { pre.setAttribute("data-done", "1"); } };
})();

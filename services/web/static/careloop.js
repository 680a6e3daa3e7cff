// htmx remembers the current page address in sessionStorage when it loads, even with its
// history turned off. Addresses here hold only opaque ids, but pages keep nothing in browser
// storage at all, so the entry is removed as soon as htmx has written it, and after every swap.
(function () {
  function forget() {
    try { sessionStorage.removeItem("htmx-current-path-for-history"); } catch (e) { /* none */ }
  }
  forget();
  document.addEventListener("htmx:afterSettle", forget);
})();

// medbook: client-side full-text search over window.MEDBOOK_SEARCH (loaded from
// search-index.js), so it works offline and from file:// URLs.
"use strict";
(function () {
  function terms(query) {
    return query.toLowerCase().split(/\s+/).filter(function (t) { return t.length > 0; });
  }

  function snippet(text, term) {
    var at = text.toLowerCase().indexOf(term);
    if (at < 0) { return text.slice(0, 160); }
    var start = Math.max(0, at - 60);
    return (start > 0 ? "… " : "") + text.slice(start, at + 100) + " …";
  }

  // Where a word occurs decides the rank: a chapter title outranks a section heading,
  // which outranks any number of occurrences in body text (counted up to 10).
  var TITLE = 1000, HEADING = 100, BODY_CAP = 10;

  function occurrences(text, word) {
    return text.split(word).length - 1;
  }

  function score(record, words) {
    var heading = (record.h || record.t).toLowerCase();
    var text = record.x.toLowerCase();
    var total = 0;
    for (var i = 0; i < words.length; i++) {
      if (heading.indexOf(words[i]) >= 0) {
        total += record.k === 1 ? HEADING : TITLE;
      } else {
        var count = occurrences(text, words[i]);
        if (count === 0) { return 0; }
        total += Math.min(count, BODY_CAP);
      }
    }
    return total;
  }

  function search(records, query) {
    var words = terms(query);
    if (words.length === 0) { return []; }
    var hits = [];
    records.forEach(function (record, order) {
      var points = score(record, words);
      if (points > 0) { hits.push({ record: record, score: points, order: order }); }
    });
    hits.sort(function (a, b) { return b.score - a.score || a.order - b.order; });
    return hits.slice(0, 20);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("search-input");
    var list = document.getElementById("search-results");
    if (!input || !list) { return; }
    var root = document.body.getAttribute("data-root") || "";
    input.addEventListener("input", function () {
      list.textContent = "";
      var query = input.value.trim();
      var hits = search(window.MEDBOOK_SEARCH || [], query);
      if (query && hits.length === 0) {
        var none = document.createElement("li");
        none.className = "search-empty";
        none.textContent = "No results";
        list.appendChild(none);
        return;
      }
      var first = terms(query)[0];
      hits.forEach(function (hit) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = root + hit.record.u;
        link.textContent = hit.record.t;
        var text = document.createElement("span");
        text.className = "search-snippet";
        text.textContent = snippet(hit.record.x, first);
        item.appendChild(link);
        item.appendChild(text);
        list.appendChild(item);
      });
    });
  });
})();

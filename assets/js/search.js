// Client-side search over the fragments kb build writes (internal/search):
// a manifest (data-index), then only the fragments of the words typed,
// then the metadata of the results shown. A page matches when every query
// word starts some word of its title, description, tags or text, compared
// with Polish diacritics folded on both sides; title matches score 10,
// description and tag matches 3, then newer first.
(function () {
  'use strict';
  var root = document.querySelector('[data-search]');
  if (!root || !window.fetch || !window.Promise) return;

  // fold lower-cases and strips diacritics: NFD removes combining marks
  // (ą→a, ę→e, ś→s, ż→z, …); ł/Ł have no decomposition, so map them.
  // internal/search.Fold is the same; a Go test runs this one against it.
  function fold(s) {
    return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '')
      .replace(/ł/g, 'l').replace(/Ł/g, 'L').toLowerCase();
  }

  // words splits as internal/search.Words: runs of letters and digits.
  var splitter;
  try { splitter = new RegExp('[^\\p{L}\\p{N}]+', 'u'); } catch (e) { splitter = /[^0-9a-z\u00c0-\u024f]+/; }
  function words(s) { return fold(s).split(splitter).filter(Boolean); }

  var PAGE = 20; // results rendered at a time; "more" adds the next page
  var TITLE = 1, META = 2;

  var d = root.dataset;
  var base = new URL(d.index, window.location.href);
  var input = document.getElementById('search-q');
  var status = document.getElementById('search-status');
  var list = document.getElementById('search-results');
  var more = document.getElementById('search-more');
  var moreBox = more && more.parentNode;
  var form = root.querySelector('form');
  var lang = document.documentElement.lang || 'pl';
  var plural = window.Intl && Intl.PluralRules ? new Intl.PluralRules(lang) : null;
  var manifest = null;
  var files = {}; // fragment name → promise of its JSON, kept for the page's life
  var parsed = {}; // fragment name → its JSON once in, to render without waiting
  var seq = 0; // the latest query; answers to older ones are dropped
  var current = null; // {hits, shown} of the query on screen

  function load(name) {
    if (!files[name]) {
      files[name] = fetch(new URL(name, base), { headers: { Accept: 'application/json' } }).then(function (res) {
        if (!res.ok) throw new Error(res.status);
        return res.json();
      }).then(function (v) { parsed[name] = v; return v; });
      files[name].catch(function () { delete files[name]; });
    }
    return files[name];
  }

  // decode unpacks postings (gap from the previous id << 2 | fields) into
  // out, indexed by id: its fields | FOUND, OR-ed with what out has. A
  // typed array keeps the work per query a few linear passes, without
  // string keys or a comparison sort (the phone's main thread is slow).
  var FOUND = 4;
  function decode(enc, out) {
    var id = -1;
    for (var i = 0; i < enc.length; i++) {
      id += enc[i] >> 2;
      out[id] |= (enc[i] & 3) | FOUND;
    }
    return out;
  }

  // lookup resolves to the documents holding a word that starts with w
  // (decode's array): the leaf fragment of w's longest listed prefix, or
  // the union of a split prefix equal to w.
  function lookup(w) {
    var letters = Array.from(w);
    for (var i = 1; i <= letters.length; i++) {
      var p = letters.slice(0, i).join('');
      if (manifest.leaf[p]) {
        return load(manifest.leaf[p]).then(function (leaf) {
          var out = new Uint8Array(manifest.docs);
          for (var k in leaf) if (k.lastIndexOf(w, 0) === 0) decode(leaf[k], out);
          return out;
        });
      }
      if (!manifest.node[p]) break;
      if (i === letters.length) return load(manifest.node[p]).then(function (enc) { return decode(enc, new Uint8Array(manifest.docs)); });
    }
    return Promise.resolve(new Uint8Array(manifest.docs));
  }

  // search resolves to the matching ids, best first. Scores are small
  // sums (10 a title match, 3 a description or tag match, per word), so
  // the ids go into one bucket per score in id order, and ids run newest
  // first: among equal scores the lower id wins, as a sort would give.
  function search(ws) {
    return Promise.all(ws.map(lookup)).then(function (found) {
      var buckets = [];
      var n = manifest.docs;
      next: for (var id = 0; id < n; id++) {
        var s = 0;
        for (var i = 0; i < found.length; i++) {
          var f = found[i][id];
          if (!f) continue next;
          if (f & TITLE) s += 10;
          if (f & META) s += 3;
        }
        (buckets[s] || (buckets[s] = [])).push(id);
      }
      var ids = [];
      for (var b = buckets.length - 1; b >= 0; b--) {
        if (buckets[b]) ids = ids.concat(buckets[b]);
      }
      return ids;
    });
  }

  // file names the metadata file of document id and its row there: the
  // head file for the newest documents (loaded with the first query's
  // fragments), else its chunk.
  function file(id) {
    if (manifest.head && id < manifest.headDocs) return { name: manifest.head, i: id };
    return { name: manifest.meta[Math.floor(id / manifest.chunk)], i: id % manifest.chunk };
  }

  function item(r) {
    return { url: r[0], title: r[1], date: r[2], reading: r[3], description: r[4] };
  }

  function count(n) {
    var cat = plural ? plural.select(n) : 'other';
    // Messages come for Polish one/few/many; other languages fall back to many.
    var tpl = d['msg' + cat.charAt(0).toUpperCase() + cat.slice(1)] || d.msgMany;
    return tpl.replace('{n}', n);
  }

  function node(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function link(href, text) {
    var a = node('a', '', text);
    a.href = href;
    return a;
  }

  // One formatter for every card: toLocaleDateString builds a new one per
  // call, which costs a throttled phone about a millisecond a card.
  var dateFormat;
  function formatDate(iso) {
    try {
      dateFormat = dateFormat || new Intl.DateTimeFormat(lang, { day: 'numeric', month: 'long', year: 'numeric' });
      return dateFormat.format(new Date(iso + 'T12:00:00'));
    } catch (e) {
      return iso;
    }
  }

  function card(it) {
    var li = node('li');
    var c = node('article', 'card');
    var title = node('h2', 'card-title');
    title.appendChild(link(it.url, it.title));
    c.appendChild(title);
    var m = node('p', 'meta');
    var time = node('time', '', formatDate(it.date));
    time.setAttribute('datetime', it.date);
    m.appendChild(time);
    if (it.reading) {
      // As in the guide cards: the dot is decoration, the time one unit.
      var dot = node('span', '', '·');
      dot.setAttribute('aria-hidden', 'true');
      m.appendChild(document.createTextNode(' '));
      m.appendChild(dot);
      m.appendChild(document.createTextNode(' '));
      m.appendChild(node('span', 'nowrap', d.reading.replace('{n}', it.reading)));
    }
    c.appendChild(m);
    if (it.description) c.appendChild(node('p', 'card-desc', it.description));
    li.appendChild(c);
    return li;
  }

  function showMore(visible) {
    if (moreBox) moreBox.hidden = !visible;
  }

  function fail() {
    status.textContent = d.msgError;
    showMore(false);
  }

  function none() {
    status.textContent = d.msgNone;
    var li = node('li', 'search-none');
    if (d.guides) li.appendChild(link(d.guides, d.guidesLabel));
    if (d.guides && d.tags) li.appendChild(document.createTextNode(' · '));
    if (d.tags) li.appendChild(link(d.tags, d.tagsLabel));
    list.appendChild(li);
  }

  // page renders the next PAGE results of query q in order, each card as
  // soon as its metadata and those before it are in. Cards whose file is
  // already in (the head's, usually the first) go in at once, in the same
  // task as the search; the other files are then requested in parallel,
  // after the next paint when a card is already up, so the requests do not
  // hold up the first one's paint. The first page replaces the previous
  // query's results with its first card, so the list does not flash empty
  // while typing, and announces the count once.
  function page(q) {
    var ids = q.hits.slice(q.shown, q.shown + PAGE);
    var first = q.shown === 0;
    q.shown += ids.length;
    showMore(false); // until this page is in, so pages never interleave
    var at = 0; // the next card to add
    function add(rows) {
      if (q !== current) return;
      if (first && at === 0) {
        list.textContent = '';
        status.textContent = count(q.hits.length);
        q.onFirst();
      }
      list.appendChild(card(item(rows)));
      at++;
    }
    while (at < ids.length) {
      var f = file(ids[at]);
      if (!parsed[f.name]) break;
      add(parsed[f.name][f.i]);
    }
    if (at === ids.length) {
      showMore(q.shown < q.hits.length);
      return Promise.resolve();
    }
    var rest = ids.slice(at);
    return new Promise(function (resolve) {
      if (at === 0) resolve();
      else requestAnimationFrame(function () { setTimeout(resolve, 0); });
    }).then(function () {
      var chain = Promise.resolve();
      rest.map(function (id) {
        var f = file(id);
        return load(f.name).then(function (rows) { return rows[f.i]; });
      }).forEach(function (r) {
        chain = chain.then(function () { return r; }).then(add);
      });
      return chain;
    }).then(function () {
      if (q === current) showMore(q.shown < q.hits.length);
    });
  }

  function render(query) {
    var ws = words(query);
    var my = ++seq;
    function shown() {
      afterPaint(function () { if (my === seq) setURL(query); });
    }
    if (!ws.length) {
      // Only punctuation finds nothing; an empty box asks for a query.
      current = null;
      list.textContent = '';
      showMore(false);
      if (query) none(); else status.textContent = d.msgPrompt;
      shown();
      return;
    }
    // The head's request goes out with the fragments', so the best cards
    // of a common word are in when its postings are.
    if (manifest.head) load(manifest.head).catch(function () {});
    search(ws).then(function (hits) {
      if (my !== seq) return;
      current = { hits: hits, shown: 0, onFirst: shown };
      if (!hits.length) {
        list.textContent = '';
        showMore(false);
        none();
        shown();
        return;
      }
      return page(current);
    }).catch(function () {
      if (my === seq) { fail(); shown(); }
    });
  }

  // setURL keeps the query in the address, for reloading and sharing.
  // render calls it once the query's outcome is painted: replaceState is
  // a same-document navigation that costs a throttled phone tens of
  // milliseconds (and makes Chromium fetch and decode the favicon again),
  // which, done on input, held up the handling of the fragment's response.
  function setURL(q) {
    var url = new URL(window.location.href);
    if ((url.searchParams.get('q') || '') === q) return;
    if (q) url.searchParams.set('q', q); else url.searchParams.delete('q');
    window.history.replaceState(null, '', url);
  }

  function afterPaint(fn) {
    requestAnimationFrame(function () { setTimeout(fn, 0); });
  }

  function run() {
    var q = input.value.trim();
    if (manifest) render(q); else setURL(q);
  }

  form.addEventListener('submit', function (e) { e.preventDefault(); run(); });
  // Every input runs at once: fragments already in answer within the
  // event's task, and a run whose files come in after a newer one started
  // is dropped (seq, current), so typing never shows an older query.
  input.addEventListener('input', run);
  if (more) {
    more.addEventListener('click', function () {
      if (current) page(current).catch(fail);
    });
  }

  input.value = new URLSearchParams(window.location.search).get('q') || '';
  status.textContent = d.msgLoading;
  fetch(base, { headers: { Accept: 'application/json' }, cache: 'no-cache' }).then(function (res) {
    if (!res.ok) throw new Error(res.status);
    return res.json();
  }).then(function (m) {
    if (m.v !== 1) throw new Error('search index version ' + m.v);
    manifest = m;
    status.textContent = '';
    if (input.value.trim()) render(input.value.trim()); else status.textContent = d.msgPrompt;
  }).catch(function () {
    status.textContent = d.msgError;
  });
})();

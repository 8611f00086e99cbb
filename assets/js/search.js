// Client-side search over /search-index.json (layouts/home.searchindex.json).
// A page matches when every query word occurs in its title, description,
// tags or text, compared with Polish diacritics folded on both sides.
(function () {
  'use strict';
  var root = document.querySelector('[data-search]');
  if (!root || !window.fetch) return;

  // fold lower-cases and strips diacritics: NFD removes combining marks
  // (ą→a, ę→e, ś→s, ż→z, …); ł/Ł have no decomposition, so map them.
  function fold(s) {
    return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '')
      .replace(/ł/g, 'l').replace(/Ł/g, 'L').toLowerCase();
  }

  var d = root.dataset;
  var input = document.getElementById('search-q');
  var status = document.getElementById('search-status');
  var list = document.getElementById('search-results');
  var form = root.querySelector('form');
  var lang = document.documentElement.lang || 'pl';
  var plural = window.Intl && Intl.PluralRules ? new Intl.PluralRules(lang) : null;
  var docs = null;
  var timer = 0;

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

  function formatDate(iso) {
    try {
      return new Date(iso + 'T12:00:00').toLocaleDateString(lang, { day: 'numeric', month: 'long', year: 'numeric' });
    } catch (e) {
      return iso;
    }
  }

  function render(query) {
    var words = fold(query).split(/\s+/).filter(Boolean);
    list.textContent = '';
    if (!words.length) {
      status.textContent = d.msgPrompt;
      return;
    }
    var hits = [];
    docs.forEach(function (doc) {
      for (var i = 0; i < words.length; i++) {
        if (doc.all.indexOf(words[i]) < 0) return;
      }
      var score = 0;
      words.forEach(function (w) { if (doc.title.indexOf(w) >= 0) score += 10; if (doc.meta.indexOf(w) >= 0) score += 3; });
      hits.push({ doc: doc, score: score });
    });
    hits.sort(function (a, b) { return b.score - a.score || (a.doc.item.date < b.doc.item.date ? 1 : -1); });

    if (!hits.length) {
      status.textContent = d.msgNone;
      var li = node('li', 'search-none');
      if (d.guides) li.appendChild(link(d.guides, d.guidesLabel));
      if (d.guides && d.tags) li.appendChild(document.createTextNode(' · '));
      if (d.tags) li.appendChild(link(d.tags, d.tagsLabel));
      list.appendChild(li);
      return;
    }
    status.textContent = count(hits.length);
    hits.forEach(function (h) {
      var it = h.doc.item;
      var li = node('li');
      var card = node('article', 'card');
      var title = node('h2', 'card-title');
      title.appendChild(link(it.url, it.title));
      card.appendChild(title);
      var meta = node('p', 'meta');
      var time = node('time', '', formatDate(it.date));
      time.setAttribute('datetime', it.date);
      meta.appendChild(time);
      if (it.reading) {
        // As in the guide cards: the dot is decoration, the time one unit.
        var dot = node('span', '', '·');
        dot.setAttribute('aria-hidden', 'true');
        meta.appendChild(document.createTextNode(' '));
        meta.appendChild(dot);
        meta.appendChild(document.createTextNode(' '));
        meta.appendChild(node('span', 'nowrap', d.reading.replace('{n}', it.reading)));
      }
      card.appendChild(meta);
      if (it.description) card.appendChild(node('p', 'card-desc', it.description));
      li.appendChild(card);
      list.appendChild(li);
    });
  }

  function run() {
    var q = input.value.trim();
    var url = new URL(window.location.href);
    if (q) url.searchParams.set('q', q); else url.searchParams.delete('q');
    window.history.replaceState(null, '', url);
    if (docs) render(q);
  }

  form.addEventListener('submit', function (e) { e.preventDefault(); run(); });
  input.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(run, 150);
  });

  input.value = new URLSearchParams(window.location.search).get('q') || '';
  status.textContent = d.msgLoading;
  fetch(d.index, { headers: { Accept: 'application/json' } }).then(function (res) {
    if (!res.ok) throw new Error(res.status);
    return res.json();
  }).then(function (data) {
    docs = (data.items || []).map(function (it) {
      var meta = fold([it.description || '', (it.tags || []).join(' ')].join(' '));
      return { item: it, title: fold(it.title || ''), meta: meta, all: fold(it.title || '') + ' ' + meta + ' ' + fold(it.content || '') };
    });
    status.textContent = '';
    if (input.value.trim()) render(input.value.trim()); else status.textContent = d.msgPrompt;
  }).catch(function () {
    status.textContent = d.msgError;
  });
})();

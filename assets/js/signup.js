// Progressive enhancement of the newsletter signup forms
// (layouts/_partials/signup-form.html documents the markup and the JSON
// contract). Without this script the form posts urlencoded and the server
// answers with a redirect or an HTML page.
(function () {
  'use strict';
  if (!window.fetch || !window.FormData) return;

  var FIELDS = ['email', 'name', 'consent'];

  function el(form, suffix) {
    return document.getElementById(form.id + '-' + suffix);
  }

  function clearErrors(form) {
    var general = el(form, 'error');
    if (general) { general.hidden = true; general.textContent = ''; }
    FIELDS.forEach(function (name) {
      var input = form.elements[name];
      var msg = el(form, name + '-error');
      if (input) { input.removeAttribute('aria-invalid'); input.removeAttribute('aria-describedby'); }
      if (msg) { msg.hidden = true; msg.textContent = ''; }
    });
  }

  function showGeneral(form, text) {
    var general = el(form, 'error');
    general.textContent = text;
    general.hidden = false;
    general.focus();
  }

  function showFieldErrors(form, errors, fallback) {
    var first = null;
    FIELDS.forEach(function (name) {
      var text = errors && errors[name];
      var input = form.elements[name];
      var msg = el(form, name + '-error');
      if (!text || !input || !msg) return;
      msg.textContent = text;
      msg.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', msg.id);
      if (!first) first = input;
    });
    if (first) {
      first.focus();
    } else {
      showGeneral(form, fallback);
    }
  }

  function done(form, text) {
    var box = document.createElement('div');
    box.className = 'signup-done';
    box.setAttribute('role', 'status');
    box.tabIndex = -1;
    var p = document.createElement('p');
    p.textContent = text;
    box.appendChild(p);
    form.parentNode.replaceChild(box, form);
    box.focus();
  }

  function submit(event) {
    var form = event.target;
    event.preventDefault();
    var button = form.querySelector('button[type="submit"]');
    if (button.getAttribute('aria-busy') === 'true') return;
    var msg = form.dataset;
    var label = button.textContent;
    var f = form.elements;
    var body = {
      email: f.email.value.trim(),
      name: f.name.value.trim(),
      consent: f.consent.checked,
      whitepaper: !!(f.whitepaper && f.whitepaper.checked),
      website: f.website.value,
      source: f.source.value
    };
    clearErrors(form);
    button.setAttribute('aria-busy', 'true');
    button.textContent = msg.msgSending;

    fetch(form.action, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if ((res.status === 200 || res.status === 202) && data.ok) {
          done(form, data.message || msg.msgDone);
        } else if (res.status === 400 || res.status === 422) {
          showFieldErrors(form, data.errors, data.message || msg.msgFields);
        } else if (res.status === 429) {
          showGeneral(form, msg.msgRate);
        } else {
          showGeneral(form, msg.msgError);
        }
      });
    }, function () {
      showGeneral(form, msg.msgNetwork);
    }).then(function () {
      button.removeAttribute('aria-busy');
      button.textContent = label;
    });
  }

  var forms = document.querySelectorAll('form[data-signup]');
  for (var i = 0; i < forms.length; i++) forms[i].addEventListener('submit', submit);
})();

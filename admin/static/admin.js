// Liaison back-office: progressive enhancement only. Every page works
// without this script. It adds a live preview and a live convention check
// to the compose form, and print buttons.
(function () {
  'use strict';
  var form = document.getElementById('compose');
  if (form) {
    var panel = document.getElementById('check-panel');
    var timer = null;
    var titleIn = form.querySelector('[name=title]');
    var bodyIn = form.querySelector('[name=body]');
    var setText = function (sel, v, fallback) {
      document.querySelectorAll(sel).forEach(function (el) { el.textContent = v || fallback || ''; });
    };
    var live = function () {
      var data = new URLSearchParams(new FormData(form));
      fetch(form.getAttribute('data-check'), {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Liaison-Live': '1' },
        body: data.toString()
      }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
        if (html !== null && panel) {
          var tpl = document.createElement('template');
          tpl.innerHTML = html;
          var fresh = tpl.content.getElementById('check-panel');
          if (fresh) { panel.innerHTML = fresh.innerHTML; }
        }
      }).catch(function () { /* the "Vérifier" button still works */ });
    };
    form.addEventListener('input', function (e) {
      if (e.target === titleIn) { setText('[data-preview=title]', titleIn.value, titleIn.getAttribute('data-placeholder')); }
      if (e.target === bodyIn) { setText('[data-preview=body]', bodyIn.value); }
      clearTimeout(timer);
      timer = setTimeout(live, 700);
    });
    form.addEventListener('change', function () { clearTimeout(timer); timer = setTimeout(live, 300); });
  }
  document.querySelectorAll('[data-print]').forEach(function (b) {
    b.hidden = false;
    b.addEventListener('click', function () { window.print(); });
  });
})();

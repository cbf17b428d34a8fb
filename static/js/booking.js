// Open consultation times in the visitor's own time zone too. The page is complete without this:
// each time's radio button carries its instant (UTC, RFC 3339) as its value, and the labels show
// the practice's clocks. When the visitor's clocks read differently, each label gains the same
// instant on the visitor's clocks, and a note says which zone that is.
//
// Inlined right after the form (allowed by the Content-Security-Policy by its hash; see
// crates/web/src/site/assets.rs), so it runs while the page is parsed, before its first paint: the labels
// and the note have their final size when the page first shows, and nothing moves after.
(() => {
  'use strict';
  const form = document.querySelector('form[data-zone]');
  if (!form || !window.Intl || !Intl.DateTimeFormat) return;
  const practiceZone = form.getAttribute('data-zone');
  let zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone || zone === practiceZone) return;
  const options = { weekday: 'short', hour: 'numeric', minute: '2-digit' };
  let mine;
  let theirs;
  try {
    mine = new Intl.DateTimeFormat('en-US', { ...options, timeZone: zone });
    theirs = new Intl.DateTimeFormat('en-US', { ...options, timeZone: practiceZone });
  } catch (e) {
    return;
  }
  let shown = 0;
  for (const input of form.querySelectorAll('input[name="start"]')) {
    const when = new Date(input.value);
    if (Number.isNaN(when.getTime())) continue;
    const local = mine.format(when);
    if (local === theirs.format(when)) continue;
    const label = input.labels && input.labels[0];
    if (!label || label.querySelector('.local-time')) continue;
    const span = document.createElement('span');
    span.className = 'local-time';
    span.textContent = ` (${local} your time)`;
    label.append(span);
    shown += 1;
  }
  const note = document.getElementById('local-zone-note');
  if (shown && note) {
    note.textContent = `Times in brackets are on your own clocks (${zone}).`;
    note.hidden = false;
  }
})();

// Open consultation times in the visitor's own time zone too. The page is complete without this:
// each time's radio button carries its instant (UTC, RFC 3339) as its value, the labels show
// the practice's clocks, and each day its offset from UTC on them (`data-offset`, in minutes,
// where it is one all day). When the visitor's clocks read differently, each label gains the
// same instant on the visitor's clocks, and a note says which zone that is.
//
// Inlined at the end of the page (allowed by the Content-Security-Policy by its hash; see
// crates/web/src/site/assets.rs), so it runs while the page is parsed, before its first paint: the labels
// of the first days and the note have their final size when the page first shows, and nothing
// on screen moves after (the later days' labels are added once the page has painted). So it
// costs the first paint as little as it can. The first `Intl.DateTimeFormat` a page makes loads
// its locale data, tens of milliseconds on a phone; so the visitor's clocks are read with `Date`
// and compared with the practice's offset, the zone's name comes from `Temporal` where there is
// one, and `Intl` is used only where those cannot answer (a browser without `Temporal`, a day
// on which the practice's clocks change). A day below the first screen is not laid out until it
// comes near (site.css), so the times added to it cost no layout before then.
(() => {
  'use strict';
  const form = document.querySelector('form[data-zone]');
  if (!form) return;
  // The first days are those a first screen can show: their times are added before the first
  // paint; the rest once it is done.
  const firstDays = new Set(Array.prototype.slice.call(form.querySelectorAll('.day'), 0, 3));
  // The times the visitor's clocks may read differently: all but those at the practice's
  // offset (getTimezoneOffset() counts minutes west of UTC, the page east).
  const differ = [];
  for (const input of form.querySelectorAll('input[name="start"]')) {
    const when = new Date(input.value);
    if (Number.isNaN(when.getTime())) continue;
    const day = input.closest('.day');
    const offset = day ? day.getAttribute('data-offset') : null;
    if (offset !== null && Number(offset) === -when.getTimezoneOffset()) continue;
    differ.push([input, when, offset === null, !day || firstDays.has(day)]);
  }
  if (!differ.length || !window.Intl || !Intl.DateTimeFormat) return;
  const practiceZone = form.getAttribute('data-zone');
  const options = { weekday: 'short', hour: 'numeric', minute: '2-digit' };
  let zone;
  let theirs;
  try {
    zone = window.Temporal
      ? Temporal.Now.timeZoneId()
      : Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone || zone === practiceZone) return;
    // The practice's clocks, for a day without one offset.
    if (differ.some(([, , unsure]) => unsure)) {
      theirs = new Intl.DateTimeFormat('en-US', { ...options, timeZone: practiceZone });
    }
  } catch (e) {
    return;
  }
  // "Tue 6:00 PM" on the visitor's clocks: what Intl.DateTimeFormat('en-US', options) writes.
  const weekdays = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const mine = (when) => {
    const hour = when.getHours();
    const minutes = String(when.getMinutes()).padStart(2, '0');
    return `${weekdays[when.getDay()]} ${hour % 12 || 12}:${minutes} ${hour < 12 ? 'AM' : 'PM'}`;
  };
  const first = [];
  const rest = [];
  for (const [input, when, unsure, early] of differ) {
    const local = mine(when);
    if (unsure && local === theirs.format(when)) continue;
    // The label follows its radio button (`input.labels` would search the whole page for each
    // of some 300 times).
    const label = input.nextElementSibling;
    if (!label || label.htmlFor !== input.id || label.querySelector('.local-time')) continue;
    (early ? first : rest).push([label, ` (${local} your time)`]);
  }
  if (!first.length && !rest.length) return;
  const add = ([label, text]) => {
    const span = document.createElement('span');
    span.className = 'local-time';
    span.textContent = text;
    label.append(span);
  };
  first.forEach(add);
  // The later days are below the first screen and not laid out until they come near (site.css):
  // their times, added after the first paint, move nothing on screen.
  if (rest.length) requestAnimationFrame(() => setTimeout(() => rest.forEach(add)));
  // The days not laid out yet take the room of days with two clocks (site.css).
  form.classList.add('local-times');
  const note = document.getElementById('local-zone-note');
  if (note) {
    note.textContent = `Times in brackets are on your own clocks (${zone}).`;
    note.hidden = false;
  }
})();

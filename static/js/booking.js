// Open consultation times in the visitor's own time zone too. The page is complete without this:
// each time's radio button carries its instant (UTC, RFC 3339) as its value, the labels show
// the practice's clocks, and each day its offset from UTC on them (`data-offset`, in minutes,
// where it is one all day). When the visitor's clocks read differently, each label gains the
// same instant on the visitor's clocks, and a note says which zone that is.
//
// Inlined at the end of the page (allowed by the Content-Security-Policy by its hash; see
// crates/web/src/site/assets.rs), so it runs while the page is parsed, before its first paint: the labels
// and the note have their final size when the page first shows, and nothing moves after. So it
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
  // The times the visitor's clocks may read differently: all but those at the practice's
  // offset (getTimezoneOffset() counts minutes west of UTC, the page east).
  const differ = [];
  for (const input of form.querySelectorAll('input[name="start"]')) {
    const when = new Date(input.value);
    if (Number.isNaN(when.getTime())) continue;
    const day = input.closest('[data-offset]');
    if (day && Number(day.getAttribute('data-offset')) === -when.getTimezoneOffset()) continue;
    differ.push([input, when, !day]);
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
  let shown = 0;
  for (const [input, when, unsure] of differ) {
    const local = mine(when);
    if (unsure && local === theirs.format(when)) continue;
    // The label follows its radio button (`input.labels` would search the whole page for each
    // of some 300 times).
    const label = input.nextElementSibling;
    if (!label || label.htmlFor !== input.id || label.querySelector('.local-time')) continue;
    const span = document.createElement('span');
    span.className = 'local-time';
    span.textContent = ` (${local} your time)`;
    label.append(span);
    shown += 1;
  }
  if (!shown) return;
  // The days not laid out yet take the room of days with two clocks (site.css).
  form.classList.add('local-times');
  const note = document.getElementById('local-zone-note');
  if (note) {
    note.textContent = `Times in brackets are on your own clocks (${zone}).`;
    note.hidden = false;
  }
})();

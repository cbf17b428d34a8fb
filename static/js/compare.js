// The compare panel: tap or drag anywhere on the stage (or use the keyboard on the handle) to
// move the divider between the two sides. The layered layout itself comes from the stylesheet
// (`@media (scripting: enabled)`), so this script only adds the handle and moves `--pos`.
// It does nothing while the page loads: a panel is set up (its handle added, its listeners
// attached, the stylesheet's `--pos` read) only when it comes near the screen.
(() => {
  'use strict';
  if (!window.matchMedia || !matchMedia('(scripting: enabled)').matches) return;

  const KEYS = {
    ArrowLeft: -5, ArrowDown: -5, ArrowRight: 5, ArrowUp: 5, PageDown: -20, PageUp: 20,
  };

  const title = (root, side) => {
    const h = root.querySelector(`.compare-${side} h3`);
    return h ? h.textContent.trim() : side;
  };

  const setUp = (root) => {
    const stage = root.querySelector('.compare-stage');
    if (!stage || stage.querySelector('.compare-handle')) return;
    const left = title(root, 'left');
    const right = title(root, 'right');

    const handle = document.createElement('div');
    handle.className = 'compare-handle';
    handle.tabIndex = 0;
    const attrs = {
      role: 'slider', 'aria-orientation': 'horizontal', 'aria-valuemin': '0',
      'aria-valuemax': '100', 'aria-label': 'Compare the two sides',
    };
    for (const name in attrs) handle.setAttribute(name, attrs[name]);
    const grip = document.createElement('span');
    grip.className = 'compare-grip';
    grip.setAttribute('aria-hidden', 'true');
    handle.append(grip);

    // Where the stylesheet puts the divider at first (the middle; one side whole on a phone).
    let pos = parseFloat(getComputedStyle(root).getPropertyValue('--pos')) || 50;
    const set = (p) => {
      pos = Math.min(100, Math.max(0, p));
      const n = Math.round(pos);
      root.style.setProperty('--pos', `${+pos.toFixed(2)}%`);
      handle.setAttribute('aria-valuenow', String(n));
      handle.setAttribute('aria-valuetext',
        n <= 0 ? `Showing ${right}`
          : n >= 100 ? `Showing ${left}`
            : `${n}% ${left}, ${100 - n}% ${right}`);
    };
    set(pos);
    stage.append(handle);

    const at = (event) => {
      const box = stage.getBoundingClientRect();
      return box.width ? ((event.clientX - box.left) / box.width) * 100 : pos;
    };
    const glide = (on) => root.classList.toggle('is-jumping', on);

    let drag = null;
    let startX = 0;
    const stop = (event) => {
      if (drag === null || event.pointerId !== drag) return;
      drag = null;
      root.classList.remove('is-dragging');
    };

    stage.addEventListener('pointerdown', (event) => {
      if (!event.isPrimary || event.button !== 0) return;
      // A mouse or pen press would start a text selection and move focus: we take both over.
      // (A touch keeps its defaults: the page must still scroll vertically.)
      if (event.pointerType !== 'touch') {
        event.preventDefault();
        handle.focus({ preventScroll: true, focusVisible: false });
      }
      drag = event.pointerId;
      startX = event.clientX;
      try { stage.setPointerCapture(drag); } catch (_) { /* pointer already gone */ }
      root.classList.add('is-dragging');
      glide(true);
      set(at(event));
    });
    stage.addEventListener('pointermove', (event) => {
      if (event.pointerId !== drag) return;
      // A tap may wobble a little; once it really moves, the divider follows without delay.
      if (Math.abs(event.clientX - startX) > 4) glide(false);
      set(at(event));
    });
    stage.addEventListener('pointerup', stop);
    stage.addEventListener('pointercancel', stop);
    stage.addEventListener('lostpointercapture', stop);

    handle.addEventListener('keydown', (event) => {
      let p;
      if (event.key in KEYS) p = Math.round(pos) + KEYS[event.key];
      else if (event.key === 'Home') p = 0;
      else if (event.key === 'End') p = 100;
      else return;
      event.preventDefault();
      glide(false);
      set(p);
    });
  };

  const panels = document.querySelectorAll('[data-compare]');
  if (!('IntersectionObserver' in window)) {
    panels.forEach(setUp);
    return;
  }
  const near = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      near.unobserve(entry.target);
      setUp(entry.target);
    }
  }, { rootMargin: '100% 0px' });
  panels.forEach((panel) => near.observe(panel));
})();

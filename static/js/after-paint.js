// Loads the page's script (the `data-src` of the <script> element this is inlined in) once the
// page has loaded and a part it serves (`data-near`, a selector) comes within a screen of the
// viewport, as compare.js sets a panel up: the script only adds to a page that is complete
// without it, so the phone fetches nothing for the first view, and nothing at all for a part
// never scrolled to. (Inlined in the page, allowed by the Content-Security-Policy by its hash;
// see crates/web/src/site/assets.rs.)
((script) => {
  const { src, near } = script.dataset;
  const add = () => document.head.append(Object.assign(document.createElement('script'), { src }));
  const whenNear = () => {
    const parts = near ? document.querySelectorAll(near) : [];
    if (!parts.length || !('IntersectionObserver' in window)) return add();
    const watch = new IntersectionObserver((entries) => {
      if (!entries.some((entry) => entry.isIntersecting)) return;
      watch.disconnect();
      add();
    }, { rootMargin: '100% 0px' });
    parts.forEach((part) => watch.observe(part));
  };
  const later = () => requestAnimationFrame(() => setTimeout(whenNear));
  if (document.readyState === 'complete') later();
  else addEventListener('load', later, { once: true });
})(document.currentScript);

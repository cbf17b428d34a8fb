// Loads the page's script (the `data-src` of the <script> element this is inlined in) once the
// page has painted: the script only adds to a page that is complete without it, so the phone
// fetches nothing before the first view. (Inlined in the page, allowed by the
// Content-Security-Policy by its hash; see src/site/assets.rs.)
((src) => {
  const add = () => document.head.append(Object.assign(document.createElement('script'), { src }));
  const later = () => requestAnimationFrame(() => setTimeout(add));
  if (document.readyState === 'complete') later();
  else addEventListener('load', later, { once: true });
})(document.currentScript.dataset.src);

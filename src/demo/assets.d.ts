// The demo bundle inlines its stylesheet as text (esbuild `text` loader) and injects it: the page then works on
// any static server, even one that does not send `text/css` (Chromium refuses a stylesheet served otherwise).
declare module '*.css' {
  const css: string;
  export default css;
}

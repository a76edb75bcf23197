/**
 * The page frame shared by the login, consent, logout and error pages: a complete HTML document with one
 * stylesheet inlined. The stylesheet is a constant, so the page's Content-Security-Policy allows it by hash
 * (`style-src 'sha256-…'`) and nothing else inline; the pages use no JavaScript at all.
 */
import { createHash } from 'node:crypto';
import { html, SafeHtml } from './html';

const STYLESHEET = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1b1f24;margin:0;line-height:1.5}
main{max-width:26rem;margin:3rem auto;background:#fff;border:1px solid #d0d4da;border-radius:8px;padding:2rem}
h1{font-size:1.4rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input[type=email],input[type=password],input[type=search],input[type=date]{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #6b7280;border-radius:4px}
button{font-size:1rem;padding:.6rem 1.2rem;border-radius:4px;border:1px solid #1d4ed8;background:#1d4ed8;color:#fff;cursor:pointer;margin:1.25rem .5rem 0 0}
button.secondary{background:#fff;color:#1d4ed8}
button:focus-visible,input:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.error{background:#fef2f2;border:1px solid #b91c1c;color:#7f1d1d;padding:.75rem;border-radius:4px}
.client{color:#374151}
fieldset{border:1px solid #d0d4da;border-radius:4px;margin:1rem 0;padding:.25rem 1rem}
legend{font-weight:600;padding:0 .25rem}
ul.scopes{list-style:none;padding:0;margin:.5rem 0}
ul.scopes label{display:inline;font-weight:400;margin:0}
ul.scopes input{margin:.2rem 0 0;flex:none;width:1.1rem;height:1.1rem}
ul.patients{list-style:none;padding:0}
ul.patients button{margin:.25rem 0 .75rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
ul.scopes li{margin:.35rem 0;display:flex;align-items:flex-start;gap:.5rem}
code{font-size:.85em;color:#4b5563}
ul.providers{list-style:none;padding:0;margin:1rem 0}
a.button{display:flex;align-items:center;gap:.5rem;justify-content:center;font-size:1rem;padding:.6rem 1.2rem;margin:.5rem 0;border-radius:4px;border:1px solid #1d4ed8;color:#1d4ed8;text-decoration:none}
a.button:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
p.divider{text-align:center;color:#4b5563;margin:.5rem 0}
`.trim();

/** The CSP source expression that allows exactly {@link STYLESHEET}. */
export const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLESHEET, 'utf8').digest('base64')}'`;

/**
 * Wraps page content in the document frame.
 * @param title - the page title (also the main heading)
 * @param content - the page body below the heading
 * @returns the complete document
 */
export function layout(title: string, content: SafeHtml): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${new SafeHtml(STYLESHEET)}</style>
</head>
<body>
<main>
<h1>${title}</h1>
${content}
</main>
</body>
</html>
`.toString();
}

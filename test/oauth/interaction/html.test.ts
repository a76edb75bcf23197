import { escapeHtml, html, SafeHtml } from '../../../src/oauth/interaction/views/html';
import { formActionSource, pagePolicy } from '../../../src/oauth/interaction/views/respond';

describe('html', () => {
  it('escapes every interpolation and keeps SafeHtml', () => {
    const evil = `"><script>alert('x')</script>&`;
    expect(html`<p title="${evil}">${evil}</p>`.toString()).toBe(
      '<p title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</p>',
    );
    expect(html`<ul>${['<a>', new SafeHtml('<b>')]}</ul>`.toString()).toBe('<ul>&lt;a&gt;<b></ul>');
    expect(escapeHtml('`')).toBe('&#96;');
  });
});

describe('page policy', () => {
  it('allows form posts to this server and the redirect target only', () => {
    const policy = pagePolicy(['https://app.example/cb?x=1', 'com.example.app:/cb', 'not a url']);
    expect(policy).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self' https:\/\/app.example com.example.app:; frame-ancestors 'none'; base-uri 'none'$/);
  });

  it('never lets a URI inject policy syntax', () => {
    expect(formActionSource('https://a.example;script-src/')).toBeUndefined();
    expect(formActionSource('https://a.example:8443/cb')).toBe('https://a.example:8443');
    expect(formActionSource('http://[::1]:3000/cb')).toBe('http://[::1]:3000');
  });
});

"""Contrast of what a page or an email shows, measured in the browser (WCAG 2)."""

from __future__ import annotations

__all__ = ["LOW_CONTRAST"]

# Every element's own text against the background it is drawn on (WCAG 2 contrast):
# the pairs under 4.5:1, the least a paragraph of text needs to be read.
LOW_CONTRAST = """() => {
  const rgb = s => { const p = s.match(/rgba?\\(([^)]+)\\)/)[1].split(',').map(Number);
                     return {c: p.slice(0, 3), a: p.length > 3 ? p[3] : 1}; };
  const lum = ({c}) => c.map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  // With no background of its own, an email is drawn on the canvas: Chromium's dark
  // one (#121212) in dark mode when the email declares it can be dark, else white.
  const scheme = document.querySelector('meta[name=color-scheme]');
  const canvas = rgb(matchMedia('(prefers-color-scheme: dark)').matches && scheme
    && scheme.content.includes('dark') ? 'rgb(18, 18, 18)' : 'rgb(255, 255, 255)');
  const under = e => { for (let n = e; n; n = n.parentElement) {
      const b = rgb(getComputedStyle(n).backgroundColor); if (b.a > 0) return b; }
    return canvas; };
  const low = [];
  for (const e of document.body.querySelectorAll('*')) {
    const own = [...e.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim());
    if (!own.length) continue;
    const [hi, lo] = [lum(rgb(getComputedStyle(e).color)), lum(under(e))].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const text = own[0].textContent.trim().slice(0, 30);
    if (ratio < 4.5) low.push(`${e.tagName} ${ratio.toFixed(2)}: ${text}`);
  }
  return low;
}"""

// Small real files for the attachment tests: a PDF (header, catalog,
// end marker, about 3 KB) and a PNG of w × h pixels, built here (no
// binary fixture in the repository); and what a parent sees of them in
// the widget.
import { deflateSync } from 'node:zlib';

export const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n' +
  'trailer << /Root 1 0 R >>\n' + '%'.repeat(2000) + '\n%%EOF\n');

const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
const crc = (b) => { let c = 0xffffffff; for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };

// png is a w × h RGB image (a gradient), a valid PNG file.
export function png(w, h) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) { const o = y * (w * 3 + 1) + 1 + x * 3; raw[o] = 40 + x; raw[o + 1] = 120; raw[o + 2] = 200 - y; }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// widgetShowsAttachments opens the notice titled title in the widget on
// page wp and waits until it shows the image with its text alternative
// alt, loaded at its width in pixels, and the link to the PDF labelled
// pdf (« name (PDF, size) »), which it returns.
export async function widgetShowsAttachments(wp, { title, alt, width, pdf }) {
  const btn = wp.locator('liaison-feed h3 button', { hasText: title });
  await btn.waitFor({ timeout: 15000 });
  await btn.click();
  await wp.locator(`liaison-feed img[alt="${alt}"]`).waitFor();
  await wp.waitForFunction((w) => {
    const i = document.querySelector('liaison-feed').shadowRoot.querySelector('.att img');
    return i && i.complete && i.naturalWidth === w;
  }, width, { timeout: 10000 });
  const link = wp.locator('liaison-feed .att a', { hasText: pdf });
  await link.waitFor();
  return link;
}

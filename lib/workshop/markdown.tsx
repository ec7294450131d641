/**
 * The Markdown of exercise instructions, rendered to React elements (so every character is escaped
 * as text): paragraphs, `#` headings, `-`/`*`/`1.` lists, fenced code, `inline code`, **bold**,
 * *italic* and [links](https://…) to http(s) addresses only. Raw HTML is shown as text.
 */
import type { ReactNode } from 'react';

function inline(text: string, key: string): ReactNode[] {
  const out: ReactNode[] = [];
  const pattern = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*)|(\[[^\]]+\]\((https?:\/\/[^)\s]+)\))/g;
  let last = 0;
  let i = 0;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const k = `${key}-${i++}`;
    const token = m[0];
    if (m[1]) out.push(<code key={k}>{token.slice(1, -1)}</code>);
    else if (m[2]) out.push(<strong key={k}>{token.slice(2, -2)}</strong>);
    else if (m[3]) out.push(<em key={k}>{token.slice(1, -1)}</em>);
    else if (m[4]) {
      const label = token.slice(1, token.indexOf(']('));
      out.push(
        <a key={k} href={m[5]} rel="noopener noreferrer" target="_blank">
          {label}
        </a>,
      );
    }
    last = m.index + token.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Renders a Markdown text (the subset above) to React nodes. */
export function Markdown({ text }: { text: string }): ReactNode {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const blocks: ReactNode[] = [];
  let i = 0;
  let n = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    const key = `b${n++}`;
    if (line.trim() === '') {
      i++;
      continue;
    }
    if (line.startsWith('```')) {
      const code: string[] = [];
      i++;
      while (i < lines.length && !(lines[i] ?? '').startsWith('```')) code.push(lines[i++] ?? '');
      i++;
      blocks.push(
        <pre key={key}>
          <code>{code.join('\n')}</code>
        </pre>,
      );
      continue;
    }
    const heading = /^(#{1,4})\s+(.*)$/.exec(line);
    if (heading) {
      blocks.push(<h4 key={key}>{inline(heading[2] ?? '', key)}</h4>);
      i++;
      continue;
    }
    if (/^\s*([-*]|\d+\.)\s+/.test(line)) {
      const ordered = /^\s*\d+\./.test(line);
      const items: ReactNode[] = [];
      while (i < lines.length && /^\s*([-*]|\d+\.)\s+/.test(lines[i] ?? '')) {
        const item = (lines[i] ?? '').replace(/^\s*([-*]|\d+\.)\s+/, '');
        items.push(<li key={`${key}-${items.length}`}>{inline(item, `${key}-${items.length}`)}</li>);
        i++;
      }
      blocks.push(ordered ? <ol key={key}>{items}</ol> : <ul key={key}>{items}</ul>);
      continue;
    }
    const paragraph: string[] = [];
    while (i < lines.length && (lines[i] ?? '').trim() !== '' && !/^(```|#{1,4}\s|\s*([-*]|\d+\.)\s+)/.test(lines[i] ?? '')) paragraph.push(lines[i++] ?? '');
    blocks.push(<p key={key}>{inline(paragraph.join(' '), key)}</p>);
  }
  return <>{blocks}</>;
}

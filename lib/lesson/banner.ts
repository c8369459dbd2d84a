/**
 * The loud notice the lesson shows when it runs on something other than the real thing
 * (synthetic data, stand-in weights): a framed block in text, an orange box in a notebook, so
 * nobody mistakes its numbers for the lesson's.
 */
import { escapeXml, JUPYTER_DISPLAY, MimeBundle } from '../notebook/display';

/** A displayable notice: `title` in capitals, then one line per entry of `lines`. */
export function loudNotice(title: string, lines: string[]): { [JUPYTER_DISPLAY](): MimeBundle } {
  const rule = '*'.repeat(78);
  return {
    [JUPYTER_DISPLAY]: () => ({
      'text/plain': [rule, `${title}: ${lines[0]}`, ...lines.slice(1), rule].join('\n'),
      'text/html':
        `<div style="border:3px solid #c60;background:#fff4e0;color:#630;padding:0.6em 1em;font-family:sans-serif">` +
        `<b style="font-size:1.2em">${escapeXml(title)}</b><br>${lines.map(escapeXml).join('<br>')}</div>`,
    }),
  };
}

const TAG = /^<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<&]*(?:&(?:amp|lt|gt|quot|apos|#\d+);[^"<&]*)*")*)\s*(\/?)>/;
const ENTITY = /^&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;

/**
 * The first reason `text` is not a well-formed XML document (elements only, as a hand-written SVG
 * is: balanced tags, quoted attributes, entities escaped, one root), or undefined when it is. For tests.
 */
export function xmlProblem(text: string): string | undefined {
  const open: string[] = [];
  let roots = 0;
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    if (c === '<') {
      const m = TAG.exec(text.slice(i, i + 100_000));
      if (!m) return `malformed tag at ${i}: ${text.slice(i, i + 40)}`;
      const [whole, closing, name, , selfClosing] = m;
      if (closing) {
        const top = open.pop();
        if (top !== name) return `</${name}> at ${i} closes <${top ?? 'nothing'}>`;
      } else {
        if (open.length === 0) roots++;
        if (!selfClosing) open.push(name!);
      }
      i += whole.length;
    } else if (c === '&') {
      if (!ENTITY.test(text.slice(i, i + 12))) return `bare & at ${i}: ${text.slice(i, i + 20)}`;
      i++;
    } else if (c === '>') {
      return `bare > at ${i}`;
    } else {
      if (open.length === 0 && c !== undefined && !/\s/.test(c)) return `text outside the root at ${i}`;
      i++;
    }
  }
  if (open.length > 0) return `<${open.at(-1)}> is never closed`;
  return roots === 1 ? undefined : `${roots} root elements`;
}

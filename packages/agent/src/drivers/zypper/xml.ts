/**
 * Just enough XML for zypper's `--xmlout` stream: start, end and empty-element tags with their
 * attributes, in document order. Text content, comments and CDATA are skipped; the five predefined
 * entities and numeric character references are decoded in attribute values.
 */
export interface XmlTag {
  name: string;
  kind: 'open' | 'close' | 'empty';
  attributes: Record<string, string>;
}

const TAG = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
const ATTRIBUTE = /([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const ENTITY = /&(?:(amp|lt|gt|quot|apos)|#(\d+)|#x([0-9a-fA-F]+));/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeXmlText(text: string): string {
  return text.replace(
    ENTITY,
    (_match, named: string | undefined, dec: string | undefined, hex: string | undefined) => {
      if (named !== undefined) return NAMED[named] ?? '';
      return String.fromCodePoint(dec !== undefined ? Number(dec) : Number.parseInt(hex ?? '0', 16));
    },
  );
}

export function xmlTags(text: string): XmlTag[] {
  const tags: XmlTag[] = [];
  for (const match of text.matchAll(TAG)) {
    const [, slash, name, rawAttributes, selfClosing] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    const attributes: Record<string, string> = {};
    for (const attribute of rawAttributes.matchAll(ATTRIBUTE)) {
      attributes[attribute[1] as string] = decodeXmlText(attribute[2] ?? attribute[3] ?? '');
    }
    tags.push({ name, kind: slash === '/' ? 'close' : selfClosing === '/' ? 'empty' : 'open', attributes });
  }
  return tags;
}

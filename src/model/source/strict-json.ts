/**
 * A small strict JSON parser for untrusted headers: duplicate keys are rejected, nesting is bounded (no stack
 * overflow), objects come back as Maps (no `__proto__` games), and every malformed input ends in the caller's own
 * error (never a SyntaxError, RangeError or hang). `JSON.parse` allows duplicate keys and has no depth bound.
 *
 * @example
 * const root = new JsonParser(text, (m) => new Error(m), 8).parseDocument(); // Map for an object
 */

export type Json = null | boolean | number | string | Json[] | JsonObject;
export type JsonObject = Map<string, Json>;

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

export class JsonParser {
  private i = 0;
  /**
   * @param s the document
   * @param bad makes the error thrown for malformed input (the caller's code and wording)
   * @param maxDepth deepest nesting accepted (the root value is depth 0)
   */
  constructor(
    private readonly s: string,
    private readonly bad: (message: string, cause?: unknown) => Error,
    private readonly maxDepth: number,
  ) {}

  parseDocument(): Json {
    const v = this.value(0);
    this.ws();
    if (this.i !== this.s.length) throw this.bad(`header JSON has trailing data at character ${this.i}`);
    return v;
  }

  private ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  private value(depth: number): Json {
    if (depth > this.maxDepth) throw this.bad(`header JSON nested deeper than ${this.maxDepth}`);
    this.ws();
    const s = this.s;
    const c = s[this.i];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === 't' && s.startsWith('true', this.i)) return ((this.i += 4), true);
    if (c === 'f' && s.startsWith('false', this.i)) return ((this.i += 5), false);
    if (c === 'n' && s.startsWith('null', this.i)) return ((this.i += 4), null);
    NUMBER_RE.lastIndex = this.i;
    const m = NUMBER_RE.exec(s);
    if (m && m[0].length > 0) {
      this.i += m[0].length;
      return Number(m[0]);
    }
    throw this.bad(c === undefined ? 'header JSON ends early' : `header JSON: unexpected character at ${this.i}`);
  }

  private object(depth: number): JsonObject {
    const out: JsonObject = new Map();
    this.i++; // {
    this.ws();
    if (this.s[this.i] === '}') return (this.i++, out);
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') throw this.bad(`header JSON: expected a key at ${this.i}`);
      const key = this.string();
      if (out.has(key)) throw this.bad(`duplicate key ${JSON.stringify(key)} in header`);
      this.ws();
      if (this.s[this.i] !== ':') throw this.bad(`header JSON: expected ':' at ${this.i}`);
      this.i++;
      out.set(key, this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return out;
      if (c !== ',') throw this.bad(`header JSON: expected ',' or '}' at ${this.i - 1}`);
    }
  }

  private array(depth: number): Json[] {
    const out: Json[] = [];
    this.i++; // [
    this.ws();
    if (this.s[this.i] === ']') return (this.i++, out);
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') throw this.bad(`header JSON: expected ',' or ']' at ${this.i - 1}`);
    }
  }

  private string(): string {
    const s = this.s;
    const start = this.i; // at the opening quote
    let i = start + 1;
    let escaped = false;
    for (;;) {
      if (i >= s.length) throw this.bad('header JSON: unterminated string');
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) throw this.bad(`header JSON: control character in string at ${i}`);
      if (c === 0x5c) {
        escaped = true;
        i += 2;
      } else i++;
    }
    this.i = i + 1;
    const raw = s.slice(start, i + 1);
    if (!escaped) return raw.slice(1, -1);
    try {
      return JSON.parse(raw) as string; // validates the escapes
    } catch (e) {
      throw this.bad(`header JSON: bad escape in string at ${start}`, e);
    }
  }
}

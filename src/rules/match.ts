/**
 * The globs of an access-rules file (SPEC §11), pure: no I/O, no regular expressions built from
 * user text. Two kinds:
 *
 * - a **noun glob** (`post upload/*`, `* admin/**`): `/`-separated segments, each a literal, `*`
 *   (exactly one segment) or, last only, `**` (the rest: zero or more segments). It compiles to a
 *   list of segment matchers, so matching is a walk over the noun's segments, never a
 *   backtracking search.
 * - a **CN glob** (`sensor-*`): a certificate CN with `*` for any run of characters within it
 *   (CNs are single names, so there is no segment structure). Matched by anchored prefix, suffix
 *   and in-order `indexOf` of the parts between stars: greedy leftmost is exact for `*`-only
 *   globs, and a CN is at most 64 characters.
 */

/** Most segments a noun glob may have (`a/b/…`); deeper nouns are matched by a trailing `**`. */
export const MAX_GLOB_SEGMENTS = 32;
/** Longest CN glob: twice the longest CN (64, X.520), room enough for any useful stars. */
export const MAX_CN_GLOB_LENGTH = 128;

/** A compiled noun glob: `parts` are literal segments or `*`; `rest` is a trailing `**`. */
export interface NounGlob {
  /** Each part is a literal segment, or `*` for any one segment (a literal `*` is never a part). */
  readonly parts: readonly string[];
  /** True when the glob ends with `**` (which is then not in `parts`). */
  readonly rest: boolean;
}

/** A glob that failed to compile: what is wrong, and where in the glob text (0-based). */
export interface GlobProblem {
  readonly problem: string;
  readonly at: number;
}

/** One wildcard segment of a noun glob. */
export const ANY_SEGMENT = '*';
/** The trailing wildcard of a noun glob. */
export const REST_SEGMENTS = '**';

// The characters a literal noun-glob segment may use: RFC 3986 `pchar` without `%` (nouns are
// matched after percent-decoding, so a pattern names the decoded form) and without `*`. A noun
// that needs other characters is matched with `*`.
const LITERAL_SEGMENT = /^[A-Za-z0-9._~!$&'()+,;=:@-]+$/;
const BAD_LITERAL_CHAR = /[^A-Za-z0-9._~!$&'()+,;=:@-]/u;

/**
 * Compiles a noun glob (the part of a pattern after the verb).
 * @returns the glob, or a {@link GlobProblem} naming the first thing wrong with it: empty, a
 *   leading or trailing `/`, an empty segment (`//` starts parameters, which rules never see),
 *   `.` or `..`, `*` inside a segment, `**` before the last segment, a character other than
 *   letters, digits and `._~!$&'()+,;=:@-`, more than {@link MAX_GLOB_SEGMENTS} segments.
 */
export function compileNounGlob(text: string): NounGlob | GlobProblem {
  if (text === '') return { problem: 'empty noun glob', at: 0 };
  if (text.startsWith('/')) return { problem: "a noun glob does not start with '/' (write time, not /time)", at: 0 };
  const segments = text.split('/');
  if (segments.length > MAX_GLOB_SEGMENTS) {
    return { problem: `more than ${MAX_GLOB_SEGMENTS} segments (end it with ** to match deeper nouns)`, at: 0 };
  }
  const parts: string[] = [];
  let rest = false;
  let at = 0;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === '') {
      if (last) return { problem: "a noun glob does not end with '/'", at: at - 1 };
      return {
        problem: "'//' starts parameters, and rules match the noun without them: remove the '//' and what follows",
        at: at - 1,
      };
    }
    if (segment === REST_SEGMENTS) {
      if (!last) return { problem: "'**' matches the rest of the noun, so it must be the last segment", at };
      rest = true;
    } else if (segment === ANY_SEGMENT) {
      parts.push(ANY_SEGMENT);
    } else if (segment.includes('*')) {
      return { problem: `'*' must be a whole segment (upload/*), not part of one (${JSON.stringify(segment)})`, at: at + segment.indexOf('*') };
    } else if (segment === '.' || segment === '..') {
      return { problem: `a '${segment}' segment never matches: nouns with dot segments are refused`, at };
    } else if (!LITERAL_SEGMENT.test(segment)) {
      const bad = BAD_LITERAL_CHAR.exec(segment)!;
      return { problem: `${describeChar(bad[0])} in a noun glob: use letters, digits and ._~!$&'()+,;=:@- (or * for a segment with others)`, at: at + bad.index };
    } else {
      parts.push(segment);
    }
    at += segment.length + 1;
  }
  return { parts, rest };
}

/** True when `compileNounGlob` returned a problem rather than a glob. */
export function isGlobProblem(value: NounGlob | CnGlob | GlobProblem): value is GlobProblem {
  return (value as GlobProblem).problem !== undefined;
}

/**
 * The segments a noun is matched by: the path before its `//` parameters and before any `?`
 * query, split at `/`, each segment percent-decoded.
 *
 * Returns undefined for a noun that must match no allow pattern, because what it names could
 * differ from what its text says to whoever serves it: an empty path, an empty, `.` or `..`
 * segment (also when percent-encoded), an escape that does not decode, or a segment that
 * decodes to `/`, `\` or NUL (a forward's upstream could read those as separators or the end).
 */
export function nounSegments(noun: string): string[] | undefined {
  let end = noun.indexOf('//');
  if (end === -1) end = noun.length;
  const query = noun.indexOf('?');
  if (query !== -1 && query < end) end = query;
  if (end === 0) return undefined;
  const segments = noun.slice(0, end).split('/');
  for (let i = 0; i < segments.length; i++) {
    let segment = segments[i]!;
    if (segment.includes('%')) {
      try {
        segment = decodeURIComponent(segment);
      } catch {
        return undefined;
      }
      if (segment.includes('/') || segment.includes('\\') || segment.includes('\0')) return undefined;
      segments[i] = segment;
    }
    if (segment === '' || segment === '.' || segment === '..') return undefined;
  }
  return segments;
}

/** True when `glob` matches the noun whose segments (from {@link nounSegments}) are given. */
export function matchNounGlob(glob: NounGlob, segments: readonly string[]): boolean {
  const { parts, rest } = glob;
  if (rest ? segments.length < parts.length : segments.length !== parts.length) return false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part !== ANY_SEGMENT && part !== segments[i]) return false;
  }
  return true;
}

/** A compiled CN glob: the text split at its stars (one part and no star: an exact name). */
export interface CnGlob {
  readonly text: string;
  readonly parts: readonly string[];
}

// Node names are letters, digits, '.', '-' and '_' (certificate.ts, NODE_NAME_PATTERN); a CN
// glob adds '*'.
const CN_GLOB_CHARS = /^[A-Za-z0-9._*-]+$/;
const BAD_CN_GLOB_CHAR = /[^A-Za-z0-9._*-]/u;

/**
 * Compiles a CN glob: the characters of a node name (letters, digits, `.`, `-`, `_`) and `*`,
 * which matches any run of them, the empty one included (`sensor-*` matches `sensor-1` and
 * `sensor-`; `*` matches every CN). Matching is case-sensitive, as CNs are compared everywhere.
 * @returns the glob, or a {@link GlobProblem}: empty, longer than {@link MAX_CN_GLOB_LENGTH},
 *   another character (a `/` or a space: CNs have none), `**` (a CN has no segments).
 */
export function compileCnGlob(text: string): CnGlob | GlobProblem {
  if (text === '') return { problem: 'empty CN glob (use * for every CN)', at: 0 };
  if (text.length > MAX_CN_GLOB_LENGTH) return { problem: `CN glob longer than ${MAX_CN_GLOB_LENGTH} characters (a CN has at most 64)`, at: MAX_CN_GLOB_LENGTH };
  if (!CN_GLOB_CHARS.test(text)) {
    const bad = BAD_CN_GLOB_CHAR.exec(text)!;
    return { problem: `${describeChar(bad[0])} in a CN glob: a CN has letters, digits, '.', '-' and '_', and * matches any run of them`, at: bad.index };
  }
  const doubled = text.indexOf('**');
  if (doubled !== -1) return { problem: "'**' in a CN glob: a CN is one name, not segments, so a single * already matches any run of characters", at: doubled };
  return { text, parts: text.split('*') };
}

/** True when the CN glob matches `cn` (the whole of it). */
export function matchCnGlob(glob: CnGlob, cn: string): boolean {
  const { parts } = glob;
  if (parts.length === 1) return cn === parts[0];
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (cn.length < first.length + last.length || !cn.startsWith(first) || !cn.endsWith(last)) return false;
  // Each middle part at its leftmost place after the previous one: leaving the most room for
  // the rest is never worse, so no backtracking is needed.
  let from = first.length;
  const until = cn.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i]!;
    const found = cn.indexOf(part, from);
    if (found === -1 || found + part.length > until) return false;
    from = found + part.length;
  }
  return true;
}

/** A character as an error message shows it: printable ones quoted, the rest as U+XXXX. */
function describeChar(char: string): string {
  const code = char.codePointAt(0)!;
  if (char === ' ') return 'a space';
  if (code < 0x20 || code === 0x7f || code > 0x7e) return `character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${char}'`;
}

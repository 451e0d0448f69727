// WWW-Authenticate parsing (RFC 7235) for the two schemes registries use:
// Basic, and Bearer per the Docker token authentication specification
// (realm, service and scope parameters; the client asks the realm for a
// token with ?service=&scope= and presents it as "Authorization: Bearer").
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses one or more challenges: `Bearer realm="x",service="y", Basic realm="z"`. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  while (i < s.length) {
    skipWs();
    const m = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/.exec(s.slice(i));
    if (!m) break;
    const token = m[0];
    i += token.length;
    skipWs();
    // A new challenge starts with a scheme followed by a space and a param (or end).
    const ch: Challenge = { scheme: token.toLowerCase(), params: {} };
    out.push(ch);
    for (;;) {
      skipWs();
      const pm = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*/.exec(s.slice(i));
      if (!pm) break;
      i += pm[0].length;
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        const vm = /^[^,\s]*/.exec(s.slice(i))!;
        value = vm[0];
        i += value.length;
      }
      ch.params[pm[1]!.toLowerCase()] = value;
      skipWs();
      if (s[i] === ',') {
        i++;
        // Either another param of this challenge, or the next challenge's scheme.
        const save = i;
        skipWs();
        const look = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+\s*(=)?/.exec(s.slice(i));
        if (look && look[1] === undefined) {
          i = save;
          break;
        }
        i = save;
        continue;
      }
      break;
    }
    skipWs();
    if (s[i] === ',') i++;
  }
  return out;
}

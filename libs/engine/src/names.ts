// Container names: validation and Docker-style generated names.
//
// Docker generates "<adjective>_<surname>" (moby pkg/namesgenerator) and, when
// the pair is taken, retries with a random digit appended. berth keeps the
// shape so scripts that grep `docker ps` output keep working; the word lists
// are our own.
import { randomInt } from 'node:crypto';
import { checkContainerName, NAME_PATTERN, quoteValue } from '@berth/container-config';
import { InvalidArgumentError, ResourceExhaustedError } from '@berth/errors';

/** Docker's rule for container and volume names (daemon/names/names.go), bounded in length. */
export { NAME_PATTERN };

/**
 * Checks a user-supplied container name. Accepts and strips one leading "/"
 * as Docker does (inspect shows names as "/web"). Returns the bare name.
 */
export function validateContainerName(raw: string, field = 'name'): string {
  const name = raw.startsWith('/') ? raw.slice(1) : raw;
  const why = checkContainerName(name);
  if (why) throw new InvalidArgumentError(`invalid container name "${quoteValue(raw)}": ${why}`, { field });
  return name;
}

export const ADJECTIVES = [
  'admiring', 'adoring', 'affectionate', 'agitated', 'amazing', 'angry', 'awesome', 'beautiful',
  'blissful', 'bold', 'boring', 'brave', 'busy', 'charming', 'clever', 'compassionate', 'competent',
  'condescending', 'confident', 'cool', 'cranky', 'crazy', 'dazzling', 'determined', 'distracted',
  'dreamy', 'eager', 'ecstatic', 'elastic', 'elated', 'elegant', 'eloquent', 'epic', 'exciting',
  'fervent', 'festive', 'flamboyant', 'focused', 'friendly', 'frosty', 'funny', 'gallant', 'gifted',
  'goofy', 'gracious', 'great', 'happy', 'hardcore', 'heuristic', 'hopeful', 'hungry', 'infallible',
  'inspiring', 'intelligent', 'interesting', 'jolly', 'jovial', 'keen', 'kind', 'laughing', 'loving',
  'lucid', 'magical', 'modest', 'musing', 'mystifying', 'naughty', 'nervous', 'nice', 'nifty',
  'nostalgic', 'objective', 'optimistic', 'peaceful', 'pedantic', 'pensive', 'practical', 'priceless',
  'quirky', 'quizzical', 'recursing', 'relaxed', 'reverent', 'romantic', 'sad', 'serene', 'sharp',
  'silly', 'sleepy', 'stoic', 'strange', 'stupefied', 'suspicious', 'sweet', 'tender', 'thirsty',
  'trusting', 'unruffled', 'upbeat', 'vibrant', 'vigilant', 'vigorous', 'wizardly', 'wonderful',
  'xenodochial', 'youthful', 'zealous', 'zen',
] as const;

// Scientists and engineers, as in Docker's list.
export const SURNAMES = [
  'agnesi', 'albattani', 'allen', 'archimedes', 'ardinghelli', 'babbage', 'banach', 'bardeen',
  'bartik', 'bassi', 'bell', 'bhabha', 'blackwell', 'bohr', 'booth', 'borg', 'bose', 'brahmagupta',
  'brattain', 'brown', 'carson', 'cerf', 'chandrasekhar', 'clarke', 'colden', 'cori', 'cray',
  'curie', 'darwin', 'davinci', 'dijkstra', 'dubinsky', 'easley', 'einstein', 'elion', 'engelbart',
  'euclid', 'euler', 'faraday', 'fermat', 'fermi', 'feynman', 'franklin', 'galileo', 'gates',
  'goldberg', 'goldstine', 'goodall', 'hamilton', 'hawking', 'heisenberg', 'hermann', 'hodgkin',
  'hofstadter', 'hopper', 'hypatia', 'jang', 'jennings', 'johnson', 'kalam', 'kapitsa', 'keldysh',
  'kepler', 'khorana', 'kilby', 'knuth', 'kowalevski', 'lalande', 'lamarr', 'lamport', 'leakey',
  'leavitt', 'lovelace', 'lumiere', 'mahavira', 'mayer', 'mccarthy', 'mcclintock', 'meitner',
  'mendel', 'merkle', 'mirzakhani', 'montalcini', 'moore', 'morse', 'napier', 'nash', 'neumann',
  'newton', 'nobel', 'noether', 'northcutt', 'noyce', 'panini', 'pascal', 'pasteur', 'payne',
  'perlman', 'pike', 'poincare', 'ptolemy', 'raman', 'ramanujan', 'ride', 'ritchie', 'rosalind',
  'saha', 'sammet', 'shamir', 'shannon', 'shaw', 'shockley', 'sinoussi', 'snyder', 'stonebraker',
  'swanson', 'tesla', 'thompson', 'torvalds', 'turing', 'varahamihira', 'villani', 'wescoff',
  'wiles', 'williams', 'wilson', 'wing', 'wozniak', 'wright', 'yalow', 'yonath',
] as const;

export type RandomInt = (maxExclusive: number) => number;

/**
 * One generated name. `retry` > 0 appends a digit, as Docker does after a
 * collision. "boring_wozniak" is never produced (Steve Wozniak is not boring:
 * Docker's own exception, kept for the joke's sake and for parity).
 */
export function generateName(retry = 0, rand: RandomInt = randomInt): string {
  for (;;) {
    const adj = ADJECTIVES[rand(ADJECTIVES.length)]!;
    const sur = SURNAMES[rand(SURNAMES.length)]!;
    if (adj === 'boring' && sur === 'wozniak') continue;
    return retry > 0 ? `${adj}_${sur}${rand(10)}` : `${adj}_${sur}`;
  }
}

/**
 * A generated name not taken according to `taken`. Gives up after 100 tries
 * (at ~16k pairs x 10 digits this only happens with a nearly full namespace).
 */
export function uniqueName(taken: (name: string) => boolean, rand: RandomInt = randomInt): string {
  for (let i = 0; i < 100; i++) {
    const n = generateName(i === 0 ? 0 : i, rand);
    if (!taken(n)) return n;
  }
  throw new ResourceExhaustedError('could not generate a unique container name after 100 tries; pass --name', { field: 'name' });
}

// Packs an attacker holding the admin token (or a careless operator) could upload to make the check
// itself expensive, each under the 1 MB upload limit and each refused: one with twice the rules a
// pack may have (E_LIMIT, but only after parsing all of them), and a ReDoS "regex bomb" whose
// `matches` patterns are each distinct (the verdict cache never helps) and each unsafe (E_REGEX
// after the automaton analysis). Either used to hold the request thread for a large fraction of a
// second. `tag` makes each upload's patterns new.

/** `n` rules (the limit is 5,000): parsed, then refused with E_LIMIT. */
export function manyRulesPack(n = 10_000, tag = ''): string {
  const lines = [`pack many_rules${tag} version 1`];
  for (let i = 0; i < n; i++) lines.push(`rule r${i} { when geo.country == "G${i}" and history.travel_kmh > ${i} then step_up }`);
  return lines.join('\n') + '\n';
}

/** `n` distinct exponential-backtracking patterns: each analysed, each refused with E_REGEX. */
export function regexBombPack(n = 50, tag = `${process.pid}x${Date.now().toString(36)}`): string {
  const lines = [`pack regex_bomb version 1`];
  for (let i = 0; i < n; i++) lines.push(`rule r${i} { when ua.browser matches "^(${tag}${i}|[a-z]+)*(x+x+)+y$" then step_up }`);
  return lines.join('\n') + '\n';
}

// Types for the grammar nearleyc compiles from dsl/grammar.ne into dsl/generated/grammar.js (that
// folder is generated, git-ignored and outside the typecheck, so the declaration lives here).
declare module '*/generated/grammar.js' {
  const grammar: import('nearley').CompiledRules;
  export default grammar;
}

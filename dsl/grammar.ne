# The rules language's grammar (dsl.md §1-§3, §6), compiled by `npm run build:grammar` into
# dsl/generated/grammar.js (never edited by hand). Tokens and token classes come from dsl/lexer.ts;
# every action is a builder from dsl/build.ts, so the AST's shape and spans are decided in typed code. The grammar is
# unambiguous (the parser throws if a text has two parses), uses left recursion for lists and binary
# operators, and matches tokens by type only (never by value: a string "and" is not the keyword).
@preprocessor esmodule
@{%
import { build as B } from '../build.ts';
import { lexer, cmpOp, addOp, mulOp, atom, actionKw, modeKw, word } from '../lexer.ts';
%}
@lexer lexer

# The file's declarations stay a persistent list (dsl/build.ts `Cons`): `File` completes after every
# declaration, so the parser turns the list into an array once, at the end.
File -> Decls                                           {% id %}
Decls -> null                                           {% B.empty %}
       | Decls Decl                                     {% B.snoc %}

Decl -> Header {% id %} | Const {% id %} | List {% id %} | Rule {% id %} | Policy {% id %} | Test {% id %}

Header -> %kw_pack %ident %kw_version Signed            {% B.header %}
Signed -> %number                                       {% B.signed %}
        | %minus %number                                {% B.signed %}

Const -> %kw_const %ident %assign Expr                  {% B.constDecl %}

List -> %kw_list %ident %colon %ident %assign ListSource {% B.listDecl %}
ListSource -> %lbracket Items %rbracket                 {% B.inlineList %}
            | %kw_file %string                          {% B.fileList %}
            | %kw_redis %string                         {% B.redisList %}

Rule -> %kw_rule %ident %lbrace Clauses %rbrace         {% B.rule %}
Clauses -> null                                         {% B.empty %}
         | Clauses Clause                               {% B.snoc %}
Clause -> %kw_description %string                       {% B.description %}
        | %kw_on Idents                                 {% B.on %}
        | %kw_when Expr                                 {% B.when %}
        | %kw_then %actionKw                            {% B.then %}
        | %kw_score Signed                              {% B.score %}
        | %kw_reason %string                            {% B.reason %}
        | %kw_tags Words                                {% B.tags %}
        | %kw_mode %modeKw                              {% B.mode %}
# `notice CODE` (dsl.md §7, v2): `notice` is not a keyword (v1 packs may name a rule or const so), so
# the clause is two names; the builder refuses a first name other than `notice` (E_SYNTAX).
        | %ident %ident                                 {% B.notice %}
Idents -> %ident                                        {% B.idents %}
        | Idents %comma %ident                          {% B.idents %}
# Tags are any names, keywords included (dsl.md §3, v1.1); the commas keep the list unambiguous.
Words -> %word                                          {% B.idents %}
       | Words %comma %word                             {% B.idents %}

Policy -> %kw_policy PolicyType %lbrace PolicyLines %rbrace {% B.policy %}
PolicyType -> null                                      {% B.empty %}
            | %ident                                    {% id %}
PolicyLines -> null                                     {% B.empty %}
             | PolicyLines PolicyLine                   {% B.snoc %}
PolicyLine -> %actionKw %kw_when Expr                   {% B.policyLine %}

Test -> %kw_test %string %lbrace TestItems %rbrace      {% B.test %}
TestItems -> null                                       {% B.empty %}
           | TestItems TestItem                         {% B.snoc %}
TestItem -> %kw_event %ident                            {% B.testEvent %}
          | %kw_given %lbrace GivenEntries %rbrace      {% B.given %}
          | %kw_expect %actionKw                        {% B.expectDecision %}
          | %kw_expect %kw_matched %ident               {% B.expectMatched %}
          | %kw_expect %kw_not %kw_matched %ident       {% B.expectMatched %}
GivenEntries -> null                                    {% B.empty %}
              | GivenList                               {% id %}
              | GivenList %comma                        {% id %}
GivenList -> GivenEntry                                 {% B.snoc %}
           | GivenList %comma GivenEntry                {% B.snocSep %}
GivenEntry -> %feature %colon Expr                      {% B.givenEntry %}

# Expressions, loosest first (dsl.md §3). Comparisons do not chain: both sides are `Add`. The
# operators of one level, and the one-token primaries (literals, features, names, `score`), are token
# classes (`%cmpOp`, `%atom`, … from dsl/lexer.ts) and the primaries sit in `Neg`: that keeps the
# Earley chart small, since every operand completes each level once.
Expr -> Expr %coalesce Or                               {% B.binary %}
      | Or                                              {% id %}
Or -> Or %kw_or And                                     {% B.binary %}
    | And                                               {% id %}
And -> And %kw_and Not                                  {% B.binary %}
     | Not                                              {% id %}
Not -> %kw_not Not                                      {% B.unary %}
     | Cmp                                              {% id %}
Cmp -> Add %cmpOp Add                                   {% B.binary %}
     | Add %kw_not %kw_in Add                           {% B.notIn %}
     | Add                                              {% id %}
Add -> Add %addOp Mul                                   {% B.binary %}
     | Mul                                              {% id %}
Mul -> Mul %mulOp Neg                                   {% B.binary %}
     | Neg                                              {% id %}
Neg -> %minus Neg                                       {% B.unary %}
     | %atom                                            {% B.atom %}
     | %lparen Expr %rparen                             {% B.paren %}
     | %lbracket Items %rbracket                        {% B.listLit %}
     | %ident %lparen Args %rparen                      {% B.call %}
Args -> null                                            {% B.empty %}
      | ArgList                                         {% id %}
ArgList -> Expr                                         {% B.snoc %}
         | ArgList %comma Expr                          {% B.snocSep %}
Items -> null                                           {% B.empty %}
       | ItemList                                       {% id %}
       | ItemList %comma                                {% id %}
ItemList -> Expr                                        {% B.snoc %}
          | ItemList %comma Expr                        {% B.snocSep %}

"""Pipeline expressions: the subset of Spring Expression Language (SpEL) Spinnaker users write.

Plain Python, no Django. Text is scanned for ``${...}`` parts (aware of quotes and braces, so
``${'}'}`` and ``${#doNotEval('${x}')}`` are one part each); each body is tokenized, parsed
into a tree and evaluated by walking it. Nothing reaches Python's ``eval``, and values are
never asked for attributes: names and keys are looked up in mappings, and methods come from
a fixed allowlist (``methods``).

The language, and where it deliberately differs from SpEL:

* Literals: ``'single'`` and ``"double"`` strings (a quote is escaped by doubling it:
  ``'it''s'``), integers (``0x1F`` and an ``L`` suffix accepted), decimals (``1.5``,
  ``1e3``), ``true``, ``false``, ``null`` (any case). Lists ``{1, 2}`` (SpEL) and
  ``[1, 2]``; maps ``{'a': 1, b: 2}`` (an unquoted key is a string, as in SpEL). As in SpEL,
  ``{}`` is an empty *list* and ``{:}`` an empty map.
* Names: a bare name is looked up in ``Scope.root``; an unknown one is an error ("Unknown
  name 'x'"), although a missing *key* is null. ``#root`` is the whole root, ``#this`` the
  current object (the item inside a selection or projection).
* Access: ``a.b`` and ``a['b']`` read map keys, and a missing key gives null in both forms
  (Spinnaker's map accessor allows unknown keys). As in SpEL, ``map[name]`` with a bare name
  in brackets reads the key ``'name'``. ``a[0]`` indexes lists and strings; negative or
  out-of-range indexes are errors. ``a?.b``, ``a?.m()`` and ``a?.[0]`` give null when ``a``
  is null and, as in Spring 6.2, end the rest of the chain too. Reading a property of
  anything but a map is an error.
* Operators, lowest precedence first: ``?:`` (Elvis: the left side unless it is null or the
  empty string) and ``c ? a : b``; ``or ||``; ``and &&``; ``== eq != ne < lt <= le > gt >= ge
  matches`` (not chainable); ``+ -``; ``* / div % mod``; unary ``! not - +``. ``and``,
  ``or``, ``!`` and ``?`` need booleans, and accept the strings Spring converts
  ("true"/"false", "yes"/"no", "on"/"off", "1"/"0"). ``==`` compares numbers by value and
  never equals a string to a number. Ordering: numbers, strings, booleans among
  themselves, null first. ``+`` with a string on either side concatenates string forms;
  integer ``/`` and ``%`` truncate as in Java; division by zero is an error (Java would
  give Infinity for decimals); integers stay within 64 bits. ``matches`` needs the whole
  string to match. SpEL's ``'ab' * 3`` repetition, ``^`` power, assignment, ``T(...)``,
  ``new``, ``@beans``, ``instanceof`` and ``between`` are refused.
* Selection and projection: ``list.?[cond]`` (all), ``.^[cond]`` (first), ``.$[cond]``
  (last), ``.![expr]``; inside, bare names read the item and ``#this`` is the item.
* Calls: ``#name(args)`` calls a caller function (``Scope.functions``) or a built-in helper
  (``helpers.BUILTINS``: alphanumerical, toJson, toInt, toFloat, toBoolean, toBase64,
  fromBase64, readJson, doNotEval). Methods on values come from the allowlist only.
* Names starting with ``__`` are refused anywhere a name is written.

String forms (interpolation and concatenation): null is ``null`` in a concatenation; a
boolean is ``true``/``false``; a decimal prints as Java does (``2.0``, ``1.0E10``); a list is
its items joined by commas (``a,b``, Spring's conversion); a map is ``{a=1, b=2}``. In mixed
text, a part that evaluates to null is left as written (``${x}``), which is what Spinnaker does.

Limits (``errors``): 10,000 characters per expression, nesting depth 64, strings of 1,000,000
characters, 100,000 evaluation steps. Regular expressions (``matches``, ``split``) run on
Python's ``re``, which backtracks and cannot be interrupted, so besides a 256-character limit
on the pattern (Spring's) and 100,000 on the subject, the backtracking a pattern could need on
the given string is estimated and capped (``values.compile_regex``): ``(a+)+`` or ``(a|b)*``
work on short strings and are refused on long ones.
"""

from .conditions import evaluate_condition
from .errors import (
    MAX_DEPTH,
    MAX_REGEX_LENGTH,
    MAX_SOURCE_LENGTH,
    MAX_STEPS,
    MAX_STRING_LENGTH,
    ExpressionError,
)
from .evaluator import Scope, evaluate
from .templates import ExpressionFailure, check, check_tree, evaluate_text, evaluate_tree

__all__ = [
    "MAX_DEPTH",
    "MAX_REGEX_LENGTH",
    "MAX_SOURCE_LENGTH",
    "MAX_STEPS",
    "MAX_STRING_LENGTH",
    "ExpressionError",
    "ExpressionFailure",
    "Scope",
    "check",
    "check_tree",
    "evaluate",
    "evaluate_condition",
    "evaluate_text",
    "evaluate_tree",
]

"""dive's CI rules: the same keys, defaults, parsing and strict comparisons."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import DockervizError

DEFAULTS = {"lowestEfficiency": "0.9", "highestWastedBytes": "disabled", "highestUserWastedPercent": "0.1"}
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "ki": 2**10, "kib": 2**10, "mi": 2**20, "mib": 2**20, "gi": 2**30,
          "gib": 2**30, "ti": 2**40, "tib": 2**40}


class RuleConfigError(DockervizError):
    """A CI threshold could not be parsed."""


@dataclass
class RuleResult:
    key: str
    status: str  # pass / fail / disabled
    message: str


def disabled(value) -> bool:
    return value is None or str(value).strip().lower() in ("", "disabled", "off", "false")


def parse_bytes(value: str) -> int:
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _UNITS:
        raise RuleConfigError(f"highestWastedBytes must be a byte count like 20MB or 1048576, not {value!r}.")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _fraction(value, key: str) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise RuleConfigError(f"{key} must be a number between 0 and 1, not {value!r}.") from None
    if not 0 <= f <= 1:
        raise RuleConfigError(f"{key} must be between 0 and 1 (a fraction, not a percentage); got {value!r}.")
    return f


RULE_KEYS = tuple(DEFAULTS)


def read_ci_config(text: str, where: str = ".dive-ci") -> dict:
    """The rules of a dive CI config file: {key: value as written}.

    dive reads it as YAML; the file it documents is one `rules:` mapping of
    the three keys, which is what is read here (comments, quotes and blank
    lines allowed). Anything else is refused with the line it is on.
    """
    rules: dict = {}
    in_rules = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip() or line.strip() == "---":
            continue
        indented = line[0] in " \t"
        key, sep, value = line.strip().partition(":")
        if not sep:
            raise RuleConfigError(f"{where}, line {number}: expected 'key: value', got {raw.strip()!r}.")
        if not indented:
            if key != "rules" or value.strip():
                raise RuleConfigError(f"{where}, line {number}: only a 'rules:' section is understood, not {key!r}.")
            in_rules = True
            continue
        if not in_rules:
            raise RuleConfigError(f"{where}, line {number}: {key!r} is not inside 'rules:'.")
        if key not in RULE_KEYS:
            raise RuleConfigError(f"{where}, line {number}: unknown rule {key!r}; the rules are {', '.join(RULE_KEYS)}.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        rules[key] = value
    return rules


# key: (the image's value it applies to, parse the threshold, the message when it fails)
_RULES = {
    "lowestEfficiency": ("efficiency", lambda v: _fraction(v, "lowestEfficiency"),
                         "image efficiency is too low (efficiency={value:.2f} < threshold={threshold})"),
    "highestWastedBytes": ("wasted_bytes", parse_bytes,
                           "too many bytes wasted (wasted-bytes={value} > threshold={threshold})"),
    "highestUserWastedPercent": ("wasted_user_percent", lambda v: _fraction(v, "highestUserWastedPercent"),
                                 "too many bytes wasted, relative to the user bytes added "
                                 "(%-user-wasted-bytes={value:.2f} > threshold={threshold})"),
}


def evaluate(efficiency: float, wasted_bytes: int, wasted_user_percent: float, *, lowest_efficiency=None,
             highest_wasted_bytes=None, highest_user_wasted_percent=None) -> list[RuleResult]:
    values = {"efficiency": efficiency, "wasted_bytes": wasted_bytes, "wasted_user_percent": wasted_user_percent}
    given = {"lowestEfficiency": lowest_efficiency, "highestWastedBytes": highest_wasted_bytes,
             "highestUserWastedPercent": highest_user_wasted_percent}
    results = []
    for key, (of, parse, message) in _RULES.items():
        threshold = DEFAULTS[key] if given[key] is None else given[key]
        if disabled(threshold):
            results.append(RuleResult(key, "disabled", "rule disabled"))
            continue
        value = values[of]
        limit = parse(threshold)
        # dive's comparisons, strict: efficiency below the lowest, waste above the highest
        failed = limit > value if key == "lowestEfficiency" else value > limit
        results.append(RuleResult(key, "fail" if failed else "pass",
                                  message.format(value=value, threshold=threshold) if failed else ""))
    return results

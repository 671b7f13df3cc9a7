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


def evaluate(efficiency: float, wasted_bytes: int, wasted_user_percent: float, *, lowest_efficiency=None,
             highest_wasted_bytes=None, highest_user_wasted_percent=None) -> list[RuleResult]:
    cfg = {
        "lowestEfficiency": DEFAULTS["lowestEfficiency"] if lowest_efficiency is None else lowest_efficiency,
        "highestWastedBytes": DEFAULTS["highestWastedBytes"] if highest_wasted_bytes is None else highest_wasted_bytes,
        "highestUserWastedPercent": (DEFAULTS["highestUserWastedPercent"] if highest_user_wasted_percent is None
                                     else highest_user_wasted_percent),
    }
    results = []
    v = cfg["lowestEfficiency"]
    if disabled(v):
        results.append(RuleResult("lowestEfficiency", "disabled", "rule disabled"))
    else:
        t = _fraction(v, "lowestEfficiency")
        failed = t > efficiency
        results.append(RuleResult("lowestEfficiency", "fail" if failed else "pass",
                                  f"image efficiency is too low (efficiency={efficiency:.2f} < threshold={v})"
                                  if failed else ""))
    v = cfg["highestWastedBytes"]
    if disabled(v):
        results.append(RuleResult("highestWastedBytes", "disabled", "rule disabled"))
    else:
        t = parse_bytes(v)
        failed = wasted_bytes > t
        results.append(RuleResult("highestWastedBytes", "fail" if failed else "pass",
                                  f"too many bytes wasted (wasted-bytes={wasted_bytes} > threshold={v})"
                                  if failed else ""))
    v = cfg["highestUserWastedPercent"]
    if disabled(v):
        results.append(RuleResult("highestUserWastedPercent", "disabled", "rule disabled"))
    else:
        t = _fraction(v, "highestUserWastedPercent")
        failed = wasted_user_percent > t
        results.append(RuleResult("highestUserWastedPercent", "fail" if failed else "pass",
                                  "too many bytes wasted, relative to the user bytes added "
                                  f"(%-user-wasted-bytes={wasted_user_percent:.2f} > threshold={v})" if failed else ""))
    return results

"""Units of measure, read alike in a command ("300K") and in a description ("in Kelvin").

A command writes them beside numbers ("450 meters", "50mH"); a parameter's description names the
unit it measures in ("The initial temperature in Kelvin", "The mass of the first body (kg)").

A number written with a unit belongs to the parameter that measures in that unit: in "a final
temperature of 400K and a heat capacity of 5J/K", 400 is the temperature's and 5 the capacity's,
whatever the words around them say.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["convert", "measures_named", "other_dimension", "readings", "units_of"]

# Each unit's spellings, keyed by the unit's name. Single letters are units only as written in
# capitals beside a number or in a description ("300K", "in J/K"), never as words.
_SPELLINGS = {
    "meter": "m meter meters metre metres",
    "kilometer": "km kilometer kilometers kilometre kilometres",
    "centimeter": "cm centimeter centimeters centimetre centimetres",
    "millimeter": "mm millimeter millimeters millimetre millimetres",
    "mile": "mi mile miles",
    "foot": "ft foot feet",
    "inch": "inch inches",
    "second": "s sec secs second seconds",
    "minute": "min mins minute minutes",
    "hour": "h hr hrs hour hours",
    "day": "day days",
    "week": "week weeks",
    "kelvin": "K kelvin kelvins",
    "celsius": "C °C celsius centigrade",
    "fahrenheit": "F °F fahrenheit",
    "kilogram": "kg kgs kilogram kilograms kilo kilos",
    "gram": "g gram grams",
    "pound": "lb lbs pound pounds",
    "joule": "J joule joules",
    "newton": "N newton newtons",
    "watt": "W watt watts",
    "volt": "V volt volts",
    "ampere": "A amp amps ampere amperes",
    "ohm": "Ω ohm ohms",
    "hertz": "Hz hertz",
    "pascal": "Pa pascal pascals",
    "coulomb": "C coulomb coulombs",
    "farad": "F farad farads",
    "henry": "H henry henries",
    "liter": "L liter liters litre litres",
    "mole": "mol mole moles",
}
# What each unit measures: a number in one dimension is never the value of a parameter measured in
# another ("10 meters" is no weight in kilograms), whatever unit of the same dimension was written.
_DIMENSIONS = {
    "length": "meter kilometer centimeter millimeter mile foot inch",
    "time": "second minute hour day week",
    "temperature": "kelvin celsius fahrenheit",
    "mass": "kilogram gram pound",
    "energy": "joule",
    "force": "newton",
    "power": "watt",
    "voltage": "volt",
    "current": "ampere",
    "resistance": "ohm",
    "frequency": "hertz",
    "pressure": "pascal",
    "charge": "coulomb",
    "capacitance": "farad",
    "inductance": "henry",
    "volume": "liter",
    "amount": "mole",
}
_DIMENSION_OF = {unit: dimension for dimension, units in _DIMENSIONS.items() for unit in units.split()}
# Each unit in its dimension's base unit, where a factor converts it (temperatures need offsets:
# not converted).
_IN_BASE = {
    "meter": 1.0,
    "kilometer": 1000.0,
    "centimeter": 0.01,
    "millimeter": 0.001,
    "mile": 1609.344,
    "foot": 0.3048,
    "inch": 0.0254,
    "second": 1.0,
    "minute": 60.0,
    "hour": 3600.0,
    "day": 86400.0,
    "week": 604800.0,
    "kilogram": 1.0,
    "gram": 0.001,
    "pound": 0.45359237,
}
_BY_SPELLING: dict[str, list[str]] = {}
for _name, _spelled in _SPELLINGS.items():
    for _spelling in _spelled.split():
        # One-letter spellings keep their case ("K" is kelvin, "k" nothing); longer ones do not.
        # Some name two units ("5C" is a charge or a temperature): both readings are kept.
        _BY_SPELLING.setdefault(_spelling if len(_spelling) == 1 else _spelling.lower(), []).append(_name)
# Prefixed units glued to numbers: "50mH", "100µF", "2kV", "10kPa" (a factor of the base unit).
_PREFIXED = re.compile(r"^([mµunkMG])(H|F|V|A|W|Pa|J|N|Hz|Ω)$")
_PREFIX_FACTORS = {"m": 1e-3, "µ": 1e-6, "u": 1e-6, "n": 1e-9, "k": 1e3, "M": 1e6, "G": 1e9}
_PREFIXED_BASES = {
    "H": "henry",
    "F": "farad",
    "V": "volt",
    "A": "ampere",
    "W": "watt",
    "Pa": "pascal",
    "J": "joule",
    "N": "newton",
    "Hz": "hertz",
    "Ω": "ohm",
}
_DESCRIBED = re.compile(r"°[CFK]|[A-Za-zµΩ°]+")
_SQUARE = re.compile(r"\b(?:square|sq\.?)\s*([A-Za-z]+)", re.I)


def readings(written: str) -> frozenset[tuple[str, float]]:
    """The units a spelling may name, each with its factor to that unit.

    "meters" -> meter, 1; "50mH"'s "mH" -> henry, 0.001; "C" -> celsius or coulomb; "apples" -> none.
    """
    text = written.strip()
    square = _SQUARE.fullmatch(text)
    if square is not None:  # "400 square feet" is an area, not a length
        return frozenset((f"square {name}", factor) for name, factor in readings(square.group(1)))
    if text.lower().startswith("degree"):  # "30 degree Celsius"
        text = text.lower().removeprefix("degrees").removeprefix("degree").strip() or "degree"
    prefixed = _PREFIXED.match(text)
    if prefixed is not None and text not in _BY_SPELLING:
        return frozenset({(_PREFIXED_BASES[prefixed.group(2)], _PREFIX_FACTORS[prefixed.group(1)])})
    names = _BY_SPELLING.get(text if len(text) == 1 else text.lower(), ())
    return frozenset((name, 1.0) for name in names)


_ORDINAL_SECOND = re.compile(r"\bthe second\b", re.I)


@lru_cache(maxsize=4096)
def units_of(described: str) -> frozenset[tuple[str, float]]:
    """The units a parameter's name and description name, with their factors ("in J/K" -> joule, kelvin)."""
    described = _ORDINAL_SECOND.sub("the", described)  # "the second sample of gas" measures no time
    found = {unit for m in _SQUARE.finditer(described) for unit in readings(m.group(0))}
    for word in _DESCRIBED.findall(_SQUARE.sub(" ", described)):
        # One letter names a unit only in capitals ("in K"); "a", "s", "m" are words or letters.
        if len(word) == 1 and not word.isupper():
            continue
        if len(word) == 1 and not re.search(rf"(?:\(|\bin |/|\d\s?){word}\b|\b{word}(?:/|\))", described):
            continue  # a capital that opens a sentence or names a thing ("A value", "Vitamin C")
        found |= readings(word)
    return frozenset(found)


def _dimension(unit: str) -> str | None:
    if unit.startswith("square "):  # "square foot": an area
        base = _DIMENSION_OF.get(unit.removeprefix("square "))
        return None if base is None else f"square {base}"
    return _DIMENSION_OF.get(unit)


# What a parameter's name says it measures: "temperature1", "distance", "duration" ("length" is
# no word of this: a track's length is a time; "current" is mostly "now").
_NAMED_DIMENSIONS = {d: d for d in _DIMENSIONS if d not in ("length", "current")} | {
    "distance": "length",
    "height": "length",
    "width": "length",
    "depth": "length",
    "duration": "time",
    "weight": "mass",
}


def measures_named(name: str, written: str) -> bool | None:
    """Whether a number written with unit ``written`` measures what the parameter's name says.

    ``name`` is the name's words ("temperature 1"); ``None`` when the name names no dimension or the
    unit's is unknown ("2 moles" for ``quantity1``).
    """
    named = {_NAMED_DIMENSIONS[word] for word in name.split() if word in _NAMED_DIMENSIONS}
    dimensions = {_dimension(unit) for unit, _ in readings(written)}
    if not named or not dimensions or None in dimensions:
        return None
    return bool(named & dimensions)


def other_dimension(written: str, measured: frozenset[tuple[str, float]]) -> bool:
    """Whether a number written with unit ``written`` measures something other than ``measured`` does.

    ``measured`` is a parameter's units (:func:`units_of`). True only when every reading of the
    written unit and every measured unit have a known dimension and none is shared: "10 meters"
    for a weight in kilograms; not "500 g" for kilograms, not "5C" (a charge or a temperature) for
    Celsius, not an unread unit such as "m/s".
    """
    written_dimensions = {_dimension(name) for name, _ in readings(written)}
    measured_dimensions = {_dimension(name) for name, _ in measured}
    if not written_dimensions or not measured_dimensions or None in written_dimensions | measured_dimensions:
        return False
    return not written_dimensions & measured_dimensions


def convert(value: float, written: str, measured: frozenset[tuple[str, float]]) -> float | None:
    """``value`` in the unit ``written`` as the one unit of its dimension the parameter measures in.

    "3 minutes" for a length "in seconds" is 180; "5 ft" for a height "in inches" is 60; "50mH" for
    henries is 0.05. ``None`` where nothing is to convert: no unit read, the parameter's own unit
    unprefixed, several or no measured units of that dimension, or one without a factor
    (temperatures).
    """
    for name, factor in readings(written):
        if factor != 1.0 and (name, 1.0) in measured:  # a prefixed form of the parameter's own unit
            return float(f"{value * factor:.12g}")
        dimension = _DIMENSION_OF.get(name)
        targets = {unit for unit, _ in measured if _DIMENSION_OF.get(unit) == dimension}
        if dimension is None or len(targets) != 1 or name in targets:
            continue
        (target,) = targets
        if name in _IN_BASE and target in _IN_BASE:
            return float(f"{value * factor * _IN_BASE[name] / _IN_BASE[target]:.12g}")
    return None


def counted_as(value: float, written: str, measured: frozenset[tuple[str, float]]) -> float | None:
    """``value`` said in the unit ``written``, as a parameter measured in ``measured`` counts it.

    Converted where :func:`convert` can ("2 weeks" as 14 for days), as is where the parameter
    counts in that very unit ("the next week" as 1 for weeks), else ``None``: a stretch of time said
    without a number is no value for a parameter that counts no time.
    """
    converted = convert(value, written, measured)
    if converted is not None:
        return converted
    return value if (written, 1.0) in measured else None

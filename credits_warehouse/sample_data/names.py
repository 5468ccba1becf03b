"""Company names and postal addresses of the synthetic customers, in five countries."""

from __future__ import annotations

import numpy as np

_BRANDS = (
    "Acme Aperture Bluefin Cobalt Contoso Cyberdyne Driftwood Ember Fabrikam Globex Granite "
    "Harbor Helix Hooli Initech Juniper Kestrel Lumen Meridian Monarch Northwind Nimbus Orbit "
    "Pinecone Quartz Redwood Saffron Sterling Summit Tidal Umbrella Vandelay Vertex Willow "
    "Wonka Zephyr Atlas Beacon Copper Falcon"
).split()
_SECTORS = (
    "Analytics Labs Systems Robotics Health Logistics Media Software Foods Energy Capital "
    "Dynamics Studios Networks Biotech Consulting Security Learning Mobility Insights"
).split()
_SURNAMES = (
    "Smith Jones Baker Meyer Dubois Jansen Miller Schmidt Martin Bakker O'Neill D'Arcy "
    "Taylor Fischer Laurent Visser Brown Weber Bernard O'Brien"
).split()
_LEGAL = {"GB": "Ltd", "US": "Inc.", "DE": "GmbH", "FR": "SAS", "NL": "B.V."}
_CITIES = {
    "GB": (("London", "EC2A 4NE"), ("Manchester", "M1 1AE"), ("Bristol", "BS1 4DJ")),
    "US": (("New York, NY", "10001"), ("Austin, TX", "78701"), ("Seattle, WA", "98101")),
    "DE": (("Berlin", "10115"), ("München", "80331"), ("Hamburg", "20095")),
    "FR": (("Paris", "75002"), ("Lyon", "69002"), ("Nantes", "44000")),
    "NL": (("Amsterdam", "1012 AB"), ("Rotterdam", "3011 AD"), ("Utrecht", "3511 AB")),
}
_COUNTRY_NAME = {
    "GB": "United Kingdom",
    "US": "United States",
    "DE": "Germany",
    "FR": "France",
    "NL": "Netherlands",
}
_STREETS = {
    "GB": ("{n} High Street", "{n} King's Road", "{n} Station Road"),
    "US": ("{n} Main Street", "{n} Market Street", "{n} 5th Avenue"),
    "DE": ("Hauptstraße {n}", "Bahnhofstraße {n}", "Gartenweg {n}"),
    "FR": ("{n} rue de la Paix", "{n} avenue Victor Hugo", "{n} boulevard Voltaire"),
    "NL": ("Keizersgracht {n}", "Damrak {n}", "Stationsplein {n}"),
}


def slug(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def company(rng: np.random.Generator, i: int, country: str) -> str:
    legal = _LEGAL[country]
    style = i % 12
    if style == 3:
        a, b = rng.choice(len(_SURNAMES), 2, replace=False)
        return f"{_SURNAMES[a]} & {_SURNAMES[b]} {legal}"
    if style == 7:
        return (
            f"{_SURNAMES[rng.integers(len(_SURNAMES))]}'s {_SECTORS[rng.integers(len(_SECTORS))]}"
        )
    if style == 10:
        brand = _BRANDS[rng.integers(len(_BRANDS))]
        return f"{brand} Research & Development {legal}"
    brand = _BRANDS[rng.integers(len(_BRANDS))]
    return f"{brand} {_SECTORS[rng.integers(len(_SECTORS))]} {legal}"


def address(rng: np.random.Generator, country: str) -> str:
    street = _STREETS[country][rng.integers(3)].format(n=int(rng.integers(1, 250)))
    city, post = _CITIES[country][rng.integers(3)]
    if country in ("US", "GB"):
        return f"{street}, {city} {post}, {_COUNTRY_NAME[country]}"
    return f"{street}, {post} {city}, {_COUNTRY_NAME[country]}"

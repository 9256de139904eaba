"""Build a CounterFact-style fact set of facts a model really knows, by probing the model.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/build_fact_set.py smollm2-135m [--out stylekg/data/facts/...]

Candidates are (relation, subject, true object) triples written below. A fact is kept when the model's
greedy continuation of its prompt is the true object (every object token is the argmax under teacher
forcing) and at least one paraphrase is right too; only the right paraphrases are stored (at most two).
Each kept fact gets:

* ``target_new``: the true object of another kept fact of the same relation (as in CounterFact);
* ``neighborhood_prompts``: three other known facts, each with its own answer (``{"prompt", "target"}``),
  taken from the facts after the first 60 (same relation first), so editing any prefix of up to 60
  facts of the file never edits one of its neighbours.

The output is one JSON record per line (docs/editing.md) in round-robin order over the relations, so a
prefix of the file is a balanced sample.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stylekg.evaluation.scoring import score_continuations  # noqa: E402
from stylekg.lm import load_model  # noqa: E402

# relation -> (prompt template, paraphrase templates)
RELATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "capital": ("The capital of {} is", ("The capital city of {} is", "{}'s capital city is",
                                          "The seat of government of {} is in")),
    "city_country": ("The city of {} is located in", ("{} is a city in the country of", "{} is located in the country of",
                                                      "{} is a city in")),
    "language": ("The official language of {} is", ("In {}, most people speak", "The main language spoken in {} is",
                                                     "The people of {} speak")),
    "continent": ("{} is a country in", ("{} is located on the continent of", "{} is part of the continent of",
                                         "The country of {} is in")),
    "landmark_city": ("{} is located in the city of", ("{} can be found in the city of", "{} stands in the city of",
                                                       "To visit {}, you have to travel to the city of")),
    "instrument": ("{} is famous for playing the", ("{} was a famous player of the", "The instrument played by {} is the",
                                                   "{} played the")),
    "sport": ("{} is a professional", ("{} plays the sport of", "{} is famous for playing",
                                       "The sport played by {} is")),
}

CAPITALS = {
    "France": "Paris", "Italy": "Rome", "Japan": "Tokyo", "Germany": "Berlin", "Spain": "Madrid",
    "England": "London", "Russia": "Moscow", "China": "Beijing", "Egypt": "Cairo", "Greece": "Athens",
    "Portugal": "Lisbon", "Austria": "Vienna", "Poland": "Warsaw", "Sweden": "Stockholm", "Norway": "Oslo",
    "Ireland": "Dublin", "Turkey": "Ankara", "India": "New Delhi", "Hungary": "Budapest", "Finland": "Helsinki",
    "Denmark": "Copenhagen", "Netherlands": "Amsterdam", "Belgium": "Brussels", "Cuba": "Havana", "Peru": "Lima",
    "Argentina": "Buenos Aires", "Kenya": "Nairobi", "Thailand": "Bangkok", "Iran": "Tehran", "Vietnam": "Hanoi",
    "Mexico": "Mexico City", "Canada": "Ottawa", "Australia": "Canberra", "Brazil": "Brasília", "Chile": "Santiago",
    "Colombia": "Bogotá", "Czech Republic": "Prague", "Romania": "Bucharest", "Ukraine": "Kyiv", "Scotland": "Edinburgh",
    "Wales": "Cardiff", "South Korea": "Seoul", "North Korea": "Pyongyang", "Indonesia": "Jakarta",
    "Philippines": "Manila", "Malaysia": "Kuala Lumpur", "Iraq": "Baghdad", "Syria": "Damascus", "Lebanon": "Beirut",
    "Israel": "Jerusalem", "Saudi Arabia": "Riyadh", "Afghanistan": "Kabul", "Pakistan": "Islamabad",
    "Bangladesh": "Dhaka", "Nepal": "Kathmandu", "Ethiopia": "Addis Ababa", "Nigeria": "Abuja", "Ghana": "Accra",
    "Morocco": "Rabat", "Algeria": "Algiers", "Tunisia": "Tunis", "Venezuela": "Caracas", "Switzerland": "Bern",
    "Iceland": "Reykjavik", "Serbia": "Belgrade", "Bulgaria": "Sofia", "Croatia": "Zagreb", "Slovakia": "Bratislava",
    "Latvia": "Riga", "Lithuania": "Vilnius", "Estonia": "Tallinn", "Mongolia": "Ulaanbaatar", "Uganda": "Kampala",
    "Jamaica": "Kingston", "Uruguay": "Montevideo", "Paraguay": "Asunción", "Bolivia": "La Paz", "Ecuador": "Quito",
}
CITY_COUNTRY = {
    "Paris": "France", "Lyon": "France", "Marseille": "France", "Milan": "Italy", "Naples": "Italy",
    "Venice": "Italy", "Florence": "Italy", "Munich": "Germany", "Hamburg": "Germany", "Frankfurt": "Germany",
    "Barcelona": "Spain", "Seville": "Spain", "Valencia": "Spain", "Osaka": "Japan", "Kyoto": "Japan",
    "Shanghai": "China", "Mumbai": "India", "Toronto": "Canada", "Montreal": "Canada", "Vancouver": "Canada",
    "Sydney": "Australia", "Melbourne": "Australia", "Chicago": "the United States", "Los Angeles": "the United States",
    "Rio de Janeiro": "Brazil", "São Paulo": "Brazil", "Istanbul": "Turkey", "Saint Petersburg": "Russia",
    "Manchester": "England", "Liverpool": "England", "Glasgow": "Scotland", "Porto": "Portugal",
    "Rotterdam": "the Netherlands", "Krakow": "Poland", "Zurich": "Switzerland", "Geneva": "Switzerland",
    "Alexandria": "Egypt", "Casablanca": "Morocco", "Johannesburg": "South Africa", "Cape Town": "South Africa",
    "Auckland": "New Zealand", "Busan": "South Korea", "Salzburg": "Austria", "Gothenburg": "Sweden",
}
LANGUAGES = {
    "France": "French", "Italy": "Italian", "Japan": "Japanese", "Germany": "German", "Spain": "Spanish",
    "Russia": "Russian", "China": "Chinese", "Greece": "Greek", "Portugal": "Portuguese", "Poland": "Polish",
    "Sweden": "Swedish", "Norway": "Norwegian", "Turkey": "Turkish", "Hungary": "Hungarian", "Finland": "Finnish",
    "Denmark": "Danish", "the Netherlands": "Dutch", "Brazil": "Portuguese", "Mexico": "Spanish",
    "Argentina": "Spanish", "Iran": "Persian", "Vietnam": "Vietnamese", "Thailand": "Thai", "Korea": "Korean",
    "Israel": "Hebrew", "Egypt": "Arabic", "Saudi Arabia": "Arabic", "Austria": "German", "Ukraine": "Ukrainian",
    "Romania": "Romanian", "Czech Republic": "Czech", "Indonesia": "Indonesian", "England": "English",
    "Australia": "English", "Chile": "Spanish", "Peru": "Spanish", "Colombia": "Spanish", "Iceland": "Icelandic",
    "Cuba": "Spanish", "Venezuela": "Spanish", "Bolivia": "Spanish", "Uruguay": "Spanish", "Ecuador": "Spanish",
    "Belgium": "Dutch", "Switzerland": "German", "Bulgaria": "Bulgarian",
    "Serbia": "Serbian", "Croatia": "Croatian", "Slovakia": "Slovak", "Lithuania": "Lithuanian", "Latvia": "Latvian",
    "Estonia": "Estonian", "Pakistan": "Urdu", "Bangladesh": "Bengali", "Malaysia": "Malay", "Kenya": "Swahili",
    "Ethiopia": "Amharic", "Scotland": "English", "Ireland": "English", "Canada": "English",
}
CONTINENTS = {
    "France": "Europe", "Italy": "Europe", "Germany": "Europe", "Spain": "Europe", "Poland": "Europe",
    "Sweden": "Europe", "Norway": "Europe", "Greece": "Europe", "Austria": "Europe", "Hungary": "Europe",
    "Japan": "Asia", "China": "Asia", "India": "Asia", "Vietnam": "Asia", "Thailand": "Asia", "Mongolia": "Asia",
    "Nepal": "Asia", "Indonesia": "Asia", "Pakistan": "Asia", "Bangladesh": "Asia", "Cambodia": "Asia",
    "Kenya": "Africa", "Nigeria": "Africa", "Ghana": "Africa", "Ethiopia": "Africa", "Uganda": "Africa",
    "Senegal": "Africa", "Tanzania": "Africa", "Zambia": "Africa", "Botswana": "Africa", "Morocco": "Africa",
    "Brazil": "South America", "Argentina": "South America", "Peru": "South America", "Chile": "South America",
    "Colombia": "South America", "Bolivia": "South America", "Venezuela": "South America", "Uruguay": "South America",
    "Paraguay": "South America", "Ecuador": "South America", "Canada": "North America", "Mexico": "North America",
    "Portugal": "Europe", "Ireland": "Europe", "Finland": "Europe", "Denmark": "Europe", "Romania": "Europe",
    "Bulgaria": "Europe", "Croatia": "Europe", "Belgium": "Europe", "Switzerland": "Europe", "Ukraine": "Europe",
    "Iran": "Asia", "Iraq": "Asia", "Malaysia": "Asia", "Philippines": "Asia", "South Korea": "Asia",
    "Laos": "Asia", "Sri Lanka": "Asia", "Afghanistan": "Asia", "Egypt": "Africa", "Algeria": "Africa",
    "Sudan": "Africa", "Mali": "Africa", "Angola": "Africa", "Namibia": "Africa", "Cameroon": "Africa",
    "Guatemala": "North America", "Cuba": "North America", "Honduras": "North America",
}
LANDMARKS = {
    "The Eiffel Tower": "Paris", "The Louvre": "Paris", "The Colosseum": "Rome", "The Vatican": "Rome",
    "Big Ben": "London", "The Tower of London": "London", "Buckingham Palace": "London",
    "The Statue of Liberty": "New York", "The Empire State Building": "New York", "Central Park": "New York",
    "The Brandenburg Gate": "Berlin", "The Kremlin": "Moscow", "Red Square": "Moscow",
    "The Sydney Opera House": "Sydney", "The Golden Gate Bridge": "San Francisco", "The Space Needle": "Seattle",
    "The Acropolis": "Athens", "The Parthenon": "Athens", "The Sagrada Familia": "Barcelona",
    "The Forbidden City": "Beijing", "Tiananmen Square": "Beijing", "The Leaning Tower": "Pisa",
    "The Rialto Bridge": "Venice", "The Alhambra": "Granada", "The Hagia Sophia": "Istanbul",
    "The White House": "Washington", "The Taj Mahal": "Agra", "The Prado Museum": "Madrid",
    "The Uffizi Gallery": "Florence", "The Christ the Redeemer statue": "Rio de Janeiro",
    "The Arc de Triomphe": "Paris", "Notre-Dame Cathedral": "Paris", "The Trevi Fountain": "Rome",
    "The Pantheon": "Rome", "Westminster Abbey": "London", "Trafalgar Square": "London",
    "The London Eye": "London", "Times Square": "New York", "The Brooklyn Bridge": "New York",
    "Wall Street": "New York", "The Hollywood Sign": "Los Angeles", "The Reichstag": "Berlin",
    "The Berlin Wall": "Berlin", "Saint Basil's Cathedral": "Moscow", "The Bolshoi Theatre": "Moscow",
    "The Blue Mosque": "Istanbul", "The Little Mermaid statue": "Copenhagen", "The Atomium": "Brussels",
    "Manneken Pis": "Brussels", "The Charles Bridge": "Prague", "Schönbrunn Palace": "Vienna",
    "The Burj Khalifa": "Dubai", "The Petronas Towers": "Kuala Lumpur", "The Tokyo Tower": "Tokyo",
    "The Gateway of India": "Mumbai", "The Pyramids of Giza": "Cairo", "The Lincoln Memorial": "Washington",
    "The Alamo": "San Antonio", "The CN Tower": "Toronto", "The Hermitage Museum": "Saint Petersburg",
}
INSTRUMENTS = {
    "Jimi Hendrix": "guitar", "Eric Clapton": "guitar", "Slash": "guitar", "B.B. King": "guitar",
    "Yo-Yo Ma": "cello", "Itzhak Perlman": "violin", "Niccolò Paganini": "violin", "Joshua Bell": "violin",
    "Lang Lang": "piano", "Vladimir Horowitz": "piano", "Frédéric Chopin": "piano", "Glenn Gould": "piano",
    "Louis Armstrong": "trumpet", "Miles Davis": "trumpet", "Dizzy Gillespie": "trumpet",
    "John Coltrane": "saxophone", "Charlie Parker": "saxophone", "Stan Getz": "saxophone",
    "Ringo Starr": "drums", "Keith Moon": "drums", "Buddy Rich": "drums", "Flea": "bass",
}
SPORTS = {
    "Michael Jordan": "basketball", "LeBron James": "basketball", "Kobe Bryant": "basketball",
    "Stephen Curry": "basketball", "Shaquille O'Neal": "basketball", "Lionel Messi": "soccer",
    "Cristiano Ronaldo": "soccer", "Neymar": "soccer", "Pelé": "soccer", "Roger Federer": "tennis",
    "Rafael Nadal": "tennis", "Serena Williams": "tennis", "Novak Djokovic": "tennis", "Tiger Woods": "golf",
    "Phil Mickelson": "golf", "Tom Brady": "football", "Peyton Manning": "football", "Wayne Gretzky": "hockey",
    "Sidney Crosby": "hockey", "Babe Ruth": "baseball", "Derek Jeter": "baseball", "Usain Bolt": "sprinter",
    "Michael Phelps": "swimmer", "Muhammad Ali": "boxer", "Mike Tyson": "boxer",
}
CANDIDATES = {
    "capital": CAPITALS, "city_country": CITY_COUNTRY, "language": LANGUAGES, "continent": CONTINENTS,
    "landmark_city": LANDMARKS, "instrument": INSTRUMENTS, "sport": SPORTS,
}


def _right(lm, pairs: list[tuple[str, str]]) -> list[bool]:
    """Whether greedy decoding writes each target after its prompt (every target token the argmax)."""
    return [s.top1 for s in score_continuations(lm, pairs, batch_size=32)]


def probe(lm) -> dict[str, list[dict]]:
    """Facts per relation that the model gets right, with the paraphrases it also gets right."""
    known: dict[str, list[dict]] = defaultdict(list)
    for relation, table in CANDIDATES.items():
        template, paraphrases = RELATIONS[relation]
        subjects = list(table)
        main = _right(lm, [(template.format(s), " " + table[s]) for s in subjects])
        pairs = [(p.format(s), " " + table[s]) for s in subjects for p in paraphrases]
        para = _right(lm, pairs)
        for i, subject in enumerate(subjects):
            if not main[i]:
                continue
            right = [pairs[i * len(paraphrases) + j][0] for j in range(len(paraphrases)) if para[i * len(paraphrases) + j]]
            if right:
                known[relation].append({"subject": subject, "object": table[subject], "paraphrases": right[:2]})
    return known


def records(known: dict[str, list[dict]], n_edit: int = 60, n_neighbours: int = 3) -> list[dict]:
    """CounterFact records in round-robin order over relations (any prefix is a balanced sample).

    The first ``n_edit`` records are the ones meant to be edited; every record's neighbours are facts
    *after* that prefix (same relation first, then others), so editing any prefix of up to ``n_edit`` facts
    never edits a neighbour. ``target_new`` is the true object of another fact of the same relation.
    """
    queues = [[(relation, f) for f in facts] for relation, facts in sorted(known.items())]
    ordered: list[tuple[str, dict]] = []
    while any(queues):
        for q in queues:
            if q:
                ordered.append(q.pop(0))
    held_out = ordered[n_edit:]
    out = []
    for i, (relation, fact) in enumerate(ordered):
        template = RELATIONS[relation][0]
        same = known[relation]
        others = [f for f in same if f["object"] != fact["object"]]
        if not others:
            continue
        new = others[(i * 7) % len(others)]["object"]
        pool = [(r, f) for r, f in held_out if f is not fact]
        pool = [x for x in pool if x[0] == relation][::-1] + [x for x in pool if x[0] != relation]
        start = (i * 5) % max(1, len(pool))
        picked = (pool[start:] + pool[:start])[:n_neighbours]
        neighbours = [{"prompt": RELATIONS[r][0].format(f["subject"]), "target": f["object"]} for r, f in picked]
        out.append({
            "case_id": str(len(out)),
            "requested_rewrite": {"prompt": template, "subject": fact["subject"], "relation": relation,
                                  "target_new": {"str": new}, "target_true": {"str": fact["object"]}},
            "paraphrase_prompts": fact["paraphrases"],
            "neighborhood_prompts": neighbours,
        })
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model(args.model)
    known = probe(lm)
    recs = records(known)
    out = args.out or Path(__file__).resolve().parents[1] / "stylekg" / "data" / "facts" / f"counterfact_{args.model}.jsonl"
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), "utf-8")
    counts = {k: len(v) for k, v in sorted(known.items())}
    print(f"{args.model}: {len(recs)} facts known with a paraphrase ({counts}); wrote {out}")


if __name__ == "__main__":
    main()

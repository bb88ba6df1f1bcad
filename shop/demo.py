"""Demo data: a realistic Nordic music catalogue and three logins, for trying the shop locally.

``flask demo load`` fills an empty database; ``--if-empty`` makes it a no-op
when products exist (safe in a start-up script). Everything is generated
from a seeded random generator, so two loads give the same catalogue.
:func:`generate_products` and :func:`insert_products` are fast enough for the
benchmarks in ``bench/`` to load 20 000 products.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar

import click
from flask.cli import AppGroup
from sqlalchemy import func, insert, select

from shop import clock
from shop.domain.buyers import normalise_org_number
from shop.domain.catalog import ProductKind, SizeClass
from shop.domain.vat import VatRate
from shop.extensions import db
from shop.models import Address, Course, CourseSession, Customer, Product, StockLevel
from shop.models.customer import Role
from shop.services import customers
from shop.services.catalog import (
    ensure_standard_categories,
    search_text_from,
    slugify,
    sort_title_for,
)
from shop.services.downloads import seed_digital_goods

demo_cli = AppGroup("demo", help="Demo data for trying the shop locally.")

#: How many products ``flask demo load`` creates, and from which seed.
DEMO_PRODUCT_COUNT = 320
DEMO_SEED = 2026


@dataclass(frozen=True)
class DemoLogin:
    """A local-only demo login (never use these anywhere but a developer's machine)."""

    role: str
    email: str
    password: str


#: The demo logins, printed by ``flask demo load`` and shown in the README.
DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("Privatperson (consumer)", "kund@example.se", "demo-kund-2026"),
    DemoLogin("Organisation (school)", "skola@example.se", "demo-skola-2026"),
    DemoLogin("Personal (staff, finance, admin)", "personal@example.se", "demo-personal-2026"),
    DemoLogin("Lärare (teacher)", "larare@example.se", "demo-larare-2026"),
)

DEMO_ORGANISATION_NUMBER = "802437-4624"

# --------------------------------------------------------------------------- source material

PUBLISHERS: tuple[tuple[str, str], ...] = (
    ("Gehrmans Musikförlag", "GE"),
    ("Wilhelm Hansen", "WH"),
    ("Edition Peters", "EP"),
    ("Bärenreiter", "BA"),
    ("Notfabriken", "NF"),
    ("Warner/Chappell Scandinavia", "WC"),
    ("G. Henle Verlag", "HN"),
    ("Breitkopf & Härtel", "EB"),
    ("Nordiska Musikförlaget", "NMS"),
    ("Edition Reimers", "ER"),
    ("Carus-Verlag", "CV"),
    ("Sveriges Körförbunds Förlag", "SKF"),
)

#: (composer, work, instrumentations the work is sold for, lowest and highest difficulty)
WORKS: tuple[tuple[str, str, tuple[str, ...], int, int], ...] = (
    ("Johann Sebastian Bach", "Das Wohltemperierte Klavier, del 1", ("Piano",), 3, 5),
    ("Johann Sebastian Bach", "Inventioner och sinfonior", ("Piano",), 2, 4),
    ("Johann Sebastian Bach", "Goldbergvariationer", ("Piano",), 4, 5),
    ("Johann Sebastian Bach", "Sviter för cello solo", ("Cello", "Viola", "Gitarr"), 3, 5),
    ("Johann Sebastian Bach", "Partitor för violin solo", ("Violin",), 4, 5),
    ("Johann Sebastian Bach", "Juloratoriet, klaverutdrag", ("Blandad kör (SATB)",), 3, 4),
    ("Johann Sebastian Bach", "Anna Magdalenas notbok", ("Piano",), 1, 2),
    ("Johann Sebastian Bach", "Jesu, meine Freude", ("Blandad kör (SATB)",), 3, 4),
    ("Ludwig van Beethoven", "Pianosonater, band 1", ("Piano",), 3, 5),
    ("Ludwig van Beethoven", "Månskenssonaten op. 27:2", ("Piano",), 3, 4),
    ("Ludwig van Beethoven", "Für Elise", ("Piano", "Gitarr"), 2, 3),
    ("Ludwig van Beethoven", "Pathétique op. 13", ("Piano",), 4, 5),
    ("Ludwig van Beethoven", "Stråkkvartetter op. 18", ("Stråkkvartett",), 4, 5),
    ("Ludwig van Beethoven", "Romans i F-dur op. 50", ("Violin och piano",), 3, 4),
    ("Hugo Alfvén", "Midsommarvaka (Svensk rapsodi nr 1)", ("Orkester", "Piano"), 3, 4),
    ("Hugo Alfvén", "Aftonen", ("Blandad kör (SATB)",), 3, 4),
    ("Hugo Alfvén", "Uti vår hage", ("Blandad kör (SATB)", "Damkör (SSA)"), 2, 3),
    ("Hugo Alfvén", "Roslagsvår", ("Blandad kör (SATB)",), 2, 3),
    ("Hugo Alfvén", "Vallflickans dans", ("Piano",), 3, 4),
    ("Wilhelm Stenhammar", "Sent på jorden", ("Blandad kör (SATB)",), 3, 4),
    ("Wilhelm Stenhammar", "Tre körvisor", ("Blandad kör (SATB)",), 3, 4),
    ("Wilhelm Stenhammar", "Sensommarnätter op. 33", ("Piano",), 4, 5),
    ("Wilhelm Stenhammar", "I skogen", ("Sång och piano",), 2, 3),
    ("Wilhelm Peterson-Berger", "Frösöblomster", ("Piano",), 2, 4),
    ("Wilhelm Peterson-Berger", "Intåg i Sommarhagen", ("Piano",), 2, 3),
    (
        "Wilhelm Peterson-Berger",
        "När jag för mig själv i mörka skogen går",
        ("Sång och piano",),
        2,
        3,
    ),
    (
        "Evert Taube",
        "Calle Schewens vals",
        ("Sång och gitarr", "Blandad kör (SATB)", "Piano"),
        1,
        3,
    ),
    ("Evert Taube", "Så skimrande var aldrig havet", ("Sång och gitarr", "Piano"), 1, 3),
    ("Evert Taube", "Flickan i Havanna", ("Sång och gitarr",), 1, 2),
    ("Evert Taube", "Sjösala vals", ("Sång och gitarr", "Blandad kör (SATB)"), 1, 3),
    ("Evert Taube", "Möte i monsunen", ("Sång och piano",), 2, 3),
    ("Carl Michael Bellman", "Fredmans epistlar, urval", ("Sång och gitarr",), 2, 3),
    ("Carl Michael Bellman", "Fredmans sånger, urval", ("Sång och piano",), 2, 3),
    ("Carl Michael Bellman", "Gubben Noak", ("Sång och gitarr", "Manskör (TTBB)"), 1, 2),
    ("Edvard Grieg", "Lyriska stycken op. 12", ("Piano",), 2, 4),
    ("Edvard Grieg", "Peer Gynt-svit nr 1", ("Piano", "Orkester"), 3, 4),
    ("Edvard Grieg", "Holbergsviten op. 40", ("Stråkorkester", "Piano"), 3, 5),
    ("Edvard Grieg", "Pianokonsert a-moll op. 16", ("Två pianon",), 5, 5),
    ("Jean Sibelius", "Finlandia", ("Blandad kör (SATB)", "Orkester", "Piano"), 3, 4),
    ("Jean Sibelius", "Valse triste", ("Piano", "Orkester"), 3, 4),
    ("Jean Sibelius", "Violinkonsert d-moll op. 47", ("Violin och piano",), 5, 5),
    ("Jean Sibelius", "Andante festivo", ("Stråkorkester",), 3, 4),
    ("Jean Sibelius", "Kuusi (Granen) op. 75:5", ("Piano",), 3, 4),
    ("Carl Nielsen", "Blæsekvintet op. 43", ("Blåskvintett",), 4, 5),
    ("Carl Nielsen", "Fløjtekoncert", ("Flöjt och piano",), 5, 5),
    ("Carl Nielsen", "Humoreske-Bagateller op. 11", ("Piano",), 2, 3),
    ("Carl Nielsen", "Jeg ved en lærkerede", ("Sång och piano", "Blandad kör (SATB)"), 1, 2),
    ("Wolfgang Amadeus Mozart", "Pianosonat C-dur KV 545", ("Piano",), 2, 3),
    ("Wolfgang Amadeus Mozart", "Eine kleine Nachtmusik KV 525", ("Stråkkvartett", "Piano"), 3, 4),
    ("Wolfgang Amadeus Mozart", "Requiem KV 626, klaverutdrag", ("Blandad kör (SATB)",), 3, 4),
    ("Wolfgang Amadeus Mozart", "Klarinettkonsert A-dur KV 622", ("Klarinett och piano",), 4, 5),
    ("Wolfgang Amadeus Mozart", "Ave verum corpus KV 618", ("Blandad kör (SATB)",), 2, 3),
    ("Frédéric Chopin", "Nocturner", ("Piano",), 3, 5),
    ("Frédéric Chopin", "Valser", ("Piano",), 3, 4),
    ("Frédéric Chopin", "Preludier op. 28", ("Piano",), 3, 5),
    ("Franz Schubert", "Impromptus D 899", ("Piano",), 4, 5),
    ("Franz Schubert", "Winterreise", ("Sång och piano",), 4, 5),
    ("Antonio Vivaldi", "De fyra årstiderna", ("Violin och piano", "Stråkorkester"), 3, 5),
    ("Georg Friedrich Händel", "Messias, klaverutdrag", ("Blandad kör (SATB)",), 3, 4),
    ("Lars-Erik Larsson", "Pastoralsvit op. 19", ("Orkester", "Piano"), 3, 4),
    ("Lars-Erik Larsson", "Förklädd gud", ("Blandad kör (SATB)",), 3, 4),
    ("Elfrida Andrée", "Pianokvintett e-moll", ("Pianokvintett",), 4, 5),
    ("Amanda Maier", "Violinsonat h-moll", ("Violin och piano",), 4, 5),
    ("Alice Tegnér", "Sjung med oss, mamma!", ("Sång och piano",), 1, 2),
    ("Alice Tegnér", "Mors lilla Olle", ("Sång och piano", "Piano"), 1, 1),
    ("Emil Sjögren", "Novelletten op. 14", ("Piano",), 3, 4),
    ("Otto Olsson", "Advent", ("Orgel",), 3, 4),
    ("Gustaf Nordqvist", "Till havs", ("Manskör (TTBB)", "Sång och piano"), 2, 3),
    ("Traditionell", "Visor från Dalarna", ("Fiol", "Nyckelharpa"), 1, 3),
    ("Traditionell", "Svenska polskor", ("Fiol", "Nyckelharpa", "Dragspel"), 2, 4),
    ("Traditionell", "Nordiska julsånger", ("Piano", "Blandad kör (SATB)", "Gitarr"), 1, 2),
)

ARRANGERS = (
    "Gunnar Eriksson",
    "Robert Sund",
    "Anders Öhrwall",
    "Maria Lindqvist",
    "Per-Olof Nyström",
    "Karin Ahlgren",
    "Jonas Åkerlund",
    "Ingrid Sjöberg",
)

EDITION_KINDS = ("Urtextutgåva", "Studieutgåva", "Praktisk utgåva", "Med stämmor", "Körpartitur")

BOOKS: tuple[tuple[str, str], ...] = (
    ("Musikteori för nybörjare", "Lena Holmqvist"),
    ("Harmonilära i praktiken", "Sven-Erik Bäck"),
    ("Kontrapunkt – en grundkurs", "Ulla Fredriksson"),
    ("Svensk musikhistoria", "Anders Lönn"),
    ("Körledning i praktiken", "Eva Ström"),
    ("Gitarrskola, del 1", "Mats Bergström"),
    ("Gitarrskola, del 2", "Mats Bergström"),
    ("Pianoskola för vuxna", "Helena Wik"),
    ("Sibelius – ett liv i toner", "Kari Virtanen"),
    ("Jazzimprovisation steg för steg", "Nils Landgren"),
    ("Ackordlära för gitarr och piano", "Peter Nordahl"),
    ("Sångteknik för körsångare", "Birgitta Sjöstedt"),
    ("Bellman och hans tid", "Lars Lönnroth"),
    ("Evert Taube – poet och trubadur", "Kristina Lindqvist"),
    ("Gehörsträning för alla", "Johan Ahlin"),
    ("Notskrift och gravyr", "Margareta Ek"),
    ("Orkesterns instrument", "Henrik Sandberg"),
    ("Folkmusik i Norden", "Ale Möller"),
    ("Dirigering – grunderna", "Cecilia Rydinger"),
    ("Musikens psykologi", "Alf Gabrielsson"),
)

SOFTWARE: tuple[tuple[str, str, int, bool], ...] = (
    # (title, publisher, price in kronor, sold as code too)
    ("Dorico Pro 5", "Steinberg", 5995, True),
    ("Dorico Elements 5", "Steinberg", 1295, True),
    ("Cubase Pro 14", "Steinberg", 5795, True),
    ("Cubase Elements 14", "Steinberg", 995, True),
    ("Sibelius Ultimate, årslicens", "Avid", 2995, False),
    ("Ableton Live 12 Standard", "Ableton", 3995, True),
    ("Band-in-a-Box 2026", "PG Music", 1695, True),
    ("Auralia 5 – gehörsträning", "Rising Software", 995, False),
    ("Musition 5 – musikteori", "Rising Software", 995, False),
    ("Melodyne 5 studio", "Celemony", 6995, False),
    ("WaveLab Pro 12", "Steinberg", 5495, True),
    ("Notationsprogram för skolan, 30 licenser", "Notfabriken", 8995, False),
)

INSTRUMENTS: tuple[tuple[str, str, int, int, str, str], ...] = (
    # (title, instrumentation, price kr, weight g, size class, description)
    (
        "Yamaha C40 klassisk gitarr",
        "Gitarr",
        1295,
        3200,
        "large",
        "Prisvärd nybörjargitarr med nylonsträngar.",
    ),
    (
        "Hagström Viking semiakustisk gitarr",
        "Gitarr",
        8995,
        6500,
        "large",
        "Svensk design med tunn kropp och varm ton.",
    ),
    (
        "Yamaha FG800 akustisk gitarr",
        "Gitarr",
        2695,
        3600,
        "large",
        "Stålsträngad gitarr med massiv lock av gran.",
    ),
    (
        "Stentor Student II fiol 4/4",
        "Violin",
        1895,
        1800,
        "large",
        "Komplett med stråke, kolofonium och etui.",
    ),
    (
        "Gewa Allegro fiol 3/4",
        "Violin",
        3495,
        1800,
        "large",
        "Handgjord elevfiol för barn 10–12 år.",
    ),
    (
        "Gewa Ideale cello 4/4",
        "Cello",
        16900,
        9500,
        "oversize",
        "Levereras med mjuk väska och stråke.",
    ),
    (
        'Stentor Student viola 15"',
        "Viola",
        2995,
        2200,
        "large",
        "Robust elevviola med stråke och etui.",
    ),
    (
        "Yamaha P-145 digitalpiano",
        "Piano",
        5995,
        15000,
        "oversize",
        "88 graderade tangenter och pianoljud från Yamaha.",
    ),
    (
        "Roland FP-30X digitalpiano",
        "Piano",
        8995,
        16000,
        "oversize",
        "Bärbart digitalpiano med Bluetooth.",
    ),
    (
        "Kawai CN201 digitalpiano",
        "Piano",
        14900,
        38000,
        "oversize",
        "Möbelpiano med trätangentmekanik.",
    ),
    ("Yamaha YFL-212 tvärflöjt", "Flöjt", 7995, 1500, "small", "Elevflöjt med E-mekanik och etui."),
    (
        "Buffet Crampon E11 klarinett",
        "Klarinett",
        12900,
        2000,
        "small",
        "Klarinett i B av grenadill.",
    ),
    (
        "Jupiter JTR700 trumpet",
        "Trumpet",
        6495,
        2600,
        "large",
        "Lätt anspelad elevtrumpet med etui.",
    ),
    (
        "Yamaha YAS-280 altsaxofon",
        "Saxofon",
        14500,
        5200,
        "large",
        "Populär elevsaxofon med fodral.",
    ),
    ("Yamaha YSL-354 trombon", "Trombon", 9995, 5500, "large", "Tenortrombon för elever."),
    (
        "Sonor AQ2 trumset",
        "Trummor",
        11900,
        32000,
        "oversize",
        "Komplett trumset i lönn, utan cymbaler.",
    ),
    (
        "Hohner Bravo III 72 dragspel",
        "Dragspel",
        21900,
        8200,
        "large",
        "Pianodragspel med 72 basar, för elev och amatör.",
    ),
    (
        "Nyckelharpa, Sundsvallsmodell",
        "Nyckelharpa",
        24900,
        4500,
        "oversize",
        "Byggd för hand i Uppland.",
    ),
    (
        "Yamaha CP88 scenpiano",
        "Piano",
        34900,
        18600,
        "oversize",
        "Scenpiano för den professionella pianisten.",
    ),
    (
        "Korg B2 digitalpiano",
        "Piano",
        4995,
        11000,
        "oversize",
        "Enkelt digitalpiano med fullstora tangenter.",
    ),
    ("Levin LG-17 klassisk gitarr 3/4", "Gitarr", 1495, 2800, "large", "Barnstorlek för 8–11 år."),
    (
        "Roland TD-07KV elektroniskt trumset",
        "Trummor",
        9995,
        25000,
        "oversize",
        "Tyst övning med mesh-skinn.",
    ),
)

ACCESSORIES: tuple[tuple[str, int, int, str], ...] = (
    # (title, price kr, weight g, size class)
    ("Notställ, hopfällbart", 149, 1100, "small"),
    ("Notställ, orkestermodell", 695, 4200, "large"),
    ("Metronom Wittner Taktell", 449, 250, "small"),
    ("Stämapparat Korg TM-60", 299, 120, "small"),
    ("Klämstämapparat för gitarr", 129, 40, "thin"),
    ("Gitarrsträngar D'Addario EJ45, nylon", 119, 40, "thin"),
    ("Gitarrsträngar Ernie Ball Regular Slinky", 99, 30, "thin"),
    ("Fiolsträngar Thomastik Dominant, set", 749, 40, "thin"),
    ("Cellosträngar Larsen Original, set", 1495, 60, "thin"),
    ("Kolofonium Pirastro Goldflex", 89, 30, "thin"),
    ("Klarinettrör Vandoren 3, 10-pack", 349, 50, "thin"),
    ("Saxofonrör Rico 2,5, 10-pack", 279, 50, "thin"),
    ("Kapodaster Kyser", 199, 60, "thin"),
    ("Gitarrplektrum, 12-pack", 49, 20, "thin"),
    ("Gigbag för gitarr, vadderad", 495, 1400, "large"),
    ("Hårt etui för fiol 4/4", 895, 2400, "large"),
    ("Pianopall, justerbar", 995, 7000, "large"),
    ("Hörselskydd för musiker, ER20", 199, 30, "thin"),
    ("Notstållampa med LED", 249, 300, "small"),
    ("Notpärm för kör, svart", 129, 250, "thin"),
    ("Notblock A4, 12 system", 59, 200, "thin"),
    ("Axelstöd för fiol Kun Original", 295, 150, "small"),
    ("Hörlurar Audio-Technica ATH-M40x", 1295, 600, "small"),
    ("Kabel för instrument, 6 m", 179, 300, "small"),
)

PRICE_STEPS_NOTER = (89, 99, 119, 129, 149, 169, 179, 199, 229, 249, 279, 299, 349, 395, 449, 495)
PRICE_STEPS_DOWNLOAD = (39, 49, 59, 69, 79, 99, 119, 149)
PRICE_STEPS_BOOKS = (149, 179, 199, 229, 249, 279, 299, 349, 395, 449)

#: Share of each generated product kind: (category slug, generator name, weight).
MIX: tuple[tuple[str, str, int], ...] = (
    ("noter", "sheet_music", 46),
    ("noter", "sheet_music_download", 14),
    ("bocker", "book", 12),
    ("programvara", "software", 7),
    ("instrument", "instrument", 9),
    ("tillbehor", "accessory", 12),
)

CATEGORY_CODES = {
    "noter": "NOT",
    "bocker": "BOK",
    "programvara": "PRG",
    "instrument": "INS",
    "tillbehor": "TIL",
}

#: Told apart when an item comes round again (a second colour, another binding …).
INSTRUMENT_VARIANTS = ("svart", "natur", "vit", "röd", "sunburst", "blå")
ACCESSORY_VARIANTS = ("svart", "blå", "röd", "2-pack", "grön", "vit")
BOOK_VARIANTS = ("e-bok", "inbunden", "pocket", "ny upplaga")
SOFTWARE_VARIANTS = ("skollicens", "uppgradering", "utbildningsversion", "fleranvändarlicens")

T = TypeVar("T")


class _Deck(Generic[T]):
    """Deals items in a shuffled order, reshuffling after each round; tells the round."""

    def __init__(self, rng: random.Random, items: Sequence[T]) -> None:
        self._rng = rng
        self._items = list(items)
        self._order: list[T] = []
        self.round = -1

    def deal(self) -> tuple[T, int]:
        if not self._order:
            self._order = list(self._items)
            self._rng.shuffle(self._order)
            self.round += 1
        return self._order.pop(), self.round


def _variant(labels: Sequence[str], round_: int) -> str | None:
    if round_ == 0:
        return None
    label = labels[(round_ - 1) % len(labels)]
    extra = (round_ - 1) // len(labels)
    return label if extra == 0 else f"{label}, utgåva {extra + 1}"


# --------------------------------------------------------------------------- generators


def _isbn13(rng: random.Random) -> str:
    body = "97891" + "".join(str(rng.randint(0, 9)) for _ in range(7))
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    check = (10 - total % 10) % 10
    return f"{body[:3]}-{body[3:5]}-{body[5:9]}-{body[9:12]}-{check}"


def _stock(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.08:
        return 0
    if roll < 0.22:
        return rng.randint(1, 3)
    return rng.randint(4, 60)


def _difficulty_text(level: int) -> str:
    return {
        1: "Passar nybörjare.",
        2: "För den som spelat något år.",
        3: "Medelsvår.",
        4: "För den avancerade amatören.",
        5: "Professionell svårighetsgrad.",
    }[level]


def _lower_first(text: str) -> str:
    """ "Blandad kör (SATB)" → "blandad kör (SATB)"; keeps acronyms."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


class _Generator:
    """Makes product field dicts of each kind from one seeded random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        combos = [(work, instr) for work in WORKS for instr in work[2]]
        self.sheet_music_deck = _Deck(rng, combos)
        self.download_deck = _Deck(rng, combos)
        self.book_deck = _Deck(rng, BOOKS)
        self.software_deck = _Deck(rng, SOFTWARE)
        self.instrument_deck = _Deck(rng, INSTRUMENTS)
        self.accessory_deck = _Deck(rng, ACCESSORIES)

    def make(self, kind: str) -> dict[str, Any]:
        method = getattr(self, kind)
        fields: dict[str, Any] = method()
        return fields

    def sheet_music(self, digital: bool = False) -> dict[str, Any]:
        rng = self.rng
        deck = self.download_deck if digital else self.sheet_music_deck
        (composer, work, instrumentations, low, high), instrumentation = deck.deal()[0]
        round_ = deck.round
        traditional = composer == "Traditionell"
        arranged = instrumentation != instrumentations[0] or round_ > 0
        arranger = None
        if arranged and not traditional:
            arranger = ARRANGERS[(round_ + rng.randrange(len(ARRANGERS))) % len(ARRANGERS)]
        publisher, prefix = rng.choice(PUBLISHERS)
        difficulty = rng.randint(low, high)
        edition_kind = rng.choice(EDITION_KINDS)
        title = f"{work} – {_lower_first(instrumentation)}"
        if arranger:
            title = f"{work} (arr. {arranger.split()[-1]}) – {_lower_first(instrumentation)}"
        if round_ >= len(ARRANGERS) or (traditional and round_ > 0):
            title += f", {edition_kind.lower()}"
        if digital:
            title += " (PDF)"
        description = (
            f"{work} av {composer if not traditional else 'okänd upphovsperson'} "
            f"i {edition_kind.lower()} för {_lower_first(instrumentation)}. "
            f"{_difficulty_text(difficulty)} "
            + (f"Arrangemang av {arranger}. " if arranger else "")
            + f"Utgiven av {publisher}."
            + (" Levereras som PDF att skriva ut." if digital else "")
        )
        pages = rng.randint(4, 64) if rng.random() < 0.75 else rng.randint(65, 220)
        weight = 30 + pages * 5
        return {
            "title": title,
            "description": description,
            "kind": ProductKind.DOWNLOAD.value if digital else ProductKind.PHYSICAL.value,
            "price_ore": rng.choice(PRICE_STEPS_DOWNLOAD if digital else PRICE_STEPS_NOTER) * 100,
            "vat_rate_bp": int(VatRate.REDUCED),
            "weight_g": 0 if digital else weight,
            "size_class": (
                SizeClass.THIN.value if digital or pages <= 64 else SizeClass.SMALL.value
            ),
            "composer": None if traditional else composer,
            "arranger": arranger,
            "instrumentation": instrumentation,
            "difficulty": difficulty,
            "publisher": publisher,
            "edition_number": f"{prefix} {rng.randint(100, 99999)}",
            "on_hand": None if digital else _stock(rng),
        }

    def sheet_music_download(self) -> dict[str, Any]:
        return self.sheet_music(digital=True)

    def book(self) -> dict[str, Any]:
        rng = self.rng
        (title, author), round_ = self.book_deck.deal()
        variant = _variant(BOOK_VARIANTS, round_)
        ebook = variant == "e-bok"
        if variant:
            title = f"{title} ({variant})"
        publisher = rng.choice(
            ("Gehrmans Musikförlag", "Natur & Kultur", "Bonniers", "Notfabriken")
        )
        pages = rng.randint(96, 480)
        return {
            "title": title,
            "description": (
                f"{title} av {author}. {pages} sidor, utgiven av {publisher}. "
                "En bok för både studier och nöjesläsning."
            ),
            "kind": ProductKind.DOWNLOAD.value if ebook else ProductKind.PHYSICAL.value,
            "price_ore": rng.choice(PRICE_STEPS_BOOKS) * 100,
            "vat_rate_bp": int(VatRate.REDUCED),
            "weight_g": 0 if ebook else 150 + pages * 2,
            "size_class": SizeClass.SMALL.value,
            "author": author,
            "publisher": publisher,
            "isbn": _isbn13(rng),
            "on_hand": None if ebook else _stock(rng),
        }

    def software(self) -> dict[str, Any]:
        rng = self.rng
        (title, publisher, price_kr, as_code), round_ = self.software_deck.deal()
        code = as_code and rng.random() < 0.5
        variant = _variant(SOFTWARE_VARIANTS, round_)
        if variant:
            title = f"{title}, {variant}"
            price_kr = price_kr * 6 // 10 if variant != "fleranvändarlicens" else price_kr * 3
            price_kr = max(495, price_kr - price_kr % 100 + 95)
        kind = ProductKind.SOFTWARE_CODE if code else ProductKind.SOFTWARE_BOXED
        return {
            "title": f"{title} – {'nedladdningskod' if code else 'box'}",
            "description": (
                f"{title} från {publisher}. "
                + (
                    "Licenskoden skickas med e-post direkt när betalningen är klar."
                    if code
                    else "Levereras i förseglad förpackning med installationskod."
                )
            ),
            "kind": kind.value,
            "price_ore": price_kr * 100,
            "vat_rate_bp": int(VatRate.STANDARD),
            "weight_g": 0 if code else rng.randint(250, 600),
            "size_class": SizeClass.SMALL.value,
            "sealed": not code,
            "publisher": publisher,
            "on_hand": None if code else _stock(rng),
        }

    def instrument(self) -> dict[str, Any]:
        (title, instrumentation, price_kr, weight, size, text), round_ = self.instrument_deck.deal()
        variant = _variant(INSTRUMENT_VARIANTS, round_)
        return {
            "title": f"{title}, {variant}" if variant else title,
            "description": f"{text} Provspelad och justerad i vår verkstad före leverans.",
            "kind": ProductKind.PHYSICAL.value,
            "price_ore": price_kr * 100,
            "vat_rate_bp": int(VatRate.STANDARD),
            "weight_g": weight,
            "size_class": size,
            "instrumentation": instrumentation,
            "on_hand": _stock(self.rng) // 4,
        }

    def accessory(self) -> dict[str, Any]:
        (title, price_kr, weight, size), round_ = self.accessory_deck.deal()
        variant = _variant(ACCESSORY_VARIANTS, round_)
        return {
            "title": f"{title}, {variant}" if variant else title,
            "description": f"{title}. Ett självklart tillbehör för övning, lektion och konsert.",
            "kind": ProductKind.PHYSICAL.value,
            "price_ore": price_kr * 100,
            "vat_rate_bp": int(VatRate.STANDARD),
            "weight_g": weight,
            "size_class": size,
            "on_hand": _stock(self.rng),
        }


_PRODUCT_DEFAULTS: dict[str, Any] = {
    "description": "",
    "sealed": False,
    "composer": None,
    "arranger": None,
    "instrumentation": None,
    "difficulty": None,
    "publisher": None,
    "edition_number": None,
    "author": None,
    "isbn": None,
    "active": True,
}


def generate_products(n: int, seed: int, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """``n`` realistic products as row dicts, the same for the same ``seed``.

    Each row has the ``Product`` columns (without ``id`` and ``category_id``)
    plus ``category_slug`` and ``on_hand`` (``None``: no stock row, for
    downloads and codes). Every category except Kurser gets products once
    ``n >= 6``. SKUs and slugs are unique per ``(seed, index)``. Pass the rows
    to :func:`insert_products`.
    """
    rng = random.Random(seed)  # nosec B311  # repeatable demo data, not a secret
    generator = _Generator(rng)
    moment = now or clock.utcnow()
    kinds = [name for _, name, _ in MIX]
    weights = [weight for _, _, weight in MIX]
    category_of = {name: slug for slug, name, _ in MIX}
    rows: list[dict[str, Any]] = []
    for index in range(n):
        kind = kinds[index] if index < len(kinds) else rng.choices(kinds, weights)[0]
        category = category_of[kind]
        row = {**_PRODUCT_DEFAULTS, **generator.make(kind)}
        sku = f"{CATEGORY_CODES[category]}-{seed}-{index + 1:05d}"
        row["sku"] = sku
        row["slug"] = f"{slugify(row['title'])}-{sku.lower()}"
        row["sort_title"] = sort_title_for(row["title"])
        row["search_text"] = search_text_from(row)
        row["category_slug"] = category
        row["created_at"] = moment - timedelta(minutes=index * 97 + rng.randint(0, 90))
        rows.append(row)
    return rows


def insert_products(rows: list[dict[str, Any]]) -> int:
    """Bulk-insert rows from :func:`generate_products` with their stock; commits.

    Creates the standard categories when missing. Returns the number of products.
    """
    if not rows:
        return 0
    categories = ensure_standard_categories()
    product_rows = []
    for row in rows:
        values = {k: v for k, v in row.items() if k not in ("category_slug", "on_hand")}
        values["category_id"] = categories[row["category_slug"]].id
        product_rows.append(values)
    db.session.execute(insert(Product.__table__), product_rows)
    id_of: dict[str, int] = {}
    skus = [row["sku"] for row in rows]
    for start in range(0, len(skus), 1000):
        chunk = skus[start : start + 1000]
        query = select(Product.sku, Product.id).where(Product.sku.in_(chunk))
        id_of.update((sku, product_id) for sku, product_id in db.session.execute(query))
    stock_rows = [
        {"product_id": id_of[row["sku"]], "on_hand": row["on_hand"], "reserved": 0}
        for row in rows
        if row["on_hand"] is not None
    ]
    if stock_rows:
        db.session.execute(insert(StockLevel.__table__), stock_rows)
    db.session.commit()
    return len(rows)


# --------------------------------------------------------------------------- people


def _create_customers(now: datetime) -> None:
    consumer, organisation, staff, teacher = DEMO_LOGINS
    if customers.find_by_email(consumer.email) is None:
        person = Customer(
            email=customers.normalise_email(consumer.email),
            name="Karin Lindberg",
            phone="070-123 45 67",
            password_hash=customers.hash_password(consumer.password),
            kind="consumer",
            birth_date=date(1986, 4, 12),
            adult_confirmed_at=now,
            created_at=now,
            pseudonym=customers.new_pseudonym(),
            language="sv",
        )
        person.addresses = [
            Address(
                kind="delivery",
                name="Karin Lindberg",
                street="Storgatan 5",
                postcode="411 38",
                city="Göteborg",
            )
        ]
        db.session.add(person)
    if customers.find_by_email(organisation.email) is None:
        school = Customer(
            email=customers.normalise_email(organisation.email),
            name="Anders Berg",
            phone="08-555 123 00",
            password_hash=customers.hash_password(organisation.password),
            kind="organisation",
            organisation_name="Norrby kulturskola",
            organisation_number=normalise_org_number(DEMO_ORGANISATION_NUMBER),
            adult_confirmed_at=now,
            created_at=now,
            pseudonym=customers.new_pseudonym(),
            language="sv",
        )
        school.addresses = [
            Address(
                kind="billing",
                name="Norrby kulturskola",
                street="Skolvägen 2",
                postcode="123 45",
                city="Norrby",
            )
        ]
        db.session.add(school)
    db.session.commit()
    if customers.find_by_email(staff.email) is None:
        customers.create_staff_member(
            email=staff.email,
            name="Petra Personal",
            password=staff.password,
            roles=[Role.STAFF, Role.FINANCE, Role.ADMIN],
            now=now,
        )
    if customers.find_by_email(teacher.email) is None:
        customers.create_staff_member(
            email=teacher.email,
            name="Lena Lärare",
            password=teacher.password,
            roles=[Role.TEACHER],
            now=now,
        )


# --------------------------------------------------------------------------- courses

#: (title, instrument, place or "" for online, days from today to the start, sessions,
#:  fee in kronor, seats, min age, max age, auto-accept)
DEMO_COURSES: tuple[tuple[str, str, str, int, int, int, int, int | None, int | None, bool], ...] = (
    ("Fiol för nybörjare", "Fiol", "Göteborg", 35, 6, 1800, 10, 7, 12, False),
    ("Gitarr: ackordspel", "Gitarr", "Stockholm", 20, 4, 1200, 8, 12, None, True),
    ("Körsång för vuxna", "Sång", "Malmö", 50, 8, 2400, 20, 18, None, False),
    ("Notläsning online", "Piano", "", 10, 3, 600, 30, None, None, True),
)


def _create_courses(now: datetime) -> None:
    """A few upcoming courses (category Kurser, T9), taught by the demo teacher."""
    if db.session.scalar(select(func.count(Course.id))):
        return
    teacher = customers.find_by_email(DEMO_LOGINS[3].email)
    today = clock.local_date(now)
    for index, row in enumerate(DEMO_COURSES):
        title, instrument, place, days, count, fee_kr, seats, min_age, max_age, auto = row
        course = Course(
            slug=slugify(title),
            title=title,
            description=f"{title}: {count} träffar, två timmar var.",
            teacher_id=teacher.id if teacher is not None and index != 2 else None,
            teacher_name=teacher.name if teacher is not None and index != 2 else "Per Körledare",
            place=place,
            online=not place,
            instrument=instrument,
            fee_ore=fee_kr * 100,
            vat_rate_bp=0,
            seats=seats,
            min_age=min_age,
            max_age=max_age,
            auto_accept=auto,
            created_at=now,
        )
        first = today + timedelta(days=days)
        for week in range(count):
            day = first + timedelta(days=7 * week)
            starts = datetime(day.year, day.month, day.day, 17, 0, tzinfo=clock.STOCKHOLM)
            course.sessions.append(
                CourseSession(
                    starts_at=starts.astimezone(UTC),
                    ends_at=(starts + timedelta(hours=2)).astimezone(UTC),
                )
            )
        db.session.add(course)
    db.session.commit()


# --------------------------------------------------------------------------- loading


def product_count() -> int:
    return db.session.scalar(select(func.count(Product.id))) or 0


def load_demo(now: datetime, count: int = DEMO_PRODUCT_COUNT, seed: int = DEMO_SEED) -> int:
    """Fill the catalogue and create the demo logins; returns the number of products."""
    ensure_standard_categories()
    loaded = insert_products(generate_products(count, seed, now=now))
    seed_digital_goods(now)
    _create_customers(now)
    _create_courses(now)
    return loaded


@demo_cli.command("load")
@click.option(
    "--if-empty", is_flag=True, help="Do nothing (successfully) when products already exist."
)
def load_command(if_empty: bool) -> None:
    """Load a demo catalogue and demo logins into an empty database."""
    existing = product_count()
    if existing:
        if if_empty:
            click.echo(f"The database already has {existing} products; no demo data loaded.")
            return
        raise click.ClickException(
            f"The database already has {existing} products. "
            "Demo data goes into an empty database only (use --if-empty to skip quietly)."
        )
    loaded = load_demo(clock.utcnow())
    click.echo(f"Loaded {loaded} demo products in {len(CATEGORY_CODES)} categories.")
    click.echo("Demo logins (local use only):")
    for login in DEMO_LOGINS:
        click.echo(f"  {login.role:<34} {login.email:<22} {login.password}")

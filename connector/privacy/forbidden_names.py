"""Forbidden names: the vocabulary that refuses a column or field naming forbidden data.

The first line of defence of DESIGN §6: when a mapping loads, a source column or Salesforce
field whose name denotes a national identification number (BSN, onderwijsnummer, the ECK iD
derived from them) or a special category of personal data (GDPR art. 9, criminal data art. 10)
is refused, whatever the mapping says. The second line, the value check, is in
:mod:`connector.privacy.identifiers`.

Names are split into lower-case tokens (snake_case, kebab-case, camelCase, spaces, ``__c``), and
each :class:`Term` says how it matches, because Dutch glues words together (``functiebeperking``,
``geloofsovertuiging``) while short English words are common inside harmless names (``union``
in ``Campaign_Union_Id__c``, ``diet`` in ``diet_coke``).

Decisions (dutch-rules-and-formats §2.2, §2.5; GDPR art. 4(14), 9, recital 51):

* **Nationality** (``nationaliteit``) and country of birth are not special categories; racial or
  ethnic origin is (``etniciteit``, ``afkomst``, ``migratieachtergrond``). A mapping may send
  nationality only for a purpose that needs it, like any other field.
* **Photos** (``pasfoto``, ``photo``) are biometric data only when processed by specific technical
  means that allow unique identification (recital 51); a CRM shows a picture and does not, so a
  photo is not refused by name. Face recognition, fingerprints and other biometric templates are.
* **Identity-document numbers** (``paspoortnummer``, ``documentnummer``, ``id_kaart``,
  ``rijbewijsnummer``) are refused like the BSN: a number that identifies a person in every
  register (GDPR art. 87), on a document that also carries the BSN (UAVG art. 46), and that no
  recruitment purpose needs (art. 5(1)(c)). ``rijbewijs`` alone (a licence category some
  programmes ask for) and portfolios called ``loopbaanpaspoort`` pass.
* **Pupil care and support needs** (``leerlingzorg``, ``ondersteuningsbehoefte``,
  ``extra_ondersteuning``) in Dutch vocational education record a disability or health need
  (passend onderwijs), so they are health data (art. 9).

Names are normalised before they are matched (:func:`normalise_name`): compatibility forms and
accents go (NFKD, combining marks dropped: ``gelóóf``, fullwidth ``ｇｅｌｏｏｆ``), invisible format
characters go (a zero-width space or soft hyphen inside ``bs\u200bn``), and Cyrillic and Greek
letters that look like Latin ones become those (``gelоof`` with a Cyrillic о, ``ВSN``). The
look-alike table (:data:`_CONFUSABLES`) covers the letters the vocabulary is written in, from
Unicode's confusables list (UTS #39); a library for it (``confusable-homoglyphs``) would bring a
dependency and a megabyte of data for these few dozen letters.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Kind = Literal["name", "exact", "stem", "infix", "edge", "glued", "pair"]
"""How a term matches a name split into tokens (``Leerling_ECK_iD`` → leerling, eck, i, d):

* ``name``: the whole name is the term (``race``; the tokens joined);
* ``exact``: one token is the term (``vog``, ``eck``: too short to be a stem);
* ``stem``: a token starts with it (``geloof`` → ``geloofsovertuiging``);
* ``infix``: a token contains it (``beperking`` → ``functiebeperking``);
* ``edge``: a word (split at non-letters) starts or ends with it (``StudentBSN``, ``BSNnummer``);
* ``glued``: a word contains it (``leerlingonderwijsnummer``);
* ``pair``: two tokens in a row, written with a space (``citizen id``).

A single-word term also matches a name whose tokens joined are the term (``trade_union``).
"""

BSN = (
    "a BSN or another national identification number may never be processed by the connector "
    "(GDPR art. 87, UAVG art. 46; consent cannot change it)"
)
ONDERWIJSNUMMER = (
    "the onderwijsnummer is DUO's persoonsgebonden nummer in place of the BSN and is never synced "
    "(GDPR art. 87, UAVG art. 46)"
)
ECK_ID = (
    "the ECK iD is a pseudonym derived from the BSN or onderwijsnummer for the educational-content "
    "chain (Edu-K) only, and is never synced (GDPR art. 87, UAVG art. 46)"
)
ID_DOCUMENT = (
    "an identity-document number (passport, ID card, driving licence) identifies a person in "
    "every register and its document carries the BSN; no CRM purpose needs it, so it is never "
    "synced (GDPR art. 87, UAVG art. 46, art. 5(1)(c))"
)
HEALTH = (
    "health data (incl. disability, pregnancy, medication, pupil care and support needs) is a "
    "special category (GDPR art. 9)"
)
ETHNIC = "racial or ethnic origin is a special category (GDPR art. 9) and is not synced"
RELIGION = "religious or philosophical belief is a special category (GDPR art. 9) and is not synced"
POLITICAL = "political opinion is a special category (GDPR art. 9) and is not synced"
UNION = "trade-union membership is a special category (GDPR art. 9) and is not synced"
SEXUAL = "sex life or sexual orientation is a special category (GDPR art. 9) and is not synced"
BIOMETRIC = "biometric and genetic data are special categories (GDPR art. 9) and are not synced"
CRIMINAL = "criminal-conviction data (GDPR art. 10), incl. a VOG, is not synced"


@dataclass(frozen=True)
class Term:
    """One word of the vocabulary: its text, how it matches (:data:`Kind`) and the reason."""

    text: str
    kind: Kind
    reason: str


def _terms(
    reason: str,
    *,
    name: str = "",
    exact: str = "",
    stem: str = "",
    infix: str = "",
    edge: str = "",
    glued: str = "",
    pair: str = "",
) -> list[Term]:
    """Terms of one reason, each kind given as comma-separated words."""
    kinds: dict[Kind, str] = {
        "name": name,
        "exact": exact,
        "stem": stem,
        "infix": infix,
        "edge": edge,
        "glued": glued,
        "pair": pair,
    }
    return [Term(t, kind, reason) for kind, texts in kinds.items() for t in texts.split(",") if t]


TERMS: tuple[Term, ...] = tuple(
    _terms(BSN, edge="bsn", glued="burgerservicenummer,sofinummer,persoonsnummer")
    + _terms(BSN, exact="sofi,ssn", stem="socialsecurity,nationalid,citizenid")
    + _terms(BSN, pair="social security,national id,citizen id,citizen service,citizen number")
    + _terms(BSN, pair="persoons nummer")
    + _terms(ONDERWIJSNUMMER, glued="onderwijsnummer", exact="pgn")
    + _terms(ONDERWIJSNUMMER, stem="persoonsgebonden")
    + _terms(ECK_ID, exact="eck", stem="eckid,ketenid", pair="keten id")
    + _terms(
        ID_DOCUMENT,
        exact="paspoort,passport",
        glued="paspoortnummer,passportnumber,documentnummer,rijbewijsnummer",
        stem="idkaart,identiteitskaart,identiteitsbewijs,identitycard",
        pair="id kaart,identity card",
    )
    + _terms(
        HEALTH,
        stem="gezondheid,health,medisch,medical,medicatie,medication,medicijn,medicine,"
        "allergy,dieet,dietary,disability,disabilities,zorgbehoefte,diagnose,diagnosis,"
        "illness,dyslexia,dyscalculia,pregnant,pregnancy,autis,psychisch",
        infix="allergie,beperking,handicap,ziekte,dyslexie,dyscalculie,zwanger,"
        "leerlingzorg,ondersteuningsbehoefte,begeleidingsbehoefte",
        exact="adhd,sick",
        name="diet",
        pair="extra ondersteuning",
    )
    + _terms(
        ETHNIC,
        stem="etniciteit,etnisch,ethnic,racial,migratieachtergrond,allochto,migrationbackground,"
        "skincolour,skincolor,skintone",
        exact="afkomst",
        # Skin colour reveals racial or ethnic origin (art. 9(1)); glued: leerlinghuidskleur.
        infix="huidskleur",
        name="race,ras",
        pair="migration background,migratie achtergrond,skin colour,skin color,skin tone",
    )
    + _terms(
        RELIGION,
        stem="religie,religion,religious,geloof,levensovertuiging,levensbeschouw,"
        "kerk,godsdienst,faith,denominati",
        name="belief",
    )
    + _terms(POLITICAL, stem="politiek,political,politics")
    + _terms(UNION, stem="vakbond,tradeunion", name="union", pair="trade union")
    + _terms(SEXUAL, stem="seksu,sexual", infix="geaardheid", name="orientation")
    + _terms(
        BIOMETRIC,
        stem="biometri,fingerprint,genetisch,genetic",
        infix="vingerafdruk,gezichtsherkenning",
        exact="dna",
        pair="facial recognition",
    )
    + _terms(
        CRIMINAL,
        stem="criminal,justiti,veroordeling,conviction,strafrecht,delict",
        infix="strafblad",
        exact="vog",
        pair="omtrent gedrag",
    )
)

# Cyrillic and Greek letters that look like the Latin letters the vocabulary is written in
# (UTS #39 confusables.txt, and the dotless i and script g), lower and upper case.
_CONFUSABLES = str.maketrans(
    {
        **dict(zip("асԁеһіјӏорԛѕԝхуҝк", "acdehijlopqswxykk", strict=True)),
        **dict(zip("АВЕНІЈКМОРСЅТХУӀԚԜ", "ABEHIJKMOPCSTXYIQW", strict=True)),
        **dict(zip("αικνορτυχγη", "aikvoptuxyn", strict=True)),
        **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),
        "ı": "i",
        "ɡ": "g",
    }
)


def normalise_name(name: str) -> str:
    """``gelóóf``, ``gelоof`` (Cyrillic о), ``bs\u200bn`` → ``geloof``, ``geloof``, ``bsn``.

    NFKD with combining marks and format characters dropped, then look-alikes made Latin
    (:data:`_CONFUSABLES`); an ASCII name is returned as it is.
    """
    if name.isascii():
        return name
    decomposed = unicodedata.normalize("NFKD", name)
    kept = "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Cf"))
    return kept.translate(_CONFUSABLES)


_TOKEN = re.compile(r"[A-Z]?[a-zà-ÿ]+|[A-Z]+(?![a-z])|\d+")
_WORDS = re.compile(r"[^0-9a-zà-ÿ]+")


def tokens(name: str) -> list[str]:
    """``Leerling_ECK_iD__c`` → ``['leerling', 'eck', 'i', 'd']`` (``__c`` dropped)."""
    name = name.removesuffix("__c").removesuffix("__C")
    return [t.lower() for t in _TOKEN.findall(name)]


class Vocabulary:
    """The terms compiled for lookup; :meth:`reason` tells why a name is refused."""

    def __init__(self, terms: tuple[Term, ...]):
        self.terms = terms
        by_kind: dict[str, list[Term]] = {}
        for term in terms:
            by_kind.setdefault(term.kind, []).append(term)
        self._whole = {t.text: t.reason for t in terms if t.kind != "pair"}
        self._exact = {t.text: t.reason for t in by_kind.get("exact", [])}
        self._stems = [(t.text, t.reason) for t in by_kind.get("stem", [])]
        self._infix = [(t.text, t.reason) for t in by_kind.get("infix", [])]
        self._edge = [(t.text, t.reason) for t in by_kind.get("edge", [])]
        self._glued = [(t.text, t.reason) for t in by_kind.get("glued", [])]
        self._pairs = {tuple(t.text.split()): t.reason for t in by_kind.get("pair", [])}

    def without(self, text: str) -> Vocabulary:
        """This vocabulary less the term ``text`` (for tests: each term must be needed)."""
        return Vocabulary(tuple(t for t in self.terms if t.text != text))

    def reason(self, name: str) -> str | None:
        """Why ``name`` (a column or field) is refused, or ``None``; see :func:`normalise_name`."""
        name = normalise_name(name)
        toks = tokens(name)
        if not toks:
            return None
        for word in _WORDS.split(name.lower()):
            word = word.removesuffix("__c")
            for edge, why in self._edge:
                # Only at a word's edge: "bsn" inside a word is a coincidence ("jobsnumber").
                if word.startswith(edge) or word.endswith(edge):
                    return why
            for glued, why in self._glued:
                if glued in word:
                    return why
        joined = "".join(toks)
        if joined in self._whole:
            return self._whole[joined]
        for tok in toks:
            if tok in self._exact:
                return self._exact[tok]
            for stem, why in self._stems:
                if tok.startswith(stem):
                    return why
            for infix, why in self._infix:
                if infix in tok:
                    return why
        for pair in itertools.pairwise(toks):
            if pair in self._pairs:
                return self._pairs[pair]
        return None


VOCABULARY = Vocabulary(TERMS)


def looks_forbidden(name: str) -> str | None:
    """A reason when a column or field name names a forbidden identifier or special category."""
    return VOCABULARY.reason(name)

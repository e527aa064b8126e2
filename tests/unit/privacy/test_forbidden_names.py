"""The forbidden-names vocabulary: one test per word, by the article that forbids it.

Every term of ``TERMS`` is listed here with names it must refuse, as a source column and as a
Salesforce field. The first name of each row is refused *only because of that term*: the
vocabulary without the term lets it pass, so removing a word from the vocabulary fails a test,
and a word added without a row here fails ``test_every_term_has_a_row``.
"""

from __future__ import annotations

import pytest

from connector.privacy.forbidden_names import TERMS, VOCABULARY, looks_forbidden, tokens

ART_87 = "GDPR art. 87, UAVG art. 46"  # national identification numbers
ART_9 = "GDPR art. 9"
ART_10 = "GDPR art. 10"

# term → (article in the reason, names that term refuses; the first one only because of it)
NATIONAL_IDS = {
    "bsn": ["StudentBSN", "bsn", "BSN_nummer", "Student_BSN__c", "BSNnummer"],
    "burgerservicenummer": ["leerlingburgerservicenummer", "Burgerservicenummer__c"],
    "sofinummer": ["oudsofinummer", "sofinummer"],
    "persoonsnummer": ["persoonsnummer", "Persoonsnummer__c", "leerlingpersoonsnummer"],
    "sofi": ["sofi_nr", "sofi_nummer"],
    "ssn": ["ssn", "Student_SSN__c"],
    "socialsecurity": ["socialsecuritynumber"],
    "nationalid": ["nationalidnumber", "NationalID"],
    "citizenid": ["citizenid"],
    "social security": ["social_security_number", "SocialSecurityNo__c"],
    "national id": ["national_id_number"],
    "citizen id": ["student_citizen_id", "citizen_id", "CitizenId__c", "Citizen_ID"],
    "citizen service": ["citizen_service_number"],
    "citizen number": ["citizen_number"],
    "persoons nummer": ["oud_persoons_nummer", "persoons_nummer"],
    "onderwijsnummer": ["leerlingonderwijsnummer", "onderwijsnummer", "Onderwijsnummer__c"],
    "pgn": ["pgn", "PGN__c"],
    "persoonsgebonden": ["persoonsgebonden_nummer", "persoonsgebondennummer"],
    "eck": ["Leerling_ECK_iD__c", "eck_id", "eckId", "ECK_iD", "ECK"],
    "eckid": ["eckid", "ECKID", "Eckid__c"],
    "ketenid": ["ketenid", "Ketenid__c"],
    "keten id": ["leerling_keten_id", "keten_id", "KetenId"],
}
HEALTH = {
    "gezondheid": ["gezondheid", "gezondheidsverklaring"],
    "health": ["health", "mental_health_notes", "Health__c"],
    "medisch": ["medisch", "medischeGegevens"],
    "medical": ["medical_notes"],
    "medicatie": ["medicatie", "Medicatie__c"],
    "medication": ["medication"],
    "medicijn": ["medicijnen", "medicijn_gebruik"],
    "medicine": ["medicines"],
    "allergy": ["allergy"],
    "allergie": ["voedselallergie", "allergieën", "Allergies__c", "allergie"],
    "dieet": ["dieetwensen", "dieet"],
    "dietary": ["dietary_requirements"],
    "diet": ["diet"],
    "disability": ["disability", "Disability_Type__c"],
    "disabilities": ["disabilities"],
    "zorgbehoefte": ["zorgbehoefte"],
    "diagnose": ["diagnose"],
    "diagnosis": ["diagnosis"],
    "illness": ["illness"],
    "sick": ["sick_leave"],
    "dyslexia": ["dyslexia"],
    "dyscalculia": ["dyscalculia"],
    "dyslexie": ["Leerling_Dyslexie", "dyslexie", "heeftDyslexie__c", "dyslexieverklaring"],
    "dyscalculie": ["dyscalculie"],
    "pregnant": ["pregnant"],
    "pregnancy": ["pregnancy"],
    "zwanger": ["zwanger", "zwangerschap", "Zwangerschapsverlof__c"],
    "autis": ["autisme", "autism", "autistisch"],
    "adhd": ["adhd", "ADHD__c"],
    "psychisch": ["psychische_klachten"],
    "beperking": ["beperking", "functiebeperking", "Leerling_Beperking__c"],
    "handicap": ["handicap", "lichamelijke_handicap"],
    "ziekte": ["ziekte", "ziekteverzuim", "chronischeziekte"],
}
ETHNIC = {
    "etniciteit": ["etniciteit"],
    "etnisch": ["etnische_achtergrond"],
    "ethnic": ["Ethnicity__c", "ethnic_origin"],
    "racial": ["racial_origin"],
    "migratieachtergrond": ["migratieachtergrond"],
    "allochto": ["allochtoon", "allochtone_leerling"],
    "afkomst": ["afkomst", "etnische_afkomst"],
    "race": ["race"],
    "ras": ["ras"],
}
RELIGION = {
    "religie": ["religie", "religieuze_voorkeur", "Religieuze_voorkeur"],
    "religion": ["religion"],
    "religious": ["religious_belief"],
    "geloof": ["geloofsovertuiging", "geloof"],
    "levensovertuiging": ["levensovertuiging"],
    "levensbeschouw": ["levensbeschouwing"],
    "kerkgenootschap": ["kerkgenootschap", "Kerkgenootschap__c"],
    "godsdienst": ["godsdienst"],
    "belief": ["belief"],
}
POLITICAL = {
    "politiek": ["politieke_voorkeur", "politiek"],
    "political": ["political_party"],
    "politics": ["politics"],
}
UNION = {
    "vakbond": ["vakbond", "vakbondslid"],
    "tradeunion": ["tradeunionmember"],
    "union": ["union"],
    "trade union": ["trade_union_member", "trade_union", "TradeUnion__c"],
}
SEXUAL = {
    "seksu": ["seksuele_voorkeur", "seksualiteit"],
    "sexual": ["sexual_orientation", "sexuality"],
    "geaardheid": ["geaardheid", "seksuele_geaardheid"],
    "orientation": ["orientation"],
}
BIOMETRIC = {
    "biometri": ["biometrie", "biometrische_gegevens", "biometric_template"],
    "fingerprint": ["fingerprint"],
    "genetisch": ["genetische_gegevens"],
    "genetic": ["genetic_data"],
    "vingerafdruk": ["vingerafdruk", "duimvingerafdruk"],
    "gezichtsherkenning": ["gezichtsherkenning"],
    "dna": ["dna_profiel"],
    "facial recognition": ["facial_recognition_id"],
}
CRIMINAL = {
    "criminal": ["criminal_record"],
    "justiti": ["justitiële_gegevens", "justitie"],
    "veroordeling": ["veroordeling"],
    "conviction": ["conviction"],
    "strafrecht": ["strafrechtelijk_verleden"],
    "delict": ["delict"],
    "strafblad": ["strafblad", "heeftstrafblad", "Strafblad__c"],
    "vog": ["VOG", "vog_aanwezig", "VOG_Datum__c"],
    "omtrent gedrag": ["verklaring_omtrent_gedrag"],
}

BY_ARTICLE = [
    (ART_87, NATIONAL_IDS),
    (ART_9, HEALTH),
    (ART_9, ETHNIC),
    (ART_9, RELIGION),
    (ART_9, POLITICAL),
    (ART_9, UNION),
    (ART_9, SEXUAL),
    (ART_9, BIOMETRIC),
    (ART_10, CRIMINAL),
]
ROWS = [(article, term, names) for article, table in BY_ARTICLE for term, names in table.items()]


def _cases(article: str) -> list:
    return [pytest.param(term, names, id=term) for a, term, names in ROWS if a == article]


def _refused_by(article: str, term: str, names: list[str]) -> None:
    for name in names:
        reason = looks_forbidden(name)
        assert reason is not None, f"{name} ({term}) passes"
        assert article in reason, (name, reason)
    # The first name is refused because of this very term: without it, it passes.
    assert VOCABULARY.without(term).reason(names[0]) is None, (term, names[0])


@pytest.mark.parametrize(("term", "names"), _cases(ART_87))
def test_art87_uavg46_national_identifiers_are_refused_by_name(term, names):
    _refused_by(ART_87, term, names)


@pytest.mark.parametrize(("term", "names"), _cases(ART_9))
def test_art9_special_categories_are_refused_by_name(term, names):
    _refused_by(ART_9, term, names)


@pytest.mark.parametrize(("term", "names"), _cases(ART_10))
def test_art10_criminal_data_is_refused_by_name(term, names):
    _refused_by(ART_10, term, names)


def test_every_term_has_a_row():
    listed = [term for _a, term, _n in ROWS]
    assert sorted(listed) == sorted(t.text for t in TERMS)
    assert len(set(listed)) == len(listed)


@pytest.mark.parametrize(
    "name",
    [
        "nationaliteit",  # nationality is not art. 9 (ethnicity is)
        "Nationality__c",
        "geboorteland",
        "pasfoto",  # a photo is biometric only when processed for identification (recital 51)
        "Photo__c",
        "photoOfficial",
        "check_id",  # "eckid" only as a token of its own
        "CheckId__c",
        "herkomst_aanmelding",  # the channel an application came from
        "afkomstig_van_school",
        "vogel",
        "verzuim",
        "geslacht",
        "studentnummer",
        "SIS_Student_Number__c",
        "diagnostische_toets",  # the intake level test
        "vooropleiding",
        "keten_partner",
        "Campaign_Union_Id__c",
        "diet_coke",
        "racefiets",
        "jobsnumber",
    ],
)
def test_ordinary_names_pass(name):
    assert looks_forbidden(name) is None


def test_tokens_split_camel_snake_and_salesforce_suffix():
    assert tokens("Leerling_ECK_iD__c") == ["leerling", "eck", "i", "d"]
    assert tokens("eckId") == ["eck", "id"]
    assert tokens("heeftDyslexie__c") == ["heeft", "dyslexie"]

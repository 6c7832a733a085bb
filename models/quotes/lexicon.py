"""Words the attribution rules need: speech verbs, titles, role nouns, and who speaks for which actor.

General English and general knowledge of the domain: nothing here is taken
from a particular article.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SPEECH_BASES = """
say tell add write tweet post answer state stress note warn declare insist explain argue claim reply respond ask
announce report comment continue conclude emphasize emphasise underline underscore remark acknowledge admit
caution quip recall urge vow charge complain counter observe suggest reiterate confirm allege accuse demand
threaten promise assure deny pledge predict describe call maintain contend concede agree affirm assert boast
lament muse mention reveal proclaim retort scoff snap joke estimate indicate signal hint speculate wonder
recount testify quote cite tell lash hit blast slam criticise criticize condemn denounce praise hail welcome
thank urge appeal propose announce insist reassure clarify elaborate specify highlight inform brief
""".split()

_IRREGULAR = {
    "say": ["said", "says", "saying"],
    "tell": ["told", "tells", "telling"],
    "write": ["wrote", "written", "writes", "writing"],
    "hit": ["hit", "hits", "hitting"],
    "lash": ["lashed", "lashes", "lashing"],
    "quip": ["quipped", "quips", "quipping"],
    "snap": ["snapped", "snaps", "snapping"],
    "slam": ["slammed", "slams", "slamming"],
    "scoff": ["scoffed", "scoffs", "scoffing"],
    "admit": ["admitted", "admits", "admitting"],
    "regret": ["regretted", "regrets", "regretting"],
}


def _forms(base: str) -> set[str]:
    if base in _IRREGULAR:
        return {base, *_IRREGULAR[base]}
    if base.endswith("e"):
        return {base, base + "s", base + "d", base[:-1] + "ing"}
    if base.endswith("y") and base[-2] not in "aeiou":
        return {base, base[:-1] + "ies", base[:-1] + "ied", base + "ing"}
    if re.search(r"(?:s|sh|ch|x|z)$", base):
        return {base, base + "es", base + "ed", base + "ing"}
    return {base, base + "s", base + "ed", base + "ing"}


SPEECH_VERBS: frozenset[str] = frozenset(f for b in _SPEECH_BASES for f in _forms(b))
# Verbs that carry speech only with a complement ("called it ...", "described X as ..."), never alone.
WEAK_SPEECH = frozenset(_forms("call") | _forms("describe") | _forms("hail") | _forms("welcome") | _forms("praise")
                        | _forms("thank") | _forms("hit") | _forms("criticise") | _forms("criticize"))

# Rank and title abbreviations the spaCy model's tokenizer splits ("Brig" "."): the pipeline keeps them whole
# (the parser ended the sentence there), and they are titles too.
TITLE_ABBREVIATIONS: tuple[str, ...] = tuple(
    "Brig. Lt. Col. Maj. Capt. Cmdr. Cdr. Sgt. Cpl. Pvt. Amb. Hon. Supt. Insp. Gens. Lt.-Gen. Maj.-Gen. "
    "Brig.-Gen. Lt.-Col. Rear-Adm. Vice-Adm.".split())

TITLES = frozenset(
    """mr mr. mrs mrs. ms ms. dr dr. prof prof. gen gen. lt lt. col col. maj maj. adm adm. sen sen. rep rep.
    brig brig. capt capt. sgt sgt. gov gov. sheikh ayatollah hojatoleslam rabbi president premier prime minister
    deputy foreign defence defense secretary spokesman spokeswoman spokesperson ambassador envoy special general
    director chief head senior supreme leader chairman chairwoman speaker commander colonel major lieutenant
    admiral brigadier vice mk mp lawmaker senator congressman congresswoman professor former acting minister
    mayor governor king crown prince emir sultan patriarch metropolitan archbishop imam justice judge
    rear adm. vice-admiral secretary-general undersecretary under-secretary attorney-general chancellor
    national security intelligence energy housing interior finance economy trade health education culture
    agriculture transport tourism justice state homeland strategic affairs diaspora communications environment
    knesset duma majlis parliament parliamentary un u.n. nato idf irgc kremlin white house council
    ministry's office's first second deputy-chairman ambassador-designate hon. his her excellency
    adviser advisor aide counsellor counselor
    """.split()
) | {a.lower() for a in TITLE_ABBREVIATIONS} | {a.lower().rstrip(".") for a in TITLE_ABBREVIATIONS}

# Nouns that name a role; "the minister said" resolves to the last person holding one.
ROLE_NOUNS = frozenset(
    """minister ministers spokesman spokeswoman spokesperson ambassador envoy president premier leader official
    diplomat analyst expert general commander chief adviser advisor aide lawmaker deputy senator mp mk
    secretary director head chairman chairwoman speaker ayatollah cleric governor mayor prosecutor judge
    professor researcher scholar economist trader businessman businesswoman veteran officer colonel admiral
    ministry kremlin diplomat representative negotiator emissary counterpart king emir prince patriarch
    correspondent columnist editor journalist commentator presenter host strategist daily newspaper paper
    agency outlet channel broadcaster network station weekly magazine website broadcast tabloid""".split()
)

FEMALE_WORDS = frozenset("she her hers herself spokeswoman chairwoman businesswoman congresswoman mrs mrs. ms ms. madam".split())
MALE_WORDS = frozenset("he him his himself spokesman chairman businessman congressman mr mr.".split())

_FEMALE_FIRST = frozenset(
    """maria marina anna olga elena yelena natalia natalya tatiana tatyana irina svetlana ekaterina yekaterina
    valentina lyudmila galina veronika ksenia oksana yulia julia daria darya alexandra sofia sophia nadezhda
    larisa inna victoria viktoria margarita ayelet tzipi miri gila orit yael tamar michal sharren sharon merav
    limor idit einat orly shira noa maya naama hila dana rachel sarah sara leah rivka miriam esther golda
    zahra fatemeh fatima maryam masoumeh marzieh leila laleh shirin parisa narges nasrin mahnaz roya azadeh
    farideh niloufar masih hoda soheila massoumeh ebtekar kamala hillary nancy condoleezza madeleine ursula
    kaja annalena angela theresa liz kemi penny federica catherine samantha linda nikki christine jane mary
    emily emma hannah lisa susan karen margaret helen ruth amal rania lama hanan hind salma nour noura""".split()
)
_MALE_FIRST = frozenset(
    """vladimir dmitry dmitri sergey sergei alexander aleksandr alexei alexey mikhail nikolai nikolay andrei
    andrey ivan igor oleg yuri yury pavel viktor victor vasily vyacheslav valery konstantin leonid boris
    maxim grigory gennady anatoly evgeny yevgeny roman ruslan ramzan denis artem kirill ilya peter pyotr
    benjamin yair naftali avigdor yoav gideon benny isaac yitzhak shimon ehud ariel moshe avi eli gilad
    yossi yisrael israel danny dan ron amos aviv herzi tzachi ze'ev zeev yoel yuval eyal itamar bezalel
    ali hassan hossein hussein mohammad mohammed mahmoud javad abbas masoud ebrahim ebrahim reza hamid
    ahmad amir kazem kazim esmaeil ismail nasser saeed mehdi majid hamed abdollah abolfazl gholamreza
    qasem ghasem mojtaba yahya kamal ali-akbar akbar mohsen davoud dawood bashar recep mevlut hakan
    joe donald barack antony mike marco jake john james william david michael robert richard thomas
    emmanuel olaf boris keir rishi xi wang sergio""".split()
)

# Institutions, demonyms and places that say which actor a speaker speaks for.
ACTOR_MARKERS: dict[str, tuple[str, ...]] = {
    "russia": ("russia", "russian", "moscow", "kremlin", "duma", "federation council", "tass", "ria novosti",
               "interfax", "rossiya", "smolensk square", "lavrov", "putin", "russian federation", "sochi",
               "st petersburg", "st. petersburg"),
    "israel": ("israel", "israeli", "jerusalem", "knesset", "idf", "mossad", "shin bet", "tel aviv", "likud",
               "netanyahu", "zionist", "zionist regime", "west jerusalem"),
    "iran": ("iran", "iranian", "tehran", "irgc", "revolutionary guard", "majlis", "islamic republic", "irna",
             "tasnim", "fars news", "press tv", "khamenei", "quds force", "basij", "ayatollahs", "mullahs"),
    "us": ("united states", "u.s.", "american", "washington", "white house", "pentagon", "state department",
           "congress", "u.s", "usa", "americans", "trump administration", "biden administration"),
    "turkey": ("turkey", "turkish", "türkiye", "ankara", "erdogan"),
    "ukraine": ("ukraine", "ukrainian", "kyiv", "kiev", "zelensky", "verkhovna rada"),
    "china": ("china", "chinese", "beijing", "xinhua"),
    "syria": ("syria", "syrian", "damascus"),
    "saudi": ("saudi", "riyadh"),
    "uae": ("emirati", "abu dhabi", "uae", "united arab emirates"),
    "egypt": ("egypt", "egyptian", "cairo"),
    "hezbollah": ("hezbollah",),
    "hamas": ("hamas",),
    "eu": ("european union", "brussels", "european commission"),
    "uk": ("british", "britain", "london", "united kingdom", "downing street", "foreign office"),
    "france": ("france", "french", "paris", "elysee", "élysée"),
    "germany": ("germany", "german", "berlin"),
    "qatar": ("qatar", "qatari", "doha"),
    "azerbaijan": ("azerbaijan", "azerbaijani", "baku"),
    "armenia": ("armenia", "armenian", "yerevan"),
    "nato": ("nato",),
    "jordan": ("jordan", "jordanian", "amman"),
    "lebanon": ("lebanon", "lebanese", "beirut"),
    "iraq": ("iraq", "iraqi", "baghdad"),
    "india": ("india", "indian", "new delhi"),
}

# Prominent office-holders whose bare surname alone tells the actor (general knowledge of the field).
KNOWN_SPEAKERS: dict[str, str] = {
    **{n: "russia" for n in """putin lavrov peskov zakharova ryabkov shoigu medvedev nebenzia bogdanov
       vershinin lavrentiev ushakov volodin matviyenko belousov gerasimov patrushev kosachev slutsky
       viktorov dzhagaryan ulyanov galuzin rudenko grushko mishustin novak siluanov nabiullina kiriyenko
       sobyanin kadyrov polyansky konashenkov zakharov rogozin chemezov likhachev manturov overchuk
       lukashevich zhuravlyov kozlov tokarev kartapolov dmitriev miller sechin""".split()},
    **{n: "israel" for n in """netanyahu lapid bennett gantz gallant katz herzog lieberman sa'ar saar dermer
       hanegbi ben-gvir smotrich edelstein rivlin olmert halevi zamir eisenkot kochavi hagari elkin danon
       erdan halperin haiat conricus steinitz cohen ben-shabbat hulata kahana shapira barkat""".split()},
    **{n: "iran" for n in """khamenei raisi rouhani pezeshkian araghchi araqchi zarif amirabdollahian baghaei
       kanaani kanani khatibzadeh ghasemi qasemi mousavi larijani ghalibaf qalibaf salami bagheri hajizadeh
       soleimani velayati shamkhani jalali mohseni-ejei eslami kharrazi afkham falahatpisheh boroujerdi
       takht-ravanchi iravani ravanchi sanaei vaezi ahmadian rezaei dehghan nasirzadeh""".split()},
    **{n: "us" for n in """biden trump blinken rubio sullivan austin hegseth witkoff kirby miller vance harris
       obama pompeo tillerson kerry bolton waltz haley""".split()},
    **{n: "ukraine" for n in "zelensky zelenskyy kuleba sybiha yermak podolyak umerov".split()},
    **{n: "turkey" for n in "erdogan cavusoglu fidan kalin".split()},
    **{n: "syria" for n in "assad mekdad sharaa al-sharaa".split()},
    **{n: "hamas" for n in "haniyeh marzouk sinwar mashaal".split()},
    "xi": "china",
}


# Men's first names that end in -a, which otherwise marks a woman's name in the languages these articles
# transliterate (Simona, Yelizaveta, Noa, Fatemeh aside).
_MALE_IN_A = frozenset(
    "nikita ilya luca joshua akiva mustafa moustafa musa moussa mousa issa isa yahya hamza osama usama taha reza alireza mirza attila "
    "kosta sasha misha vanya abba ezra yehuda juda andrea jonah jona elisha mika sina".split())


def gender_of_first_name(name: str) -> str | None:
    token = name.split()[0].lower().strip(".") if name.split() else ""
    token = token.split("-")[0]  # "Mohammad-Reza"
    if token in _FEMALE_FIRST:
        return "f"
    if token in _MALE_FIRST:
        return "m"
    if len(name.split()) > 1 and len(token) >= 4 and token.endswith("a") and token not in _MALE_IN_A \
            and token.isalpha():
        return "f"
    return None


def gender_of_surname(name: str) -> str | None:
    """Slavic surnames mark gender: Zakharova, Matviyenko aside, -ova/-eva/-ina/-skaya are women's."""
    last = name.split()[-1].lower() if name.split() else ""
    if re.search(r"(?:ova|eva|yova|ina|yna|skaya|tskaya|aya)$", last):
        return "f"
    if re.search(r"(?:ov|ev|yov|sky|skiy|tsky|ich|vich)$", last):  # not -in: Putin, but also Feigin, Halperin
        return "m"
    return None


@lru_cache(maxsize=512)
def actor_pattern(actor: str) -> re.Pattern[str]:
    """Any of the actor's markers (or, for an actor without markers, its own name and spellings) as a word,
    plurals and possessives too: "the Russians", "Iran's"."""
    from models.label_schema import actor_terms

    terms = {*ACTOR_MARKERS.get(actor, ()), *actor_terms(actor)}
    terms |= {name for name, who in KNOWN_SPEAKERS.items() if who == actor}
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True) if t)
    return re.compile(rf"(?<![\w])(?:{alternatives})(?:s|['’]s)?(?![\w])", re.IGNORECASE)


def actors_named(text: str) -> set[str]:
    """Every actor ``text`` names by country, capital, demonym or institution."""
    low = f" {text.lower()} "
    found = set()
    for actor, markers in ACTOR_MARKERS.items():
        for m in markers:
            i = low.find(m)
            if i > 0 and re.match(r"\W", low[i - 1]):
                found.add(actor)
                break
    return found


def last_actor_in(text: str) -> str:
    """The actor named last in ``text`` ('In Tehran, Foreign Ministry spokesman' -> 'iran'), or ''."""
    low = f" {text.lower()} "
    best, where = "", -1
    for actor, markers in ACTOR_MARKERS.items():
        for m in markers:
            i = low.rfind(m)
            if i > 0 and re.match(r"\W", low[i - 1]) and i > where:
                best, where = actor, i
    return best


def actor_in(text: str) -> str:
    """The actor a role or affiliation phrase names ('Kremlin spokesman' -> 'russia'), or ''."""
    low = f" {text.lower()} "
    best, where = "", len(low)
    for actor, markers in ACTOR_MARKERS.items():
        for m in markers:
            i = low.find(m)
            if i > 0 and re.match(r"\W", low[i - 1]) and i < where:
                best, where = actor, i
    return best

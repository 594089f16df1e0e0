"""Synthetic interview notes for the benchmark: realistic enough that the codebook fires as on real notes.

``write_corpus(out_dir, n)`` writes ``n`` notes (about 390 words each; about 5% all-Chinese of
similar length) into one sub-folder per city, each with YAML front matter (id, city, year, sector,
respondent_type). Notes are built from sentence templates about schools, hospitals, hukou,
paperwork, points, fees, refusals and going home, mixed with plain background sentences,
negated and hypothetical mentions and look-alikes (supermarket points, a school closed for the
holiday), with pinyin and hanzi terms and a long tail of place names, ages and amounts so the
vocabulary keeps growing with the corpus as real fieldwork does.

Every note depends only on the seed and its own number, so the first 1,000 notes of a
3,000-note corpus are the 1,000-note corpus. Nothing here imports phantomcode or spaCy.

    python bench/synth.py /tmp/notes --notes 3000 --seed 20240601
"""

from __future__ import annotations

import argparse
import random
import re
from dataclasses import dataclass
from pathlib import Path

SEED = 20240601
WORDS_MEAN, WORDS_SD = 390, 45
CHINESE_SHARE = 0.05
HANZI_PER_WORD = 1.7  # an all-Chinese note of "390 words" has about 660 characters

CITIES = {  # folder, ID prefix, English name, Chinese name, districts, nearby industrial towns
    "beijing": (
        "BJ",
        "Beijing",
        "北京",
        ["Changping", "Fengtai", "Daxing", "Chaoyang", "Haidian", "Tongzhou", "Shunyi"],
    ),
    "shanghai": ("SH", "Shanghai", "上海", ["Minhang", "Songjiang", "Jiading", "Pudong", "Baoshan", "Qingpu"]),
    "guangzhou": ("GZ", "Guangzhou", "广州", ["Baiyun", "Panyu", "Haizhu", "Huadu", "Tianhe", "Huangpu"]),
    "chengdu": ("CD", "Chengdu", "成都", ["Chenghua", "Jinniu", "Wuhou", "Pidu", "Longquanyi", "Xindu"]),
    "hangzhou": ("HZ", "Hangzhou", "杭州", ["Xiaoshan", "Yuhang", "Gongshu", "Binjiang", "Xihu", "Linping"]),
    "dongguan": ("DG", "Dongguan", "东莞", ["Chang'an", "Humen", "Houjie", "Tangxia", "Dalang", "Fenggang"]),
}
PROVINCES = [
    "Henan",
    "Anhui",
    "Sichuan",
    "Hunan",
    "Hubei",
    "Jiangxi",
    "Guizhou",
    "Gansu",
    "Shandong",
    "Hebei",
    "Guangxi",
    "Chongqing",
    "Yunnan",
    "Shaanxi",
    "Heilongjiang",
]
PROVINCES_ZH = ["河南", "安徽", "四川", "湖南", "湖北", "江西", "贵州", "甘肃", "山东", "河北", "广西", "重庆"]
SYLLABLES = [
    "an",
    "bai",
    "bao",
    "chang",
    "chen",
    "da",
    "dong",
    "fang",
    "feng",
    "fu",
    "gao",
    "guan",
    "hai",
    "he",
    "hong",
    "hua",
    "huai",
    "jia",
    "jian",
    "jin",
    "kang",
    "lan",
    "li",
    "lin",
    "liu",
    "long",
    "ma",
    "mei",
    "nan",
    "ning",
    "ping",
    "qi",
    "qing",
    "quan",
    "shan",
    "shi",
    "shui",
    "song",
    "tai",
    "tang",
    "tian",
    "wan",
    "wang",
    "wei",
    "xi",
    "xin",
    "xing",
    "yang",
    "yong",
    "yu",
    "yuan",
    "ze",
    "zhang",
    "zhao",
    "zhou",
    "zhuang",
    "zi",
]
HANZI_PLACES = (
    "安白宝长陈大东方丰福高关海河洪华怀佳建金康兰李林刘龙马梅南宁平齐青泉山石水松泰唐田湾王卫西新兴杨永玉元泽张赵周庄"
)
JOBS = [
    "plasterer",
    "steel fixer",
    "delivery rider",
    "cleaner",
    "security guard",
    "vegetable seller",
    "factory worker on an assembly line",
    "cook in a small restaurant",
    "hairdresser",
    "recycler",
    "taxi driver",
    "domestic helper",
    "welder",
    "warehouse packer",
    "nanny",
    "street vendor",
    "construction labourer",
    "waitress in a hotpot restaurant",
    "courier",
    "painter and decorator",
]
FACTORIES = ["electronics", "shoe", "garment", "toy", "furniture", "plastics", "auto parts", "packaging"]
DOCS = [
    "wuzheng 五证",
    "hukou ben 户口本",
    "zanzhuzheng 暂住证",
    "temporary residence permit",
    "labour contract",
    "proof of employment",
    "rental contract",
    "proof of social insurance",
    "birth permit",
    "proof of no guardian",
    "juzhuzheng 居住证",
    "proof of hometown residence",
    "household registration booklet",
    "family planning certificate",
]
OFFICES = [
    "street office",
    "education bureau",
    "police station",
    "social security bureau",
    "neighbourhood committee",
    "hukou office",
    "insurance bureau",
    "housing bureau",
]
SCHOOLS = [
    "the public primary school",
    "the local middle school",
    "the school near their room",
    "the district kindergarten",
    "the public school two streets away",
    "a public primary school",
]
HOSPITALS = [
    "the district hospital",
    "the children's hospital",
    "a large general hospital",
    "the maternity hospital",
    "the city hospital",
    "a private clinic",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
NUMBER_WORDS = ["two", "three", "four", "five", "six", "seven"]
TOPICS = [
    "the price of rent",
    "the weather in the north",
    "his football team",
    "food from home",
    "the new subway line",
    "work on the building sites",
    "the cost of train tickets",
    "their plans for the Spring Festival",
    "mobile phone payments",
    "the neighbours' dog",
]


@dataclass(frozen=True)
class NoteSpec:
    """Who a note is about: drawn once per note, so its sentences agree with each other."""

    number: int
    folder: str
    prefix: str
    city: str
    city_zh: str
    districts: list[str]
    year: int
    sector: str
    respondent_type: str
    chinese: bool
    female: bool


# ---------------------------------------------------------------------------------------------
# English templates. {He}/{he}/{his}/{him} follow the respondent; other slots are in _fill().

BACKGROUND = [
    "The interview took place in {his} rented room in {village}, on the edge of {district}, and lasted about "
    "{minutes} minutes.",
    "{He} is {age} and comes from {hometown}, and has worked in {city} since {since}.",
    "{He} earns about {amount} yuan a month as a {job}, a little more in the busy weeks before the Spring Festival.",
    "The family rents a single room of about {small} square metres in a chengzhongcun 城中村 near {district}.",
    "{His} wife works night shifts at a {factory} factory in {district} and sees the children on Sundays.",
    "We talked while {he} cooked noodles on a gas ring in the corridor.",
    "{He} described the street, the neighbours and the price of vegetables in some detail.",
    "Several times the conversation turned to {topic}.",
    "{He} said the bus to {district} takes {minutes} minutes and costs two yuan each way.",
    "The interviewer noted that {he} spoke calmly and laughed often, even about the hard parts.",
    "Asked about the future, {he} said {he} would stay in {city} as long as there was work.",
    "{His} parents still farm {small} mu of land near {village} in {province}.",
    "The room had a bed, a rice cooker and a small television standing on a plastic stool.",
    "A calendar from a hardware shop in {village} hung on the wall above the bed.",
    "{He} first came to {city} in {since} with a cousin who had found work on a building site.",
    "The respondent has {kids} children; the eldest is {childage} and the youngest was born in {city}.",
    "Most of the people in the building come from {province}, and many from the same county.",
    "{He} showed us photographs of {his} village and of the new house {his} brother built there.",
    "On weekdays {he} leaves at six in the morning and is rarely back before nine at night.",
    "The neighbourhood has a wet market, two small supermarkets and a row of phone repair stalls.",
    "{He} follows the news on a short-video app and reads little else.",
    "Rent went up by {rise} yuan last year, and {he} expects another rise after the New Year.",
    "The interview was interrupted twice by calls from {his} foreman about the next day's shift.",
    "{He} spoke warmly of a teacher at {his} own village school who had encouraged {him} to study.",
    "At the end {he} asked what the study was for and who would read it.",
    "The second half of the conversation was held in a small restaurant run by people from {province}.",
    "{He} keeps the family's papers in a plastic folder under the mattress.",
    "{His} mother came to {city} last year to look after the youngest child.",
    "The street outside was being dug up for a new drainage pipe, and the noise made recording difficult.",
    "{He} said {his} work is seasonal and that {he} often has no income for several weeks in summer.",
]

MECHANISMS = {
    "paperwork": [
        "{School} told {him} to bring the {doc} to the {office} before anything else could happen.",
        "{He} had the {doc} and the {doc2}, but the lease is in the name of the man who sublets them the room.",
        "Nobody on a building site gets a labour contract, {he} said, so proof of employment was impossible from the "
        "start.",
        "The {office} would not accept the rental agreement because the landlord refused to stamp it.",
        "Parents were told to provide {kids} certificates, including proof of hometown residence from {hometown}.",
        "Without a {doc} {he} could not even hand in the application form.",
        "The clerk checked the {doc} line by line and asked for copies of every page.",
        "Their landlord would not register the room with the police, so there was no proof of address.",
        "{He} could not get the {doc} because {his} employer never gave {him} a written contract.",
    ],
    "residency_duration": [
        "The district required {nword} consecutive years of local social insurance before a child could enrol.",
        "When {he} changed factories the contributions stopped for two months and the count started again from zero.",
        "Contributions paid in {othercity} did not count here, so {he} had to start again.",
        "{He} needed six months of registered residence before {he} could apply for the permit.",
        "The rule asks for {nword} years of continuous employment in {city}, which almost no one on the sites has.",
        "A single gap in contributions sent the count back to zero.",
    ],
    "points_system": [
        "Under the points system {he} had {points} points, short of the threshold of {threshold} points for a school "
        "place.",
        "The jifen 积分 ranking decided which children got a school place, and {his} score was too low.",
        "A vocational certificate would have added {small} points, {he} said, but the course cost {amount} yuan.",
        "Points are deducted for any record with the police, even a traffic fine.",
        "Years of informal work earn no points at all under the points-based scheme.",
        "The cutoff score for the school rose to {threshold} this year.",
    ],
    "office_runaround": [
        "The {office} sent {him} to the {office2}, and the {office2} sent {him} back to the {office}.",
        "The employer's letter had to be stamped by the {office} first.",
        "By the time the approval came through, the school year had already begun.",
        "{He} waited {smallnum} months for an answer from the bureau and heard nothing.",
        "They kept telling {him} to come back after the holiday with another stamp.",
        "{He} went to the {office} {smallnum} times in one week, each time for a different form.",
    ],
    "class_size": [
        "The principal said the first grade was already full and local children had taken every place.",
        "The district now enforces a limit of 45 pupils per class, so migrant children are the first to go.",
        "They were number {small} on the waiting list and never heard back.",
        "{School} said it had no places left for non-local children this year.",
        "The district caps the number of non-local pupils in each school.",
    ],
    "extra_fees": [
        'A neighbour said a place could still be found for a "donation" of {amount} yuan, '
        "a sum local parents are never asked for.",
        "The school demanded a borrowed-study fee, jiedu fei 借读费, of {amount} yuan a term.",
        'Non-local families were charged a "construction fee" that local families never pay.',
        "The kindergarten asked outsiders for a deposit of {amount} yuan, which locals did not pay.",
        "A sponsorship fee, zanzhu fei 赞助费, was mentioned quietly after the meeting.",
    ],
    "unexplained_refusal": [
        "The woman at the counter just said no and would not say why.",
        "The application was rejected without any explanation.",
        "The text message said only 'not admitted' and did not explain why.",
        "Nobody told {him} which document was missing.",
        "{He} asked three times for the reason and was given none.",
    ],
    "service_shutdown": [
        "The migrant school in {village} was closed down in {since} and the building was demolished.",
        "A week before the term the water and electricity were cut off.",
        "The district ordered the migrant kindergarten to close by the end of June.",
        "Tenants who refused to leave found their electricity switched off.",
        "The private clinic the family used was shut by the health bureau after an inspection.",
    ],
    "reimbursement_gap": [
        "{His} rural cooperative insurance reimbursed only {pct} percent because the hospital was out of province.",
        "They paid the whole bill out of pocket, about {amount} yuan.",
        "There was no settlement agreement between {hospital} and the scheme in {province}.",
        "{Hospital} asked for a deposit of {amount} yuan before admission, paid upfront.",
        "The xinnonghe 新农合 card was not valid in {city}, so everything was self-pay.",
    ],
}
CONSEQUENCES = {
    "return_home": [
        "In {month} the {child} went back to {hometown} to live with {his} grandmother and start school there.",
        "{He} plans to go home for the operation because the county hospital is cheaper.",
        "In the end they sent the {child} back to {province} to live with the grandparents.",
        "The family moved to a county town where the private schools are cheaper.",
        "Many children in the building are now left-behind children in their hometowns.",
    ],
    "deterred": [
        "Several neighbours did not even try to apply after hearing what happened.",
        "{He} said it was a waste of time to apply and never applied again.",
        "Word has spread in the building that the public schools do not take outsiders.",
        "Other parents from {province} were discouraged and stayed away.",
    ],
    "self_blame": [
        "{He} said several times that this was {his} own fault for never having a proper job with papers.",
        "{He} blamed {himself}: {he} should have kept the receipts.",
        "It was stupid of us, {he} said, not to have prepared the papers earlier.",
        "{He} thinks {he} is not educated enough to understand the rules.",
    ],
}
FLAGGED = [  # negated, hypothetical and look-alike sentences: hits that must not count, or must not fire
    "The kindergarten did not ask for any documents at all.",
    "If the landlord had signed the lease, the application might have gone through.",
    "{He} collects supermarket points to buy cooking oil at a discount.",
    "At one point the principal left the room to take a phone call.",
    "The clinic was closed for the Spring Festival holiday.",
    "The teacher said she loves her small class of {small} pupils.",
    "They went back home for the Spring Festival and returned in March.",
    "No papers were needed for the vaccination at the community health station.",
    "Lunch costs eight yuan a day for every child, locals included.",
    "{He} has lived in {city} for {small} years and likes the city.",
    "The street office processed {his} permit renewal on the same day.",
    "The doctor checked {his} insurance card as usual and wrote the prescription.",
    "{He} wondered whether a residence permit would be needed for the vaccination.",
]
SECTOR_MECHANISMS = {
    "education": [
        "paperwork",
        "paperwork",
        "class_size",
        "extra_fees",
        "office_runaround",
        "points_system",
        "residency_duration",
        "unexplained_refusal",
    ],
    "healthcare": [
        "reimbursement_gap",
        "reimbursement_gap",
        "office_runaround",
        "unexplained_refusal",
        "paperwork",
        "residency_duration",
        "service_shutdown",
    ],
    "hukou": [
        "points_system",
        "points_system",
        "residency_duration",
        "paperwork",
        "office_runaround",
        "unexplained_refusal",
    ],
    "housing": ["service_shutdown", "service_shutdown", "paperwork", "office_runaround", "extra_fees"],
}
SECTORS = ["education"] * 5 + ["healthcare"] * 3 + ["hukou"] * 2 + ["housing"]
RESPONDENT_TYPES = (
    ["migrant_worker"] * 8
    + ["principal_teacher"] * 2
    + ["doctor_hospital"] * 2
    + ["official", "ngo_staff", "scholar", "factory_manager"]
)

# ---------------------------------------------------------------------------------------------
# Chinese templates

ZH_BACKGROUND = [
    "受访者是{老家}人，今年{年龄}岁，在{城市}打工已经{年数}年。",
    "访谈在他租住的城中村房间里进行，大约持续了{分钟}分钟。",
    "他现在做{工作}，每个月收入大概{金额}元，旺季会多一点。",
    "一家人租了一间{面积}平方米的房子，房租每个月{房租}元。",
    "他的妻子在附近一家{工厂}厂上夜班，周末才能照顾孩子。",
    "他说起老家的房子和田地，语气很平静。",
    "楼里住的大多是{省}来的老乡，很多人是同一个县的。",
    "谈到将来，他说只要有活干就会继续留在{城市}。",
    "他每天早上六点出门，晚上九点以后才回来。",
    "去年房租涨了{涨}元，他担心过完年还要涨。",
    "他的母亲去年来到{城市}，帮忙照看小的孩子。",
    "他拿出手机给我们看老家新盖的房子。",
    "访谈中间他接了两次工头打来的电话。",
    "他说附近有一个菜市场，还有几家修手机的小店。",
]
ZH_CODED = [
    "学校要求提供“五证”，包括户口本、暂住证、租房合同和务工证明。",
    "他没有暂住证，孩子报不了名。",
    "街道说要先回老家开证明，再回来盖章，他来回跑了{次数}趟。",
    "学校说一年级已经满了，本地孩子优先。",
    "有人说交{金额}块“赞助费”也许还能进，但本地家长从来不用交这笔钱。",
    "窗口的人只说不行，什么都没说。",
    "积分不够，孩子只能去民办学校。",
    "要连续缴纳社保满五年才可以申请。",
    "换了工作以后社保断缴，年限全部清零。",
    "新农合在这边报不了，全部自费。",
    "打工子弟学校去年被取缔了，房子也拆了。",
    "最后孩子只能回老家读书，跟着奶奶生活。",
    "他说：“怪我自己没本事，没给孩子弄好户口。”",
    "同村的几个老乡听说以后，今年干脆没有去报名。",
    "医院要求先交押金{金额}元才给住院。",
]
ZH_FLAGGED = [
    "幼儿园当初没有要求任何证明。",
    "过年的时候他们回老家看看父母。",
    "超市积分可以换鸡蛋。",
    "春节放假学校关门了。",
]
ZH_JOBS = ["保洁", "送外卖", "建筑工", "保安", "卖菜", "厨师", "快递员", "装修工"]
ZH_FACTORIES = ["电子", "鞋", "服装", "玩具", "家具"]


# ---------------------------------------------------------------------------------------------
# Building notes


def note_spec(number: int, seed: int = SEED) -> NoteSpec:
    rng = random.Random(f"{seed}-spec-{number}")
    folder = rng.choice(sorted(CITIES))
    prefix, city, city_zh, districts = CITIES[folder]
    return NoteSpec(
        number=number,
        folder=folder,
        prefix=prefix,
        city=city,
        city_zh=city_zh,
        districts=districts,
        year=rng.randint(2012, 2023),
        sector=rng.choice(SECTORS),
        respondent_type=rng.choice(RESPONDENT_TYPES),
        chinese=rng.random() < CHINESE_SHARE,
        female=rng.random() < 0.5,
    )


def _place(rng: random.Random) -> str:
    name = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3))))
    return name.capitalize() + rng.choice(("", "", "cun", "zhuang", " village", "ying"))


def _fill(template: str, rng: random.Random, spec: NoteSpec, hometown: str) -> str:
    pronouns = (
        {"he": "she", "his": "her", "him": "her", "himself": "herself"}
        if spec.female
        else {"he": "he", "his": "his", "him": "him", "himself": "himself"}
    )
    others = [name for name in (c[1] for c in CITIES.values()) if name != spec.city]
    age = rng.randint(22, 58)
    values = {
        **pronouns,
        **{k.capitalize(): v.capitalize() for k, v in pronouns.items()},
        "city": spec.city,
        "district": rng.choice(spec.districts),
        "village": _place(rng),
        "hometown": hometown,
        "province": rng.choice(PROVINCES),
        "othercity": rng.choice(others),
        "age": age,
        "since": spec.year - rng.randint(1, min(20, age - 17)),
        "minutes": rng.choice(range(30, 130, 5)),
        "amount": f"{rng.choice(range(800, 60000, 100)):,}",
        "small": rng.randint(3, 45),
        "rise": rng.choice(range(50, 600, 50)),
        "job": rng.choice(JOBS),
        "factory": rng.choice(FACTORIES),
        "topic": rng.choice(TOPICS),
        "kids": rng.choice(NUMBER_WORDS[:3]),
        "childage": rng.randint(4, 16),
        "nword": rng.choice(NUMBER_WORDS),
        "points": rng.randint(40, 110),
        "threshold": rng.choice((60, 85, 90, 100, 110, 120)),
        "smallnum": rng.choice(NUMBER_WORDS[:4]),
        "pct": rng.choice(range(10, 55, 5)),
        "doc": rng.choice(DOCS),
        "doc2": rng.choice(DOCS),
        "office": rng.choice(OFFICES),
        "month": rng.choice(MONTHS),
        "child": rng.choice(("boy", "girl", "younger son", "elder daughter", "children")),
    }
    values["office2"] = rng.choice([o for o in OFFICES if o != values["office"]])
    school, hospital = rng.choice(SCHOOLS), rng.choice(HOSPITALS)
    values.update(
        school=school,
        School=school[0].upper() + school[1:],
        hospital=hospital,
        Hospital=hospital[0].upper() + hospital[1:],
    )
    return template.format(**values)


def _pick(rng: random.Random, bank: list[str], used: set[str]) -> str:
    """A template of ``bank`` not used yet in this note, if any is left."""
    fresh = [t for t in bank if t not in used] or bank
    template = rng.choice(fresh)
    used.add(template)
    return template


def english_body(spec: NoteSpec, rng: random.Random) -> str:
    target = max(200, int(rng.gauss(WORDS_MEAN, WORDS_SD)))
    hometown = f"{_place(rng)} in {rng.choice(PROVINCES)}"
    mechanisms = SECTOR_MECHANISMS[spec.sector]
    paragraphs: list[list[str]] = [[]]
    used: set[str] = set()
    words = 0
    while words < target - 10:  # stop within half a sentence of the target, on average
        roll = rng.random()
        if roll < 0.56:
            template = _pick(rng, BACKGROUND, used)
        elif roll < 0.82:
            template = _pick(rng, MECHANISMS[rng.choice(mechanisms)], used)
        elif roll < 0.92:
            template = _pick(rng, CONSEQUENCES[rng.choice(sorted(CONSEQUENCES))], used)
        else:
            template = _pick(rng, FLAGGED, used)
        sentence = _fill(template, rng, spec, hometown)
        paragraphs[-1].append(sentence)
        words += len(sentence.split())
        if len(paragraphs[-1]) >= rng.randint(3, 7):
            paragraphs.append([])
    return "\n\n".join(" ".join(p) for p in paragraphs if p) + "\n"


def chinese_body(spec: NoteSpec, rng: random.Random) -> str:
    target = int(max(200, rng.gauss(WORDS_MEAN, WORDS_SD)) * HANZI_PER_WORD)
    hometown = rng.choice(PROVINCES_ZH) + "".join(rng.choice(HANZI_PLACES) for _ in range(2)) + "县"
    paragraphs: list[list[str]] = [[]]
    used: set[str] = set()
    chars = 0
    while chars < target:
        roll = rng.random()
        bank = ZH_BACKGROUND if roll < 0.55 else ZH_CODED if roll < 0.92 else ZH_FLAGGED
        sentence = _pick(rng, bank, used).format(
            老家=hometown,
            年龄=rng.randint(22, 58),
            城市=spec.city_zh,
            年数=rng.randint(2, 20),
            分钟=rng.choice(range(30, 130, 5)),
            工作=rng.choice(ZH_JOBS),
            金额=rng.choice(range(800, 60000, 100)),
            面积=rng.randint(8, 30),
            房租=rng.choice(range(400, 2500, 50)),
            工厂=rng.choice(ZH_FACTORIES),
            省=rng.choice(PROVINCES_ZH),
            涨=rng.choice(range(50, 600, 50)),
            次数=rng.choice("两三四五"),
        )
        paragraphs[-1].append(sentence)
        chars += len(sentence)
        if len(paragraphs[-1]) >= rng.randint(3, 6):
            paragraphs.append([])
    return "\n\n".join("".join(p) for p in paragraphs if p) + "\n"


def render_note(number: int, seed: int = SEED) -> tuple[str, str]:
    """(relative path, file content) of note ``number``."""
    spec = note_spec(number, seed)
    rng = random.Random(f"{seed}-body-{number}")
    body = chinese_body(spec, rng) if spec.chinese else english_body(spec, rng)
    city = spec.city_zh if spec.chinese and rng.random() < 0.5 else spec.city
    front = (
        f"---\nid: {spec.prefix}-{number:05d}\ncity: {city}\nyear: {spec.year}\nsector: {spec.sector}\n"
        f"respondent_type: {spec.respondent_type}\n---\n"
    )
    suffix = ".txt" if rng.random() < 0.3 else ".md"
    slug = re.sub(r"[^a-z]+", "_", spec.respondent_type)
    name = f"{spec.prefix.lower()}{number:05d}_{slug}{'_zh' if spec.chinese else ''}{suffix}"
    return f"{spec.folder}/{name}", front + body


def write_corpus(out_dir: str | Path, n: int, *, seed: int = SEED) -> dict[str, int]:
    """Write notes 1..n under ``out_dir``; returns counts (notes, chinese, words, bytes)."""
    out = Path(out_dir)
    stats = {"notes": 0, "chinese": 0, "words": 0, "bytes": 0}
    for number in range(1, n + 1):
        relpath, content = render_note(number, seed)
        path = out / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8")
        path.write_bytes(data)
        stats["notes"] += 1
        stats["chinese"] += relpath.endswith(("_zh.md", "_zh.txt"))
        stats["words"] += len(content.split("---\n", 2)[-1].split())
        stats["bytes"] += len(data)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--notes", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    stats = write_corpus(args.out_dir, args.notes, seed=args.seed)
    print(
        f"wrote {stats['notes']} notes ({stats['chinese']} all-Chinese, {stats['words']:,} "
        f"whitespace words, {stats['bytes']:,} bytes) to {args.out_dir}"
    )


if __name__ == "__main__":
    main()

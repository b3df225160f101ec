"""Speed of the understanding step per message, with the shipped places and with thousands more.

    .venv/bin/python bench/understanding_speed.py                 # shipped, +3,000, +6,000 places
    .venv/bin/python bench/understanding_speed.py --quick         # a smoke run
    .venv/bin/python bench/understanding_speed.py --places 20000  # shipped and +20,000

Target (issue): under 2 ms p99 per message for the whole understanding step with several thousand place
names loaded. No servers, no Flask app: the content is loaded as the app loads it (`Content.load`), the
routers as bot/services.py loads them, and the place index is rebuilt with synthetic places added
(Chinese names of 2-6 characters with Korean romanizations, traditional forms and short names; fixed seed).

One timed call, per message: `language.detect(text, first=True)` + `Dispatcher.resolve(msg, {})` for a text
message and an empty state (a conversation's first message), with the shipped handlers' routes. `resolve`
runs `Understander.understand` (rules, then the closest questions of content/meanings.yaml), the follow-ups
and the route choice. Not included: XML, Redis, the handler, rendering. The corpus is
bench/understanding/messages.yaml (its texts) when it exists, else the list below.

Peers in the same run: the same step with the place index as it was before it was made fast (a verbatim
copy of the old `PlaceIndex` below, for this comparison only) on every other message, and a naive matcher
(rapidfuzz `process.extractOne` of the whole message against every name and alias, its default scorer) on
64. The bench also checks that the old and the new index find the same places and that the step decides
the same with either, on every message it times with both.
"""
from __future__ import annotations

import argparse
import copy
import gc
import inspect
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pypinyin import lazy_pinyin  # noqa: E402
from rapidfuzz import fuzz, process  # noqa: E402
from rapidfuzz.distance import Levenshtein  # noqa: E402

from bot.conversation.content import Content  # noqa: E402
from bot.conversation.language import detect  # noqa: E402
from bot.conversation.place_names import GenericWords, PlaceIndex, PlaceMatch  # noqa: E402
from bot.conversation.router import Dispatcher  # noqa: E402
from bot.infra import text as textmod  # noqa: E402
from bot.infra.text import fold, normalize  # noqa: E402
from bot.services import load_routers  # noqa: E402
from bot.travel.places import Hours, Place, Places  # noqa: E402
from bot.wechat.inbound import Incoming  # noqa: E402

CONTENT = ROOT / "content"
MESSAGES = ROOT / "bench" / "understanding" / "messages.yaml"
SEED = 20261207
TARGET_US = 2000

# --- a realistic corpus ------------------------------------------------------------------------------
BUILTIN = [
    # places, plain and in sentences
    "景福宫", "景福宫几点开门", "景福宫门票多少钱", "景福宫怎么走", "去景福宫坐几号线", "昌德宫后苑要预约吗",
    "明洞", "明洞附近吃什么", "明洞 美食", "明洞天主教堂在哪", "南山塔", "N首尔塔几点关门", "南山塔夜景好看吗",
    "首尔塔缆车多少钱", "弘大", "弘大晚上好玩吗", "梨泰院怎么去", "圣水洞有什么咖啡店", "北村韩屋村拍照",
    "仁寺洞买什么", "东大门几点关门", "东大门DDP晚上开吗", "广藏市场有什么好吃的", "乐天世界门票", "乐天塔首尔天空",
    "汝矣岛樱花什么时候开", "盘浦大桥彩虹喷泉几点", "国立中央博物馆周一开吗", "COEX星空图书馆", "奉恩寺",
    "鹭梁津水产市场怎么买海鲜", "土俗村参鸡汤要排队吗", "新罗免税店", "乐天免税店明洞总店几点开", "江南站",
    "狎鸥亭罗德奥", "韩流明星街在哪", "HYBE大楼", "首尔林", "清溪川晚上", "光化门广场", "崇礼门", "宗庙周二开吗",
    "梨花女子大学", "延南洞", "望远市场", "63大厦", "骆山公园夜景", "通仁市场便当", "乱打秀",
    # traditional characters and full width
    "景福宮在哪裡", "南大門市場幾點開門", "明洞聖堂", "樂天世界門票多少", "國立古宮博物館", "ＮＡＭＳＡＮ ＴＯＷＥＲ",
    "首爾塔怎麼走", "廣藏市場", "鷺梁津", "亂打秀門票",
    # typed pinyin and romanization
    "jingfugong", "mingdong", "gyeongbokgung", "Gyeongbok Palace opening hours", "myeongdong food",
    "hongdae", "itaewon", "namsan tower", "lotte world tickets", "bukchon hanok village", "insadong",
    "dongdaemun design plaza", "gwangjang market", "seongsu", "coex", "starfield library", "banpo bridge",
    "yeouido", "olive young", "shilla duty free", "gangnam station", "noryangjin fish market",
    # typos: homophones, small slips, romanization typos
    "经福宫", "景福公怎么去", "景福官", "景福官怎么走", "梨花女子大字在哪", "国立中央博勿馆在哪", "名洞", "弘达",
    "南山它", "东大们", "乐添世界", "仁寺东", "gyeongbukgung", "myungdong", "hongde", "itaewan", "dongdeamun",
    "namdaemoon market", "bukchon hanok vilage", "lotte wrold", "insadon", "gwangjang makret",
    # intents without places
    "帮助", "菜单", "取消", "English", "中文", "转人工", "我要投诉", "投诉电话是多少", "第三个", "2", "#3", "十",
    "还有吗", "换一批", "我的订单", "取消订单 YJ7K4M2P", "确认", "好的", "修改", "你好", "谢谢", "再见", "你是谁",
    "👍", "😀😀", "❤️", "附近的夜景", "推荐韩流景点", "有什么好玩的", "首尔哪里好玩", "首尔的夜景", "首尔天气",
    "附近有什么好吃的", "离我最近的地铁站", "几点关门", "多少钱", "how much is it", "help", "menu", "cancel",
    "what to do in seoul", "things to do near me", "where can I eat bbq", "any good cafes around here",
    # money, tax, info topics, bookings
    "100人民币换多少韩币", "一万韩元是多少人民币", "500 rmb to krw", "汇率多少", "买了30万韩元能退多少税",
    "退税怎么退", "tax refund at the airport", "去韩国要签证吗", "K-ETA要办吗", "怎么打车", "kakao taxi",
    "在哪里换钱", "可以用支付宝吗", "插头是什么样的", "要给小费吗", "手机卡在哪买", "我护照丢了怎么办",
    "发烧了去哪看病", "报警电话多少", "我想订DMZ", "订乱打秀", "DMZ多少钱", "预订", "我要预订两个人",
    "ZHANG WEI E12345678 1990-01-01", "护照号码 E12345678",
    # long, voice-style
    "你好我们一家四口下周二到首尔想带孩子去乐天世界玩一天然后晚上去南山塔看夜景请问怎么安排比较好",
    "我现在在明洞刚吃完饭想去东大门逛逛请问坐地铁怎么走大概要多久谢谢",
    "请问景福宫和昌德宫哪个更值得去穿韩服是不是可以免费进去我们大概下午两点到",
    "我和朋友第一次来韩国想知道弘大附近有什么好吃的烤肉店还有晚上有没有街头表演",
    "嗯那个就是我想问一下从仁川机场到明洞最方便的交通是什么机场大巴还是地铁",
    "hi there we're staying near gangnam station and want to visit gyeongbokgung palace tomorrow morning "
    "how do we get there by subway",
    "is the national museum of korea open on mondays and do we need to book tickets in advance",
    "我们住在弘大附近明天想去汝矣岛看樱花然后去现代百货首尔店逛街晚上去盘浦大桥看喷泉可以吗",
    "今天天气怎么样适合去北村韩屋村拍照吗如果下雨的话有什么室内的地方推荐",
    "老板你好请问一下那个什么塔就是南山上面那个塔晚上几点关门还能上去吗",
    # gibberish, keyboard mashes, ids, odd input
    "asdfghjkl", "qwerty", "啊啊啊啊啊", "哈哈哈哈", "。。。", "？？？", "1234567890", "echo:ofeeb246c88d",
    "jfkdlsa;fjdkslafjdk", "嗯", "ok", "？", "zzzz", "http://example.com/abc", "……", "666", "hmm let me think",
    "这个那个", "不知道", "随便", "lol", "我想去首都", "happy holiday", "today", "韩国首尔好玩吗", "首尔站",
]


def corpus() -> tuple[list[str], str]:
    """The texts to time: bench/understanding/messages.yaml when someone wrote it, else the list above."""
    if MESSAGES.exists():
        import yaml
        data = yaml.safe_load(MESSAGES.read_text(encoding="utf-8")) or {}
        texts = [str(m["text"]) for m in data.get("messages") or [] if isinstance(m, dict) and m.get("text")]
        if texts:
            return texts, f"{MESSAGES.relative_to(ROOT)} ({len(texts)} messages)"
    return list(BUILTIN), f"built-in list ({len(BUILTIN)} messages)"


# --- synthetic places ----------------------------------------------------------------------------------
# Hanja-style first characters with their Korean reading (romanized, Hangul), and place kinds.
_HEADS = [
    ("安", "an", "안"), ("仁", "in", "인"), ("寿", "su", "수"), ("德", "deok", "덕"), ("光", "gwang", "광"),
    ("永", "yeong", "영"), ("清", "cheong", "청"), ("东", "dong", "동"), ("西", "seo", "서"), ("南", "nam", "남"),
    ("北", "buk", "북"), ("昌", "chang", "창"), ("庆", "gyeong", "경"), ("汉", "han", "한"), ("龙", "yong", "용"),
    ("华", "hwa", "화"), ("云", "un", "운"), ("松", "song", "송"), ("竹", "juk", "죽"), ("梅", "mae", "매"),
    ("乐", "nak", "낙"), ("成", "seong", "성"), ("福", "bok", "복"), ("金", "geum", "금"), ("银", "eun", "은"),
    ("月", "wol", "월"), ("石", "seok", "석"), ("新", "sin", "신"), ("古", "go", "고"), ("大", "dae", "대"),
    ("忠", "chung", "충"), ("孝", "hyo", "효"), ("义", "ui", "의"), ("礼", "rye", "례"), ("明", "myeong", "명"),
    ("正", "jeong", "정"), ("平", "pyeong", "평"), ("长", "jang", "장"), ("兴", "heung", "흥"), ("宝", "bo", "보"),
    ("玉", "ok", "옥"), ("泉", "cheon", "천"), ("海", "hae", "해"), ("岩", "am", "암"), ("青", "cheong", "청"),
    ("白", "baek", "백"), ("黄", "hwang", "황"), ("凤", "bong", "봉"), ("鹤", "hak", "학"), ("莲", "yeon", "연"),
    ("桂", "gye", "계"), ("柳", "yu", "유"), ("杨", "yang", "양"), ("元", "won", "원"), ("贞", "jeong", "정"),
    ("惠", "hye", "혜"), ("善", "seon", "선"), ("顺", "sun", "순"), ("荣", "yeong", "영"), ("贤", "hyeon", "현"),
    ("良", "yang", "양"), ("真", "jin", "진"), ("弘", "hong", "홍"), ("景", "gyeong", "경"), ("圣", "seong", "성"),
    ("津", "jin", "진"), ("浦", "po", "포"), ("原", "won", "원"), ("阳", "yang", "양"), ("峨", "a", "아"),
    ("瑞", "seo", "서"), ("草", "cho", "초"), ("芝", "ji", "지"), ("兰", "ran", "란"), ("雪", "seol", "설"),
    ("星", "seong", "성"), ("泰", "tae", "태"), ("丰", "pung", "풍"), ("雅", "a", "아"), ("秀", "su", "수"),
]
_KINDS = [  # zh, romanized, Hangul, English (None: "<Name>-dong" style), category
    ("寺", "sa", "사", "Temple", "palace_history"), ("宫", "gung", "궁", "Palace", "palace_history"),
    ("山", "san", "산", "Mountain", "nature_park"), ("洞", "dong", "동", None, "shopping"),
    ("桥", "gyo", "교", "Bridge", "nightlife_view"), ("门", "mun", "문", "Gate", "palace_history"),
    ("市场", "sijang", "시장", "Market", "food"), ("公园", "gongwon", "공원", "Park", "nature_park"),
    ("博物馆", "bangmulgwan", "박물관", "Museum", "museum_culture"),
    ("美术馆", "misulgwan", "미술관", "Art Museum", "museum_culture"), ("村", "chon", "촌", "Village", "shopping"),
    ("路", "ro", "로", "Road", "shopping"), ("街", "gil", "길", "Street", "shopping"), ("岛", "do", "도", "Island",
                                                                                      "nature_park"),
    ("川", "cheon", "천", "Stream", "nature_park"), ("湖", "ho", "호", "Lake", "nature_park"),
    ("塔", "tap", "탑", "Tower", "nightlife_view"), ("亭", "jeong", "정", "Pavilion", "palace_history"),
    ("峰", "bong", "봉", "Peak", "nature_park"), ("谷", "gok", "곡", "Valley", "nature_park"),
    ("书院", "seowon", "서원", "Confucian Academy", "museum_culture"), ("城", "seong", "성", "Fortress",
                                                                      "palace_history"),
    ("韩屋村", "hanokmaeul", "한옥마을", "Hanok Village", "palace_history"),
    ("纪念馆", "ginyeomgwan", "기념관", "Memorial Hall", "museum_culture"),
    ("图书馆", "doseogwan", "도서관", "Library", "museum_culture"), ("瀑布", "pokpo", "폭포", "Falls", "nature_park"),
    ("海水浴场", "haesuyokjang", "해수욕장", "Beach", "nature_park"), ("剧场", "geukjang", "극장", "Theatre", "hallyu"),
    ("咖啡街", "kapegeori", "카페거리", "Cafe Street", "food"), ("美食街", "meokjagolmok", "먹자골목", "Food Alley",
                                                                 "food"),
]


def synthetic_places(count: int, taken: set[str], seed: int = SEED) -> list[Place]:
    """`count` plausible places (2–6 character Chinese names, Korean romanizations, aliases), none of whose
    names or aliases is already a name, alias or generic word (`taken`, normalized; updated)."""
    import opencc
    s2t = opencc.OpenCC("s2t")
    rng = random.Random(seed)
    t = {"zh-CN": "x", "en": "x"}
    found: list[Place] = []
    while len(found) < count:
        zh_kind, rom_kind, ko_kind, en_kind, category = rng.choice(_KINDS)
        room = 6 - len(zh_kind)
        heads = [rng.choice(_HEADS) for _ in range(rng.randint(1, min(3, room)))]
        zh = "".join(h[0] for h in heads) + zh_kind
        if not 2 <= len(zh) <= 6:
            continue
        rom = "".join(h[1] for h in heads)
        ko = "".join(h[2] for h in heads) + ko_kind
        en = f"{rom.capitalize()} {en_kind}" if en_kind else f"{rom.capitalize()}-{rom_kind}"
        aliases = [rom + rom_kind]  # "andeoksa", as on Korean signs
        trad = s2t.convert(zh)
        if trad != zh:
            aliases.append(trad)
        if len(heads) >= 2 and len(zh_kind) >= 2 and rng.random() < 0.5:  # a short name: "安德馆" for "安德博物馆"
            aliases.append("".join(h[0] for h in heads) + zh_kind[-1])
        terms = {normalize(x) for x in (zh, en, *aliases)} | {re.sub(r"[^a-z0-9]", "", en.lower())}
        if terms & taken:
            continue
        taken |= terms
        pid = f"synthetic_{len(found):05d}"
        found.append(Place(pid, (category,), {"zh-CN": zh, "en": en, "ko": ko}, tuple(aliases), t,
                           37.4 + rng.random() * 0.3, 126.8 + rng.random() * 0.4, t, t, Hours(), t, None, t, {}, t,
                           t, "synthetic (bench)"))
    return found


# --- the place index before optimisation (for the comparison only; verbatim, 2026-12-07, e8fb920) ------
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_RUN = re.compile(r"[a-z0-9][a-z0-9 '&.-]*[a-z0-9]|[a-z0-9]")
_FUZZY_MIN = 3
_FUZZY_INSIDE_MIN = 4


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


class OldPlaceIndex:
    """bot/conversation/place_names.py's PlaceIndex as of commit e8fb920."""

    terms_of = PlaceIndex.terms_of  # asked by the understanding since; not part of what is compared

    def __init__(self, places: Places, generic: GenericWords | None = None) -> None:
        self._terms_of: dict[str, list[str]] | None = None
        self.generic = generic or GenericWords()
        self.cjk: dict[str, str] = {}
        self.latin: dict[str, str] = {}
        self.syllables: dict[tuple[str, ...], str] = {}
        self.categories_of = {place.id: place.categories for place in places}
        heads: dict[str, set[str]] = {}
        for place in places:
            terms = [place.name["zh-CN"], place.name["en"], place.name.get("ko", ""), *place.aliases]
            for term in filter(None, terms):
                folded = normalize(term)
                if _CJK.search(folded):
                    self.cjk.setdefault(folded, place.id)
                    syllables = tuple(lazy_pinyin(folded))
                    if len(syllables) >= 2:
                        self.syllables.setdefault(syllables, place.id)
                        self.latin.setdefault("".join(syllables), place.id)
                elif len(_compact(term)) >= 3:
                    self.latin.setdefault(_compact(term), place.id)
                    if " " in term.strip():
                        heads.setdefault(_compact(term.split()[0]), set()).add(place.id)
        for head, owners in heads.items():
            if len(head) >= 6 and len(owners) == 1:
                self.latin.setdefault(head, next(iter(owners)))
        self._cjk_terms = sorted(self.cjk, key=len, reverse=True)
        self._latin_terms = sorted(self.latin, key=len, reverse=True)
        self._fuzzy = [(term, len(term), max(1, len(term) // 4)) for term in self._cjk_terms if len(term) >= _FUZZY_MIN]
        splitters = sorted((w for w in self.generic.names | self.generic.fillers if _CJK.search(w)),
                           key=len, reverse=True)
        self._splitter = re.compile("|".join([*map(re.escape, splitters), r"[^\u3400-\u9fff]+"]))

    @staticmethod
    def _near(piece: str, term: str, n: int, budget: int) -> bool:
        if abs(len(piece) - n) <= budget and Levenshtein.distance(piece, term, score_cutoff=budget) <= budget:
            return True
        if n < _FUZZY_INSIDE_MIN or len(piece) <= n:
            return False
        return any(Levenshtein.distance(piece[i:i + n], term, score_cutoff=budget) <= budget
                   for i in range(len(piece) - n + 1))

    def find(self, text: str) -> list[PlaceMatch]:
        norm = normalize(text)
        found: dict[str, PlaceMatch] = {}

        def add(match: PlaceMatch) -> None:
            if match.place_id not in found or found[match.place_id].score < match.score:
                found[match.place_id] = match

        rest = norm
        for term in self._cjk_terms:
            if len(term) >= 2 and term in rest:
                add(PlaceMatch(self.cjk[term], 1.0, "exact", term))
                rest = rest.replace(term, "|")
        words = [_compact(w) for w in re.findall(r"[a-z0-9]+", " ".join(_LATIN_RUN.findall(fold(text))))]
        words = [w for w in words if w]
        latin = "".join(words)
        starts, ends, pos = set(), set(), 0
        for word in words:
            starts.add(pos)
            pos += len(word)
            ends.add(pos)
        claimed = [False] * len(latin)
        for term in self._latin_terms:
            if len(term) < 4 and term != latin:
                continue
            start = latin.find(term)
            while start >= 0:
                end = start + len(term)
                if start in starts and end in ends and not any(claimed[start:end]):
                    add(PlaceMatch(self.latin[term], 1.0, "exact", term))
                    claimed[start:end] = [True] * len(term)
                start = latin.find(term, start + 1)
        if found:
            return sorted(found.values(), key=lambda m: -m.score)

        cjk_only = "".join(ch if _CJK.match(ch) else " " for ch in norm)
        syllables = tuple(lazy_pinyin(cjk_only.replace(" ", ""))) if cjk_only.strip() else ()
        chars = cjk_only.replace(" ", "")
        by_char = len(chars) == len(syllables)
        for sounds, place_id in self.syllables.items():
            n = len(sounds)
            if any(syllables[i:i + n] == sounds and not (by_char and chars[i:i + n] in self.generic.names)
                   for i in range(len(syllables) - n + 1)):
                add(PlaceMatch(place_id, 0.9, "pinyin", "".join(sounds)))
        if found:
            return sorted(found.values(), key=lambda m: -m.score)

        pieces = [p for p in self._splitter.split(norm) if len(p) >= _FUZZY_MIN]
        for term, n, budget in self._fuzzy:
            if any(self._near(piece, term, n, budget) for piece in pieces):
                add(PlaceMatch(self.cjk[term], 0.75, "fuzzy", term))
        runs = {"".join(words[i:i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}
        for run in sorted(r for r in runs if len(r) >= 5 and r not in self.generic.names):
            best = process.extractOne(run, self._latin_terms, scorer=fuzz.ratio, score_cutoff=85)
            if best and len(best[0]) >= 5:
                add(PlaceMatch(self.latin[best[0]], round(best[1] / 100 * 0.85, 2), "fuzzy", best[0]))
        return sorted(found.values(), key=lambda m: -m.score)


# --- timing --------------------------------------------------------------------------------------------
@dataclass
class Setup:
    label: str
    places: int
    terms: list[str]  # every name and alias, for the naive peer
    index: PlaceIndex
    step: Callable[[str], Any]  # the whole understanding step
    build_s: float
    old_index: OldPlaceIndex | None = None
    old_step: Callable[[str], Any] | None = None
    old_build_s: float = 0.0


def text_message(text: str) -> Incoming:
    return Incoming(raw=None, kind="text", openid="o-bench", account="gh_bench", create_time=0, msg_id="1",
                    text=text)


def step_with(content: Content, routers: list, index: Any) -> Callable[[str], Any]:
    """language detection + routing (understanding included) with `index` as the understander's places,
    the dispatcher built as bot/services.py builds it."""
    understander = copy.copy(content.understander)
    understander.places = index
    extra = [content.followups] if hasattr(content, "followups") else []  # follow-up words, as services.py
    dispatcher = Dispatcher(routers, understander, *extra)
    # An empty state is a conversation's first message (pipeline.py: detect(text, first="lang" not in state)).
    first = {"first": True} if "first" in inspect.signature(detect).parameters else {}

    def step(text: str) -> Any:
        return detect(text, **first), dispatcher.resolve(text_message(text), {})
    return step


def naive(names: list[str], text: str) -> Any:
    """The peer: the whole message against every name and alias, rapidfuzz's default scorer (WRatio)."""
    return process.extractOne(normalize(text), names)


def make_setup(content: Content, routers: list, generic: GenericWords, extra: list[Place], label: str,
               peers: bool) -> Setup:
    places = Places({**content.places.items, **{p.id: p for p in extra}}, checked=content.places.checked)
    started = time.perf_counter()
    index = PlaceIndex(places, generic)
    setup = Setup(label, len(places), sorted({normalize(t) for p in places for t in (*p.name.values(), *p.aliases)}
                                             - {""}), index, step_with(content, routers, index),
                  time.perf_counter() - started)
    if peers:
        started = time.perf_counter()
        setup.old_index = OldPlaceIndex(places, generic)
        setup.old_build_s = time.perf_counter() - started
        setup.old_step = step_with(content, routers, setup.old_index)
    return setup


PRIMER = "qzx"  # understood as nothing: goes through every stage


def fresh(step: Callable[[str], Any] | None = None) -> None:
    """Empty the text caches (`fold`, `normalize`), then give them what any message leaves there (the content
    words some stages fold on every call, such as the products' names) by running one unrelated message.
    Done once per round: in a round every message comes once, so each is new to the caches, as in a
    running process."""
    textmod.fold.cache_clear()
    textmod.normalize.cache_clear()
    if step is not None:
        step(PRIMER)


def decided(result: Any) -> tuple:
    lang, d = result
    return lang, d.route.name if d.route else None, d.reason, d.intent, d.score, sorted(map(repr, d.captures.items()))


def measure(fn: Callable[[str], Any], texts: list[str], repeats: int, warmup: int) -> tuple[dict[str, list[int]],
                                                                                         dict[str, Any]]:
    """Nanoseconds per call, per message (messages interleaved, in a new order each round), and what the first
    call answered for each."""
    rng = random.Random(SEED)
    order = list(dict.fromkeys(texts))
    answers: dict[str, Any] = {}
    for _ in range(warmup):
        fresh(fn)
        for text in order:
            answers.setdefault(text, fn(text))
    samples: dict[str, list[int]] = {text: [] for text in order}
    clock = time.perf_counter_ns
    for _ in range(repeats):
        rng.shuffle(order)
        fresh(fn)
        for text in order:
            started = clock()
            answer = fn(text)
            samples[text].append(clock() - started)
            answers.setdefault(text, answer)
    return samples, answers


def percentiles(samples: dict[str, list[int]]) -> dict[str, float]:
    every = sorted(ns for values in samples.values() for ns in values)
    q = statistics.quantiles(every, n=100, method="inclusive") if len(every) > 1 else [every[0]] * 99
    return {"p50": q[49] / 1000, "p90": q[89] / 1000, "p99": q[98] / 1000, "max": every[-1] / 1000,
            "n": len(every)}


def row(label: str, samples: dict[str, list[int]], verdict: bool = True) -> str:
    stats = percentiles(samples)
    mark = ("under 2 ms" if stats["p99"] < TARGET_US else "OVER 2 ms") if verdict else ""
    return (f"  {label:<44}{stats['p50']:>8.0f}{stats['p90']:>8.0f}{stats['p99']:>8.0f}{stats['max']:>8.0f}"
            f"{stats['n']:>8}  {mark}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats, peers on fewer messages (a smoke run)")
    p.add_argument("--places", type=int, action="append",
                   help="synthetic places to add (repeatable; default: 3000 and 6000; shipped only always runs)")
    p.add_argument("--repeats", type=int, help="timed calls per message and size (default 10, --quick 3)")
    p.add_argument("--no-peers", action="store_true", help="time only the current index (no old index, no check)")
    args = p.parse_args()
    repeats = max(1, args.repeats or (3 if args.quick else 10))
    peer_every, naive_sample = (8, 16) if args.quick else (2, 64)  # the peers are slow: every n-th message
    sizes = [0, *sorted({n for n in args.places or [3000, 6000] if n > 0})]
    peers = not args.no_peers

    started = time.perf_counter()
    content = Content.load(CONTENT)
    routers = load_routers("handlers:ROUTERS")
    generic = content.understander.places.generic
    texts, source = corpus()
    texts = list(dict.fromkeys(texts))
    taken = {normalize(t) for p in content.places for t in (*p.name.values(), *p.aliases)}
    taken |= set(generic.names) | set(generic.fillers)
    pool = synthetic_places(max(sizes), taken)
    some = texts[::peer_every]
    sample = texts[::max(1, len(texts) // naive_sample)][:naive_sample]
    print(f"corpus: {source}")
    print("timed: language.detect + Dispatcher.resolve (Understander.understand, follow-ups, route) of a text "
          "message, empty state, the shipped handlers' routes;")
    print(f"  {repeats} rounds of one call per message (shuffled) after a warm-up round; each message new to the "
          f"text caches (emptied, then primed with another message, before each round); "
          f"Python {sys.version.split()[0]}")
    if peers:
        print(f"  the index before: {len(some)} messages (1 in {peer_every}), one call each; the naive peer: "
              f"{len(sample)} messages, one call each")
    print(f"set-up (content, routers, {len(pool):,} synthetic places): {time.perf_counter() - started:.1f} s\n")

    results = []
    for extra in sizes:
        label = "shipped" if extra == 0 else f"shipped + {extra:,} synthetic"
        setup = make_setup(content, routers, generic, pool[:extra], label, peers)
        index = setup.index
        print(f"{label}: {setup.places:,} places, {len(index.cjk):,} CJK + {len(index.latin):,} latin terms; "
              f"index built in {setup.build_s:.2f} s" + (f" (before: {setup.old_build_s:.2f} s)" if peers else ""))
        gc.collect()
        step, answers = measure(setup.step, texts, repeats, warmup=1)
        find, _ = measure(index.find, texts, max(1, repeats // 2), warmup=1)
        stats = {"step": step}
        if setup.old_index is not None and setup.old_step is not None:
            differ = []
            for text in some:  # (also the old index's warm-up)
                if index.find(text) != setup.old_index.find(text):
                    differ.append(text)
            stats["old"], old_answers = measure(setup.old_step, some, 1, warmup=0)
            decided_apart = [t for t in some if decided(answers[t]) != decided(old_answers[t])]
            print(f"  the index before and now: same places found on {len(some) - len(differ)}/{len(some)} "
                  f"messages, same decision on {len(some) - len(decided_apart)}/{len(some)}")
            for text in (differ + decided_apart)[:5]:
                print(f"    DIFFERENT: {text!r}", file=sys.stderr)
            results.append(bool(differ or decided_apart))
            stats["naive"], _ = measure(partial(naive, setup.terms), sample, 1, warmup=0)
        print(f"  {'µs per message':<44}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}{'calls':>8}")
        print(row("whole step, PlaceIndex now", stats["step"]))
        if "old" in stats:
            print(row("  the same, on the messages timed before", {t: step[t] for t in some}))
            print(row("whole step, PlaceIndex before (e8fb920)", stats["old"]))
        print(row("PlaceIndex.find now, alone", find, verdict=False))
        if "naive" in stats:
            print(row(f"peer: extractOne(text, {len(setup.terms):,} names)", stats["naive"], verdict=False))
        print()
        last = (label, stats)

    label, stats = last
    medians = sorted(((statistics.median(v), max(v), t) for t, v in stats["step"].items()), reverse=True)
    print(f"slowest 10 messages, {label} (µs: median and max of {repeats} calls"
          f"{'; before, when timed' if 'old' in stats else ''}):")
    for median, worst, text in medians[:10]:
        before = f"{stats['old'][text][0] / 1000:>8.0f}" if text in stats.get("old", {}) else ""
        shown = text if len(text) <= 50 else text[:47] + "..."
        print(f"  {median / 1000:>7.0f} {worst / 1000:>7.0f}{before}  {shown}")
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    if any(results):
        print("the index before and now disagree on some messages (listed above)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The language a traveler writes in, read from each message (a choice made with 语言 / English wins).

Deliberately simple and explainable: Chinese characters mean Chinese; two or more Latin words mean English
unless they are all pinyin ("jingfugong zenme qu" is Chinese typed in latin letters) or carry a passport
number; a single English word ("hi", "pharmacy") tells only in a conversation's first message; anything else
(a number, an emoji, one name like "Myeongdong", passport details, Korean) says nothing, and the
conversation keeps the language it had.
"""
from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_DOCUMENT = re.compile(r"[A-Za-z]{1,2}\d{6,}")  # a passport number
# Words that only an English sentence has: a name in Latin letters ("ZHANG WEI E12345678", "Myeongdong")
# or pinyin ("jingfugong") is not English, "how do I get to Myeongdong" is.
_ENGLISH_WORDS = """
a an the to of in on at for from with and or but not no yes is are was were be been am do does did
can could would will should may i i'm me my mine you your we our us they them it it's this that
these those there here how what what's where where's when which who why whose please thanks thank
thx hi hello hey bye sorry ok okay much many any some more most near nearby around get go going want
need have has had lost find help tell know like open opening close closing hours time price cost
ticket tickets book booking buy eat food drink today tomorrow tonight now way best good cheap far
long take walk bus subway taxi station airport hotel change exchange money rate refund weather rain
cold hot krw usd won dollar dollars yuan rmb
hospital pharmacy doctor sick ill fever police embassy passport emergency sos stolen robbed accident
market street shop shops shopping mall store palace tower park museum temple river island village
fish night view views cafe restaurant restaurants bbq chicken beer spicy vegetarian halal souvenirs
cheap expensive free discount coupon coupons promo code deal deals tour tours trip day agent human
person staff complain complaint menu hi hello hey thanks goodbye morning evening plug adapter tip
tipping data wifi sim card visa arrival tax shop clinic surgery skin beauty kids children family
"""
_ENGLISH = frozenset(_ENGLISH_WORDS.split())
# Every Mandarin syllable without tones (pypinyin's readings of U+4E00–U+9FA5): typed pinyin is Chinese.
_PINYIN_TEXT = """
a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai can cang cao ce cen
ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai chuan chuang chui chun chuo ci
cong cou cu cuan cui cun cuo da dai dan dang dao de den deng di dian diao die ding diu dong dou du duan dui
dun duo e ei en eng er fa fan fang fei fen feng fiao fo fou fu ga gai gan gang gao ge gei gen geng gong gou
gu gua guai guan guang gui gun guo ha hai han hang hao he hei hen heng hm hong hou hu hua huai huan huang
hui hun huo ji jia jian jiang jiao jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke ken keng
kong kou ku kua kuai kuan kuang kui kun kuo la lai lan lang lao le lei leng li lia lian liang liao lie lin
ling liu lo long lou lu luan lun luo lv lve ma mai man mang mao me mei men meng mi mian miao mie min ming
miu mo mou mu na nai nan nang nao ne nei nen neng ni nian niang niao nie nin ning niu nong nou nu nuan nun
nuo nv nve o ou pa pai pan pang pao pei pen peng pi pian piao pie pin ping po pou pu qi qia qian qiang qiao
qie qin qing qiong qiu qu quan que qun ran rang rao re ren reng ri rong rou ru rua ruan rui run ruo sa sai
san sang sao se sen seng sha shai shan shang shao she shen sheng shi shou shu shua shuai shuan shuang shui
shun shuo si song sou su suan sui sun suo ta tai tan tang tao te teng ti tian tiao tie ting tong tou tu tuan
tui tun tuo wa wai wan wang wei wen weng wo wu xi xia xian xiang xiao xie xin xing xiong xiu xu xuan xue xun
ya yan yang yao ye yi yin ying yo yong you yu yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai zhan
zhang zhao zhe zhen zheng zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu zuan zui
zun zuo
"""
_PINYIN_SYLLABLES = frozenset(_PINYIN_TEXT.split())
_MAX_SYLLABLE = 6


def pinyin_syllables(word: str) -> list[str] | None:
    """"zenmedache" → ["zen", "me", "da", "che"] (fewest syllables), or None when it is not pinyin."""
    word = word.lower()
    best: list[list[str] | None] = [[]] + [None] * len(word)
    for i in range(len(word)):
        head = best[i]
        if head is None:
            continue
        for n in range(1, min(_MAX_SYLLABLE, len(word) - i) + 1):
            if word[i:i + n] in _PINYIN_SYLLABLES:
                known = best[i + n]
                if known is None or len(known) > len(head) + 1:
                    best[i + n] = [*head, word[i:i + n]]
    return best[-1] or None


def is_pinyin(word: str) -> bool:
    """Whether a latin word splits into Mandarin syllables ("jingfugong", "zenme", "renminbi")."""
    return pinyin_syllables(word) is not None


def detect(text: str, first: bool = False) -> str | None:
    """"zh-CN", "en", or None when the text does not tell. A single latin word that is not pinyin ("hi",
    "pharmacy") tells only in a conversation's `first` message: later, an "ok" keeps the language it had."""
    if not text:
        return None
    if _CJK.search(text):
        return "zh-CN"
    words = [w.lower() for w in _LATIN_WORD.findall(text)]
    english = [w for w in words if w in _ENGLISH and not is_pinyin(w)]  # "an", "long", "men" are pinyin too
    if english and (len(words) >= 2 or first):
        return "en"
    # Two or more latin words that are not all pinyin ("insadong ssamziegil", "deoksugung worth visiting"), unless
    # the text carries a document number: "Li Lei, EB1234567, China" is passport details, in no language.
    if len(words) >= 2 and not all(is_pinyin(w) for w in words) and not _DOCUMENT.search(text):
        return "en"
    return None

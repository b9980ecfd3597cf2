"""Messages that are not guide questions, told by their wording: a request for a person, and
chit-chat addressed to 小申 itself.

NLU's intents do most of this; these rules are the second reader every action consults, for what a
statistical model trained on a few hundred examples misses or reads the wrong way round:

- **A request for a person** is a verb of asking (找, 转, 叫, 接, 要, 让, 换 …) with the person asked
  for (人工 and its typos, 真人, 客服, 工作人员, 负责人, 领导 …); asking whether a person is there (有
  真人吗, 有人伐); refusing the machine (不想跟机器人说); and the English ways of saying so. A mention
  of staff inside a guide question (窗口工作人员说要带户口本) asks for nobody.
- **Chit-chat addressed to the bot** is a short message with 你/侬/you as its subject asking about the
  bot's own life (你有身份证吗, 侬吃过了伐, do you have a driver's license?) or remarking on it (你好笨,
  you're smart), with no word of a service question (怎么办, 材料, 申请, how do I …): a personal
  question that happens to hold a service's keyword is smalltalk, not that service.
"""

from __future__ import annotations

import re
from typing import Final

from knowledge_base.scope import commercial, role_play
from knowledge_base.sections import fold

# Whom a person request asks for (人工 with its common typos, 真人, staff, a manager).
_PERSON: Final = (r"(?:人[工功宫公攻]|真人|活人|客服|工作人员|店小二|坐席|负责人|领导|经理|主管|值班|专员"
                  r"|专人|业务员|个人(?:来|过来|接|帮|跟|和|同)"
                  r"|(?<!啥)(?<!么)人来|(?<!啥)(?<!么)人过来)")
_ASK: Final = (r"(?:转|接|找|叫|喊|要|换|请|让|寻|派|来|麻烦|帮我|给我|我要|我想|想|能不能|可以|可不可以"
              r"|升级|交给|转交)")
_PERSON_REQUEST: Final = re.compile(
    rf"{_ASK}\S{{0,6}}{_PERSON}"
    r"|(?<!你)(?<!侬)(?<!您)(?:有没有|有|是不是|是)(?:个)?(?:真人|人工|活人)(?:吗|嘛|伐|哇|在|在吗|在伐|呢|啊|呀)"
    r"|^\W*(?:要人|转接|人呢|活人|真人)\W*$|有没有人(?:能|可以)?\S{0,3}(?:接|回|帮|处理|管)"
    r"|转\s*[仁认任][工宫功公]|(?:找|寻)(?:个)?人(?:吧|啊|呀|好伐|好吗)?\W*$|个人问(?:问|一下)"
    r"|(?:领导|负责人|经理|主管|值班的)\S{0,3}(?:呢|在哪|在吗|在伐|出来)"
    r"|(?:让|叫|请|派)\S{0,5}人(?:给我)?(?:打电话|回电|联系我)|(?:打|回)(?:个)?电话(?:过来|给我)|给我回(?:个)?电话"
    r"|(?:^|\s)有(?:没有)?人(?:在)?(?:吗|嘛|伐|啊|呀|哇|在不在)"
    r"|(?:有没有|有)\S{0,6}(?:客服|工作人员|真人|人工|店小二)"
    r"|^(?:\W*(?:人[工功宫公攻]|真人|人工客服|店小二)\W*(?:客服|服务)?)+\W*$"
    r"|(?:人[工功宫公攻]|真人|活人|店小二|客服)\s*(?:客服|服务|坐席)?\s*(?:呢|在哪|在吗|在伐|在不在|有伐|有吗|有没有"
    r"|谢谢|please|thanks)"
    r"|(?:跟|和|同|搭)(?:真|活)?人(?:说|讲|聊|谈|沟通|讲话|说话)"
    r"|(?:不想|不要|别|勿要|覅|不跟|不和|懒得)(?:再)?(?:跟|和|同|搭|用|拿|让|叫)?(?:侬|你)?(?:这个|个)?"
    r"(?:机器|机械|ai|智能|电脑|bot)"
    r"|机器人.{0,12}(?:换|叫|找|要|转)(?:个)?人"
    r"|(?:找|要|叫)(?:个)?人(?:反映|处理|来|帮|说|谈|聊|沟通|解决)"
    r"|转(?:给|到|接给?)\S{0,8}(?:同事|专人|部门的人|负责的人|业务员|人员)"
    r"|(?:等|排)\S{0,2}(?:人[工功]|真人|店小二|客服)"
    r"|\b(?:talk|speak|chat)\b (?:to|with) (?:someone|somebody)\b"
    r"|\breal (?:ppl|people|persons?|humans?)\b"
    r"|\bcan (?:a|an|some|one of your) (?:staff(?: member)?|human|person|agent|officer)\b"
    r"|\b(?:talk|speak|chat|connect|transfer|put|get|want|need|give|pass)\b.{0,40}"
    r"\b(?:human(?! resources)|(?<!in )person|people|agent|operator|representative|staff|someone real"
    r"|somebody real"
    r"|manager|supervisor|colleagues?)\b"
    r"|\b(?:anyone|anybody|someone|somebody) (?:real|human|alive)\b|\banyone (?:out )?there\b"
    r"|\blive (?:chat|support|agent|person)\b"
    r"|\b(?:human|real person|live agent|operator|representative|agent)\b\W*(?:please|pls|now|asap)?\W*$"
    r"|\b(?:not|no|don'?t want|stop)\b.{0,20}\b(?:bots?|robots?|machines?|ai|automated)\b"
    r"|\bis (?:there|anyone|anybody) .{0,20}\b(?:human|person|real|staff|there)\b"
    r"|\bhuman\b.{0,10}\bplease\b"
    r"|\b(?:someone|somebody|a member of (?:your )?(?:team|staff)|an? (?:officer|staff member))\b.{0,40}"
    r"\b(?:phone|call|contact|ring)\b|\b(?:phone|call|ring) me\b|\bcall me back\b",
    re.IGNORECASE)
# Our own people by name: a request for them stands even beside a private matter.
_NAMED_AGENT: Final = re.compile(r"人[工功宫公攻]|真人|客服|店小二|工作人员|\b(?:human|agent|operator)\b")
# Staff named inside a guide question ("工作人员说要带户口本", "客服电话是多少"): no request.
_STAFF_AS_SOURCE: Final = re.compile(
    r"(?:人工|工作人员|客服|窗口)(?:说|讲|告诉|让我|叫我|要求|电话|热线|号码)")

# Chit-chat: 你/侬/you is the subject, the bot's life is the topic, and no service question is asked.
_TO_BOT: Final = re.compile(
    r"^\W*(?:小申\W*)?(?:请问)?(?:等|要是|如果)?(?:你|侬|您|小申)(?!们)(?:本人|自己)?"
    r"(?:也|还|平时|今天|每天|到底|真|好|太|几点|周末|晚上|要不要|要|老了以后){0,2}"
    r"(?:有没有|有|结婚|结过婚|交|缴|退休|住|生|上班|下班|休息|放假|上学|会|喜欢|欢喜|爱|吃|是|几岁|多大|叫|开心|高兴|累|睡|用"
    r"|好笨|真笨|太笨|好傻|真傻|好聪明|真聪明|老聪明|好厉害|真厉害|真棒|好棒|好可爱|可爱|笨|傻|聪明|厉害"
    r"|男|女|老家|家住|工资|拿|领|考|买|去过|出过|养|做过|谈|单身|在干|忙|没用|差劲|可爱|笨|傻|棒|上过|老了"
    r"|摇到|拍到|中过|心情|饭吃|吃饭|夜饭|中饭|的(?:身份证|公积金|社保|工资|名字|户口|驾照|护照|房子|生日|年龄|电话))"
    r"|^\W*小申(?:这个|这)?名字"
)
_YOU_EN: Final = re.compile(
    r"^\W*(?:(?:do|did|are|have|were|will|would|can) you\b(?! (?:also |even |guys )?"
    r"(?:help|tell|explain|know how|show|check|find|look|give|send|let|get me|handle|process|assist|answer"
    r"|recommend|suggest|cover|deal"
    r"|book|do my|fill))"
    r"|what(?:'s|s| is) your (?:name|age|favou?rite)|how old are you|how are you|where do you live"
    r"|you(?:'re|re| are) (?:so |pretty |very |really |quite )?(?:smart|clever|useless|stupid|dumb|funny"
    r"|great|cute|amazing|awesome|helpful|slow|boring|cool|nice|kind))", re.IGNORECASE)
# Any of these makes it a question about a service, whoever its subject.
_SERVICE_QUESTION: Final = re.compile(
    r"怎么(?!样)|怎样|如何|咋|哪能|哪里办|在哪办|去哪|需要|要带|材料|流程|条件|申请|办理|手续|多久|多长时间|多少钱|几钿"
    r"|费用|能不能帮|可以帮|帮我|帮忙|查一下|告诉我|指南|政策|规定"
    r"|\bhow (?:do|can|to|long|much)\b|\bwhere (?:do|can|to)\b|\bwhat (?:do|documents|papers)\b|\bapply\b"
    r"|\bneed\b|\brequire", re.IGNORECASE)
# Fondness for the bot, whoever says it (阿拉囡囡老欢喜侬额, 我好喜欢你): small talk, never a request.
_FONDNESS: Final = re.compile(r"(?:欢喜|喜欢|爱)(?:侬|你)(?!们)|\bi (?:really )?(?:like|love) you\b"
                              r"|(?:破|烂|笨|蠢|垃圾|没用的?)(?:机器人|ai|bot)|机器人.{0,6}(?:没用|太笨|好笨|真笨|垃圾)")
_LAUGH: Final = re.compile(r"^\W*(?:[哈呵嘿嘻嘎]{2,}|h{2,}|(?:ha){2,}|lol|lmao|😂+|🤣+)\W*$", re.IGNORECASE)
# Small talk whoever its subject: a joke asked for, a festival greeting, the weather, an acknowledgement.
_SMALL_TOPIC: Final = re.compile(
    r"(?:讲|说|来)(?:一)?[个只]笑话|笑话听听|\btell (?:me )?a joke\b|\bknow any jokes\b"
    r"|嘎讪胡|聊聊天|\bchat with me\b"
    r"|(?:周末|节日|假期|旅途|新年)愉快"
    r"|(?:节|年|春节|中秋|端午|国庆|元旦|生日|周末)快乐|新年好|过年好|\bhappy (?:new year|holidays?|birthday"
    r"|mid-autumn|chinese new year)\b|\bmerry christmas\b")
# The weather: a remark, or a question about the bot's weather ("你那边也下雨吗"), not "下雨天能办吗".
_WEATHER: Final = re.compile(r"下雨|下雪|落雨|落雪|好热|太热|热死|老热|热煞|好冷|太冷|冷死|老冷|冷煞"
                             r"|刮台风|出太阳|天气"
                             r"|\b(?:so |very |really )?(?:hot|cold|rainy|snowy|humid|sunny)\b|\braining\b")
_BOTS_SIDE: Final = re.compile(r"(?:你|侬)(?:那边|那里|这边|那儿)")
_ACK: Final = re.compile(
    r"^\W*(?:明白了?|懂了|知道了|晓得了|收到|了解了?|好的?|好滴|好嘞|行|可以了?|嗯+|哦+|噢+"
    r"|ok|okay|got it|understood|i see|noted|sure|alright|fine)\W*(?:谢谢|多谢|thanks|thank you)?"
    r"\W*(?:再见|拜拜|bye|goodbye|bye bye)?\W*$",
    re.IGNORECASE)
MAX_CHITCHAT_CHARS: Final = 30
MAX_CHITCHAT_CHARS_EN: Final = 60  # English spends about two letters where Chinese spends one character
_CJK_GAP: Final = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
# A remark about the weather or how one feels, asking nothing (天气真好, 心里很难受, 终于办好了): answered
# kindly, not with "no guide found".
_MOOD: Final = re.compile(
    r"天气(真|太|好|不错|老)|心情|开心|高兴|难受|伤心|难过|累死|好累|太累|无聊|郁闷|激动|舒服|终于|太好了|好耶"
    r"|\b(?:nice|lovely|great|beautiful) (?:day|weather)\b"
    r"|\bi(?:'m|m| am) (?:so |feeling |kind of |a bit )*(?:happy|tired|sad|bored|down|low|lonely|stressed)\b",
    re.IGNORECASE)
_ASKS: Final = re.compile(r"[?？]|吗|么|嘛|呢|伐|哪|谁|几|多少|怎|啥|什么|能不能|可不可以|是不是|要不要"
                          r"|\b(?:how|what|where|when|which|who|why|can|could|do|does|is|are)\b",
                          re.IGNORECASE)


# "Are you a bot or a real person?" asks what 小申 is; only with a request (I want …) for a person.
_WHAT_ARE_YOU: Final = re.compile(r"^\W*are you (?:a |an )?(?:bot|robot|ai|machine|human|real)",
                                  re.IGNORECASE)
_REQUEST_EN: Final = re.compile(r"\b(?:want|need|talk|speak|connect|transfer|give me|get me|let me)\b",
                                re.IGNORECASE)


def asks_for_person(text: str) -> bool:
    """True when the message asks for a human agent (or refuses the machine)."""
    folded = _CJK_GAP.sub("", fold(text))  # "转人 工"
    if not folded:
        return False
    match = _PERSON_REQUEST.search(folded)
    if match is None or (_WHAT_ARE_YOU.search(folded) and not _REQUEST_EN.search(folded)):
        return False
    if commercial(folded) and not _NAMED_AGENT.search(folded):
        return False  # "想找个人帮我代理记账，有推荐吗": a provider to recommend, not our staff
    # "窗口工作人员说…" names staff as the source of something: a request only with another cue.
    return not (_STAFF_AS_SOURCE.search(folded) and not re.search(r"真人|转|找|叫|接|换|投诉", folded))


def remark(text: str) -> bool:
    """True for a short remark on the weather or one's feelings that asks nothing."""
    folded = fold(text)
    return (bool(folded) and len(folded) <= MAX_CHITCHAT_CHARS and not _ASKS.search(text.lower())
            and not _SERVICE_QUESTION.search(folded) and bool(_MOOD.search(folded)))


def chitchat(text: str) -> bool:
    """True for chit-chat addressed to 小申 itself: its life, a remark on it, laughter (not an
    attempt to make it play another role, which is out of scope)."""
    folded = fold(text)
    limit = MAX_CHITCHAT_CHARS_EN if folded.isascii() else MAX_CHITCHAT_CHARS
    if not folded or len(folded) > limit or role_play(text):
        return False
    if _LAUGH.match(folded) or _ACK.match(folded):
        return True
    if _SERVICE_QUESTION.search(folded):
        return False
    if _WEATHER.search(folded) and (_BOTS_SIDE.search(folded) or not _ASKS.search(text.lower())):
        return True
    return bool(_TO_BOT.search(folded) or _YOU_EN.search(folded) or _SMALL_TOPIC.search(folded)
                or _FONDNESS.search(folded))

"""Seeded names, texts and ids, so that one seed always builds the same platform."""

from __future__ import annotations

import random

NICKNAMES = [
    "小明",
    "阿花",
    "橘子汽水",
    "晚风",
    "山海",
    "Lily",
    "老王",
    "一颗柠檬",
    "夏天的风",
    "Momo",
    "大熊",
    "星河",
    "阿杰",
    "Cici",
    "胖虎",
    "小鹿乱撞",
    "奶茶续命",
    "Kevin",
    "清风徐来",
    "芒果布丁",
    "Zoe",
    "阿飞",
    "糖糖",
    "北方的狼",
]

POST_TITLES = [
    "周末探店｜这家咖啡绝了",
    "三分钟学会番茄炒蛋",
    "我的通勤穿搭",
    "猫咪的一天",
    "新手露营装备清单",
    "城市夜景随手拍",
    "健身第30天打卡",
    "旅行vlog：大理",
    "书单分享：今年读过最好的书",
    "手机摄影小技巧",
]

COMMENT_TEXTS = [
    "太好看了吧！",
    "求链接～",
    "这是在哪里拍的？",
    "学到了，感谢分享",
    "哈哈哈哈笑死",
    "已关注，期待更新",
    "第一次刷到你，好喜欢",
    "请问多少钱？",
    "同款get",
    "博主好可爱",
    "up主更新好快",
    "马住了",
    "这个教程太实用了",
    "有没有详细一点的步骤？",
    "好想去！",
    "Great content!",
    "背景音乐叫什么？",
    "支持支持",
    "看完马上去试了",
    "绝绝子",
]

MESSAGE_TEXTS = [
    "你好，想咨询一下合作",
    "请问可以转载你的视频吗？",
    "在吗？",
    "这个多少钱呀",
    "链接能发我一下吗",
    "你好，我是品牌方，想约个推广",
    "视频里的衣服哪里买的？",
    "谢谢回复！",
    "可以加个微信吗",
    "期待下一期",
    "Hi, is this available?",
    "好的收到",
]

REPLY_TEXTS = ["谢谢支持～", "已私信你啦", "欢迎常来", "好的，马上安排"]


class IdMaker:
    """Unique, seeded, platform-looking ids (19-digit item ids, 11-digit user ids)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def _unique(self, make: str) -> str:
        while True:
            if make == "item":
                value = str(
                    self._rng.randrange(7_000_000_000_000_000_000, 7_999_999_999_999_999_999)
                )
            elif make == "user":
                value = str(self._rng.randrange(10_000_000_000, 99_999_999_999))
            else:
                raise ValueError(make)
            if value not in self._used:
                self._used.add(value)
                return value

    def item(self) -> str:
        return self._unique("item")

    def user(self) -> str:
        return self._unique("user")

    def sec_uid(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return "MS4wLjABAAAA" + "".join(self._rng.choice(alphabet) for _ in range(32))

    def sms_code(self) -> str:
        return f"{self._rng.randrange(1_000_000):06d}"

    def phone(self) -> str:
        return f"1{self._rng.choice('3456789')}{self._rng.randrange(10**9):09d}"

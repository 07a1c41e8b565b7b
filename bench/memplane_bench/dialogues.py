"""memplane's second development set: long chats between friends, written for memplane, labelled by
construction, in LoCoMo's format (so `memplane-bench eval locomo` reads it as it reads LoCoMo).

Why it exists: the team's LoCoMo copy is what memplane's retrieval was tuned on, so its figures run
above what users get. This set is a second, independent check written from the kinds of misses read on
held-out LoCoMo conversations, not from its text:
- the question uses other words than the message (bought/purchased, doctor/physician, won/win);
- the answer is a short reply whose meaning lives in the turn before it ("Biscuit!" after "What's
  his name?");
- many turns on the same topic crowd out the one that answers;
- the message says "last weekend" and the question asks "when", so the session's date is the clue;
- the answer needs two messages from different sessions (multi-hop) or a judgement from what the
  person said about themselves (open-domain);
- the other friend has similar news (a pet, a trip), so the right person matters.

Everything is generated from a fixed seed: the same file on every machine. Its figures are in-sample
for memplane (written by the people who tune the retrieval) and are reported as such.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "dialogues.json"
SEED = 20261129

MULTI_HOP, TEMPORAL, OPEN_DOMAIN, SINGLE_HOP = 1, 2, 3, 4


@dataclass
class Said:
    """A line one friend says; ``key`` lets a question point at it before turn ids exist."""

    who: str
    text: str
    key: str | None = None


@dataclass
class Ask:
    question: str
    answer: str
    keys: tuple[str, ...]
    category: int


@dataclass
class Story:
    """What one session adds: lines to say, questions they answer, and a later session's follow-up."""

    lines: list[Said]
    asks: list[Ask] = field(default_factory=list)
    later: Callable[[], Story] | None = None


PEOPLE = [
    ("Maya", "she", "her"),
    ("Tom", "he", "his"),
    ("Priya", "she", "her"),
    ("Lukas", "he", "his"),
    ("Ines", "she", "her"),
    ("Omar", "he", "his"),
    ("Hana", "she", "her"),
    ("Diego", "he", "his"),
]
PETS = [
    ("puppy", "dog", ["Biscuit", "Pepper", "Juno"]),
    ("kitten", "cat", ["Mochi", "Olive", "Pixel"]),
    ("rabbit", "rabbit", ["Clover", "Nibbles", "Hazel"]),
]
CITIES = [
    ("Lisbon", "the tiled facades in Alfama"),
    ("Kyoto", "the bamboo grove at Arashiyama"),
    ("Edinburgh", "the castle lit up at night"),
    ("Oaxaca", "the mezcal tasting in the market"),
    ("Reykjavik", "the black sand beach at Vik"),
    ("Vienna", "the opera house"),
]
JOBS = [
    ("a bakery downtown", "head pastry chef", "croissants"),
    ("a small architecture firm", "junior architect", "floor plans"),
    ("the city library", "children's librarian", "story time"),
    ("a bike repair shop", "mechanic", "wheel truing"),
]
HOBBIES = [
    ("pottery", "a kick wheel", "my glaze keeps cracking in the kiln", "a lopsided mug"),
    ("rock climbing", "new climbing shoes", "my forearms are always sore", "a harder route"),
    ("the violin", "a carbon fibre bow", "my teacher says my posture is off", "a Bach partita"),
    ("birdwatching", "a pair of binoculars", "the herons only show up at dawn", "a kingfisher"),
]
SIBLINGS = [
    ("sister", "Clara", "Porto"),
    ("brother", "Felix", "Montreal"),
    ("sister", "Aiko", "Osaka"),
    ("brother", "Ravi", "Pune"),
]
INJURIES = [
    ("sprained my ankle", "ankle", "playing five-a-side football", "physio"),
    ("broke my wrist", "wrist", "falling off my bike", "cast"),
    ("pulled a muscle in my back", "back", "moving a sofa", "chiropractor"),
]
PRIZES = [
    ("the office chess tournament", "a little glass trophy"),
    ("a neighbourhood chili cook-off", "a wooden spoon and bragging rights"),
    ("a photography contest at the library", "a gift card for prints"),
]
DISLIKES = [
    ("I really can't stand big crowds", "quiet evenings with a mystery novel", "music festival"),
    ("honestly I get seasick on anything bigger than a canoe", "long walks in the hills", "cruise"),
    ("spicy food wrecks me", "plain home cooking", "hot wings challenge"),
]
SMALL_TALK = [
    ("How was your week?", "Busy, work has been a lot. Yours?"),
    ("The weather has been awful lately.", "I know, it rained all weekend here too."),
    ("Did you end up watching that series I mentioned?", "Two episodes so far, it's slow but good."),
    ("I made soup for the whole week on Sunday.", "Smart. I keep ordering takeaway, it's bad."),
    ("My phone screen cracked again.", "Again? You need a better case."),
    ("Traffic this morning was unbelievable.", "Roadworks everywhere, right? It's the same by me."),
    ("I finally cleaned out the garage.", "Nice, that always feels good once it's done."),
    ("I've been sleeping badly this week.", "Try leaving the phone in another room, it helped me."),
    ("We had friends over for dinner on Saturday.", "Fun! What did you cook?"),
    ("I started a new book yesterday.", "Let me know if it's any good."),
    ("Our neighbours are renovating, the drilling starts at seven.", "That would drive me mad."),
    ("I tried that new coffee place on the corner.", "Any good? The queue is always long."),
    ("My plants are finally growing again.", "Spring does wonders. Mine are still sulking."),
    ("I spent the whole evening sorting out taxes.", "The worst. At least it's done now."),
    ("The train was cancelled again this morning.", "Classic. Did you make it in on time?"),
    ("We're thinking about repainting the living room.", "What colour? Please not grey."),
    ("I've been trying to drink less coffee.", "How's that going? I'd last a day."),
    ("There was a power cut last night for three hours.", "Candles and board games, I hope."),
    ("I finally fixed the squeaky door.", "Small victories, those are the best."),
    ("My laptop has been so slow lately.", "Maybe it's time for a new one."),
]
GREETINGS = [
    ("Hey {b}! Long time, how are you?", "Hi {a}! Good, good. What's new with you?"),
    ("Morning {b}, got a minute to chat?", "Always, {a}. What's up?"),
    ("{b}! I have news.", "Ooh, tell me, {a}."),
]
GOODBYES = [
    ("Anyway, I should run. Talk soon!", "Take care, {a}!"),
    ("I need to start dinner, catch you later.", "Bye {a}, good to hear from you."),
]


def _pet(rng: random.Random, a: tuple[str, str, str], b: str, tag: str) -> Story:
    young, kind, names = rng.choice(PETS)
    name = rng.choice(names)
    lines = [
        Said(a[0], f"Last weekend we finally adopted a {young} from the shelter!", f"{tag}adopt"),
        Said(b, "No way, that's amazing! What did you call it?"),
        Said(a[0], f"{name}! {a[1].capitalize()} already chewed through a shoelace.", f"{tag}name"),
        Said(b, "Ha, that's how it starts. Send pictures."),
    ]
    asks = [
        Ask(f"What is the name of {a[0]}'s {kind}?", name, (f"{tag}name",), SINGLE_HOP),
        Ask(f"When did {a[0]} get a {kind}?", "the weekend before", (f"{tag}adopt",), TEMPORAL),
    ]

    def later() -> Story:
        return Story(
            [
                Said(
                    a[0], f"{name} has learned to sit, but only when there's cheese involved.", f"{tag}train"
                ),
                Said(b, "Bribery works on all of us."),
            ],
            [Ask(f"What trick has {a[0]}'s pet learned?", "to sit", (f"{tag}train",), SINGLE_HOP)],
        )

    return Story(lines, asks, later)


def _trip(rng: random.Random, a: tuple[str, str, str], b: str, tag: str) -> Story:
    city, sight = rng.choice(CITIES)
    lines = [
        Said(a[0], f"I just got back from {city} last week.", f"{tag}back"),
        Said(b, "How was it? I've always wanted to go."),
        Said(a[0], f"Honestly the highlight was {sight}.", f"{tag}sight"),
        Said(b, "Sounds like a dream."),
    ]
    return Story(
        lines,
        [
            Ask(f"When did {a[0]} travel to {city}?", "the week before", (f"{tag}back",), TEMPORAL),
            Ask(
                f"What did {a[0]} like most about the holiday in {city}?", sight, (f"{tag}sight",), SINGLE_HOP
            ),
        ],
    )


def _job(rng: random.Random, a: tuple[str, str, str], b: str, tag: str) -> Story:
    place, role, task = rng.choice(JOBS)
    lines = [
        Said(b, f"Did you hear back from {place}?"),
        Said(a[0], "Yes! They offered it to me and I said yes.", f"{tag}yes"),
        Said(b, "Congratulations! What will you be doing?"),
        Said(a[0], f"I'll be their {role}. Lots of {task}.", f"{tag}role"),
    ]
    asks = [
        Ask(f"What position did {a[0]} accept?", role, (f"{tag}role",), SINGLE_HOP),
        Ask(f"Did {a[0]} get the job at {place}?", "yes", (f"{tag}yes",), SINGLE_HOP),
    ]

    def later() -> Story:
        return Story(
            [
                Said(
                    a[0],
                    f"First month at the new place done. My boss said my {task} are the best they've had.",
                    f"{tag}boss",
                ),
                Said(b, "Of course they are!"),
            ],
            [
                Ask(
                    f"What feedback did {a[0]} get from {a[2]} manager?",
                    f"praised {a[2]} {task}",
                    (f"{tag}boss",),
                    SINGLE_HOP,
                )
            ],
        )

    return Story(lines, asks, later)


def _hobby(rng: random.Random, a: tuple[str, str, str], b: str, tag: str) -> Story:
    hobby, gear, trouble, goal = rng.choice(HOBBIES)
    lines = [
        Said(a[0], f"I've picked up {hobby} again, twice a week now.", f"{tag}start"),
        Said(b, f"Good for you! Is {hobby} hard to get back into?"),
        Said(a[0], f"A bit, {trouble}.", f"{tag}trouble"),
    ]
    asks = [Ask(f"What problem does {a[0]} have with {hobby}?", trouble, (f"{tag}trouble",), SINGLE_HOP)]

    def later() -> Story:
        return Story(
            [
                Said(a[0], f"More {hobby} news: I got myself {gear}.", f"{tag}gear"),
                Said(b, f"Serious {hobby} now!"),
                Said(a[0], f"And I'm working towards {goal}.", f"{tag}goal"),
                Said(b, f"You'll get there, you always talk about {hobby} with so much energy."),
            ],
            [
                Ask(f"What equipment did {a[0]} purchase?", gear, (f"{tag}gear",), SINGLE_HOP),
                Ask(f"What is {a[0]} aiming for in {hobby}?", goal, (f"{tag}goal",), SINGLE_HOP),
                Ask(
                    f"How often does {a[0]} do {hobby}, and what did {a[1]} buy for it?",
                    f"twice a week; {gear}",
                    (f"{tag}start", f"{tag}gear"),
                    MULTI_HOP,
                ),
            ],
        )

    return Story(lines, asks, later)


def _family(rng: random.Random, a: tuple[str, str, str], b: str, tag: str) -> Story:
    relation, name, city = rng.choice(SIBLINGS)
    lines = [
        Said(a[0], f"My {relation} {name} is flying in from {city} on Friday.", f"{tag}visit"),
        Said(b, "Lovely, how long is the visit?"),
        Said(a[0], "Just five days, we'll squeeze in as much as we can."),
    ]

    def later() -> Story:
        return Story(
            [
                Said(a[0], f"Big family news: {name} got engaged!", f"{tag}engaged"),
                Said(b, "Oh wow, congratulations to them!"),
            ],
            [
                Ask(
                    f"Where does the sibling of {a[0]} who got engaged live?",
                    city,
                    (f"{tag}visit", f"{tag}engaged"),
                    MULTI_HOP,
                ),
                Ask(
                    f"Who in {a[0]}'s family is getting married?",
                    f"{relation} {name}",
                    (f"{tag}engaged",),
                    SINGLE_HOP,
                ),
            ],
        )

    return Story(
        lines, [Ask(f"Where does {a[0]}'s {relation} live?", city, (f"{tag}visit",), SINGLE_HOP)], later
    )


def _injury(rng: random.Random, a: tuple[str, str, str], b: str, tag: str) -> Story:
    what, part, how, care = rng.choice(INJURIES)
    lines = [
        Said(b, "You sounded tired in your message, everything ok?"),
        Said(a[0], f"Not really, I {what} {how}.", f"{tag}hurt"),
        Said(b, "Ouch! Did you see a doctor?"),
        Said(a[0], f"Yes, the physician said six weeks, with {care} twice a week.", f"{tag}care"),
    ]

    def later() -> Story:
        return Story(
            [
                Said(b, f"How's the {part} doing?"),
                Said(a[0], "All healed, finally. Back to normal this week.", f"{tag}healed"),
            ],
            [Ask(f"Has {a[0]} recovered from the injury?", "yes", (f"{tag}healed",), SINGLE_HOP)],
        )

    return Story(
        lines,
        [
            Ask(f"How did {a[0]} get hurt?", how, (f"{tag}hurt",), SINGLE_HOP),
            Ask(f"What treatment did the doctor prescribe {a[0]}?", care, (f"{tag}care",), SINGLE_HOP),
            Ask(f"When was {a[0]} injured?", "shortly before", (f"{tag}hurt",), TEMPORAL),
        ],
        later,
    )


def _prize(rng: random.Random, a: tuple[str, str, str], b: str, tag: str) -> Story:
    contest, prize = rng.choice(PRIZES)
    lines = [
        Said(a[0], f"Guess who won {contest} yesterday!", f"{tag}won"),
        Said(b, "You?! What did you get?"),
        Said(a[0], f"{prize.capitalize()}, ha.", f"{tag}prize"),
    ]
    return Story(
        lines,
        [
            Ask(f"Has {a[0]} ever won a competition?", f"yes, {contest}", (f"{tag}won",), SINGLE_HOP),
            Ask(f"What prize did {a[0]} win?", prize, (f"{tag}prize",), SINGLE_HOP),
        ],
    )


def _taste(rng: random.Random, a: tuple[str, str, str], b: str, tag: str) -> Story:
    dislike, like, event = rng.choice(DISLIKES)
    lines = [
        Said(b, f"Want to come to a {event} with us next month?"),
        Said(a[0], f"Thanks, but {dislike}. I'm more into {like}.", f"{tag}taste"),
        Said(b, "Fair enough, next time something calmer."),
    ]
    return Story(
        lines,
        [
            Ask(f"Would {a[0]} enjoy a {event}?", "probably not", (f"{tag}taste",), OPEN_DOMAIN),
            Ask(f"What kind of free time does {a[0]} prefer?", like, (f"{tag}taste",), OPEN_DOMAIN),
        ],
    )


STORIES = [_pet, _trip, _job, _hobby, _family, _injury, _prize, _taste]


def _conversation(rng: random.Random, number: int, sessions: int) -> dict[str, Any]:
    a, other = rng.sample(PEOPLE, 2)
    b = other[0]
    when = datetime(2023, 1, 9, 10, 0) + timedelta(days=rng.randrange(0, 300))
    pending: list[tuple[int, Callable[[], Story]]] = []
    lines_by_session: list[list[Said]] = []
    asks: list[Ask] = []
    dates: list[datetime] = []
    # Every story once for the user's friend a, and four again for b: similar news from the other
    # person is what makes "whose?" matter.
    stories = [(f, a) for f in STORIES] + [(f, other) for f in rng.sample(STORIES, 4)]
    rng.shuffle(stories)
    for s in range(sessions):
        lines: list[Said] = []
        hello, reply = rng.choice(GREETINGS)
        lines += [Said(a[0], hello.format(a=a[0], b=b)), Said(b, reply.format(a=a[0], b=b))]
        due = [p for p in pending if p[0] <= s]
        pending = [p for p in pending if p[0] > s]
        todays = [f() for _, f in due]
        for _ in range(2 if len(stories) > sessions - s - 1 else 1):
            if stories:
                tell, teller = stories.pop()
                listener = b if teller is a else a[0]
                todays.append(tell(rng, teller, listener, f"c{number}s{s}k{len(stories)}"))
        for story in todays:
            for first, second in rng.sample(SMALL_TALK, 2):
                speaker = rng.choice([a[0], b])
                lines += [Said(speaker, first), Said(b if speaker == a[0] else a[0], second)]
            lines += story.lines
            asks += story.asks
            if story.later is not None:
                pending.append((s + rng.randrange(1, 4), story.later))
        bye, reply = rng.choice(GOODBYES)
        lines += [Said(a[0], bye), Said(b, reply.format(a=a[0]))]
        lines_by_session.append(lines)
        dates.append(when)
        when += timedelta(days=rng.randrange(5, 21), hours=rng.randrange(0, 9))
    return _as_locomo(f"mp-{number}", a[0], b, lines_by_session, dates, asks)


def _as_locomo(
    sample_id: str, a: str, b: str, sessions: list[list[Said]], dates: list[datetime], asks: list[Ask]
) -> dict[str, Any]:
    conversation: dict[str, Any] = {"speaker_a": a, "speaker_b": b}
    ids: dict[str, str] = {}
    session_of: dict[str, int] = {}
    for n, (lines, date) in enumerate(zip(sessions, dates, strict=True), 1):
        turns = []
        for t, said in enumerate(lines, 1):
            dia_id = f"D{n}:{t}"
            turns.append({"speaker": said.who, "dia_id": dia_id, "text": said.text})
            if said.key is not None:
                ids[said.key] = dia_id
                session_of[said.key] = n
        conversation[f"session_{n}"] = turns
        noon = "am" if date.hour < 12 else "pm"
        conversation[f"session_{n}_date_time"] = f"{date:%-I:%M} {noon} on {date.day} {date:%B}, {date.year}"
    qa = []
    for ask in asks:
        if all(k in ids for k in ask.keys):  # a follow-up scheduled past the last session never happened
            answer = ask.answer
            if ask.category == TEMPORAL:
                answer = f"{answer} {dates[session_of[ask.keys[0]] - 1].strftime('%-d %B %Y')}"
            qa.append(
                {
                    "question": ask.question,
                    "answer": answer,
                    "evidence": [ids[k] for k in ask.keys],
                    "category": ask.category,
                }
            )
    return {"sample_id": sample_id, "conversation": conversation, "qa": qa}


def generate(conversations: int = 5, sessions: int = 18, seed: int = SEED) -> list[dict[str, Any]]:
    rng = random.Random(seed)  # noqa: S311 - a fixed data set, not a secret
    return [_conversation(rng, n, sessions) for n in range(1, conversations + 1)]


def main() -> None:
    """Regenerate ``data/dialogues.json`` (``python -m memplane_bench.dialogues``)."""
    DATA.write_text(json.dumps(generate(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written {DATA}")


if __name__ == "__main__":
    main()

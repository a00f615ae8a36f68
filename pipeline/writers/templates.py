"""The offline writer's words: an explainer skeleton in five tones, with no invented facts.

Every sentence is framing that is true for any topic (what to look at, why it matters, a
question for the viewer); the topic appears through the placeholders `{about}`, `{wonder}`,
and `{direct}` (see `topic.Topic`). Text in [brackets] is an optional extension,
spoken only when a longer video needs longer sentences. Formal and calm text has no
exclamation marks; formal text has no contractions.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.brief import Tone


@dataclass(frozen=True)
class Beat:
    """One step of the explainer: where it sits, how much it is wanted, its scene card."""

    key: str
    position: int
    priority: int
    label: str
    texts: dict[Tone, tuple[str, ...]]


N, P, F, C, D = Tone.NEUTRAL, Tone.PLAYFUL, Tone.FORMAL, Tone.CALM, Tone.DRAMATIC

BEATS: tuple[Beat, ...] = (
    Beat("setup", 0, 0, "Here We Go", {
        N: ("Let's talk about {about}[, and keep it simple enough that you could explain it to a "
            "friend afterwards].",
            "Today we're taking a clear, simple look at {about}[, one step at a time, without "
            "any jargon getting in the way]."),
        P: ("Alright, let's get into {about}[, no lab coat, no homework, and absolutely no pop "
            "quiz at the end].",),
        F: ("This video examines {about}[, step by step, in plain terms, and without assuming "
            "any prior knowledge].",),
        C: ("Let's take a slow, quiet look at {about}[, one idea at a time, with nowhere else "
            "we need to be].",),
        D: ("This is the story behind {about}[, and we are going to tell it piece by piece, "
            "until nothing is left hidden].",),
    }),
    Beat("premise", 1, 6, "First Impressions", {
        N: ("At first glance it seems simple[, but the first answer that comes to mind is "
            "rarely the whole story].",),
        P: ("On paper it sounds easy[, which is exactly what makes it sneaky, like a cat "
            "sitting very still next to a full glass].",),
        F: ("At first glance, the matter appears simple[; a closer look, however, is "
            "considerably more rewarding than a first impression].",),
        C: ("At first it may seem simple[, and that is a perfectly fine place to begin, so let "
            "that first impression settle].",),
        D: ("It looks simple on the surface[, but the surface is exactly where the trouble "
            "begins, and where most people stop looking].",),
    }),
    Beat("question", 2, 1, "The Real Question", {
        N: ("The interesting part isn't the quick answer; it's the reasoning behind it[, and "
            "that's the part worth slowing down for, even in a video this short].",),
        P: ("The fun part isn't the answer, it's the why behind the answer[, and no, you can't "
            "phone a friend on this one].",),
        F: ("The central matter is not the short answer, but the reasoning behind it[, and "
            "that distinction deserves some care before any conclusion is drawn].",),
        C: ("What matters most here is not the quick answer, but the reasoning behind it[, and "
            "there is no hurry at all to reach it, so let it unfold].",),
        D: ("But the real story isn't the answer; it's the reasoning behind it[, and that is "
            "exactly where things start to get interesting].",),
    }),
    Beat("basics", 3, 3, "Start With the Basics", {
        N: ("First, the basics: what are we actually looking at[, and which words do we need "
            "to describe it clearly]?",),
        P: ("Step one: figure out what we're actually looking at[, before we get too excited "
            "and start drawing arrows on everything].",),
        F: ("First, it is necessary to establish what exactly is being examined[, and which "
            "terms describe it with the most precision].",),
        C: ("First, let's simply notice what we are looking at[, without rushing to explain it "
            "or judge it just yet].",),
        D: ("First, strip it back to the bare essentials[, because that is where every real "
            "mystery starts to give up its secrets].",),
    }),
    Beat("parts", 4, 7, "Piece by Piece", {
        N: ("Next, break it into two parts: what happens, and what makes it happen[, and keep "
            "those two questions apart while you think].",),
        P: ("Then we take it apart like a curious toddler with a screwdriver[, gently, "
            "carefully, and with adult supervision at all times].",),
        F: ("Next, the subject divides naturally into two parts: what occurs, and what causes "
            "it[ to occur in the first place, which is often the harder part].",),
        C: ("Then we can separate it into two small pieces: what happens, and why[, taking "
            "each piece in its own time and setting it down gently].",),
        D: ("Then we take it apart, piece by piece[, until every hidden moving part is out in "
            "the open where we can see it].",),
    }),
    Beat("closer", 5, 8, "A Closer Look", {
        N: ("Now zoom in and follow it one step at a time[, the way you would trace a route on "
            "a map before a long trip].",),
        P: ("Now zoom in, detective style[, magnifying glass in hand and a very serious squint "
            "on your face].",),
        F: ("A closer examination then follows the process one stage at a time[, noting what "
            "changes at each step and what causes the change].",),
        C: ("Now let's move a little closer and follow it step by step[, breathing easily, and "
            "letting each step make sense before the next].",),
        D: ("Now we move in closer[, and with every step the picture gets sharper and harder "
            "to look away from].",),
    }),
    Beat("myth", 6, 9, "Too Neat?", {
        N: ("Be wary of any explanation that sounds too neat[; real answers often come with a "
            "few twists, and the twists are where it gets interesting].",),
        P: ("If an explanation sounds too neat, be suspicious, like a cookie left unguarded on "
            "the counter[; the twists are usually the good part, and we love a good twist].",),
        F: ("Any explanation that sounds too neat deserves some caution[, as tidy explanations "
            "frequently capture only part of the picture].",),
        C: ("If an explanation sounds very neat, hold it lightly[; there is often more beneath "
            "it, waiting patiently to be noticed].",),
        D: ("Beware the explanation that sounds too neat[; it is rarely the whole truth, and "
            "the whole truth is always the better story].",),
    }),
    Beat("matters", 7, 4, "Why It Matters", {
        N: ("Why care? Because understanding one detail well makes the bigger picture easier "
            "to see[, and that habit carries over to everything else you learn].",),
        P: ("Why should you care? Because this is how you become the most interesting person "
            "at dinner[, or at least the one who talks the most between the main course and "
            "dessert].",),
        F: ("This matters because understanding one detail well makes the broader picture "
            "easier to grasp[ and, in turn, considerably easier to explain clearly to others].",),
        C: ("It matters, quietly, because understanding one small thing well makes the bigger "
            "picture clearer[, and that clarity is calming in its own way].",),
        D: ("Why does it matter? Because one small detail can change how you see the whole "
            "picture[, if you are willing to look closely enough and keep looking].",),
    }),
    Beat("connect", 8, 10, "Connect the Dots", {
        N: ("Once it clicks, you'll start noticing similar patterns in other places[, which is "
            "honestly half the fun of learning how things work].",),
        P: ("Warning: once you get it, you'll start spotting it everywhere[, and you will "
            "absolutely tell your friends about it whether they ask or not].",),
        F: ("Once understood, the same reasoning often applies in other contexts[, which is "
            "precisely what makes it worth learning well].",),
        C: ("Once it clicks, you may notice the same idea in other places[, softly, like a "
            "familiar tune you hear again somewhere unexpected].",),
        D: ("And once you see it, you cannot unsee it[; it will follow you into every place "
            "you look from now on].",),
    }),
    Beat("check", 9, 5, "Check the Details", {
        N: ("For the exact details, check a source you trust[, because the best explanations "
            "are the ones you can verify for yourself].",),
        P: ("And please fact-check me[; a trusted source beats a narrator in a short video "
            "every single time, no hard feelings].",),
        F: ("For precise details, consult a reliable source[; a sound explanation is one that "
            "can always be verified independently].",),
        C: ("When you have a moment, look up the details in a source you trust[, at your own "
            "pace and in your own time].",),
        D: ("But don't take my word for it[; find a source you trust, dig into the details, "
            "and see it for yourself].",),
    }),
    Beat("recap", 10, 11, "The Takeaway", {
        N: ("So the next time someone brings up {about}, you'll know where to start[, which "
            "questions are worth asking first, and where to look for good answers].",),
        P: ("So next time someone mentions {about} at a party, you're ready[, smug little "
            "smile and all, and possibly a small round of applause].",),
        F: ("In summary, the topic of {about} rewards a careful, step-by-step approach[ that "
            "begins with asking the right question and checking each answer].",),
        C: ("So the next time you think about {about}, you can take it slowly[, one gentle "
            "step at a time, and enjoy the thinking as much as the answer].",),
        D: ("So the next time someone brings up {about}, you'll know where the real story "
            "begins[, and you'll know exactly which questions to ask].",),
    }),
    Beat("viewer", 11, 2, "Over to You", {
        N: ("What would you have guessed? Tell me in the comments[, and follow along for more "
            "short explainers like this one].",),
        P: ("What was your guess? Drop it in the comments[, and yes, wrong answers are "
            "especially welcome here, the wronger the better].",),
        F: ("What is your view? Share it in the comments[, and follow for further short "
            "explainers on questions like this one].",),
        C: ("What do you think? Share it in the comments whenever you like[, and follow for "
            "more slow, simple explainers whenever you need a quiet minute].",),
        D: ("Now it's your turn: what did you guess? Tell me in the comments[, if you dare, "
            "and follow before the next story drops].",),
    }),
)
BEAT_BY_KEY = {beat.key: beat for beat in BEATS}

JOKE = "joke"
JOKE_LABEL = "One More Thing"
JOKES: tuple[str, ...] = (
    "And if anyone asks, yes, this will be on the test. There is no test.",
    "If that blew your mind, please collect the pieces on your way out.",
    "I'd explain more, but my coffee just went cold.",
    "That's it, class dismissed. Snacks are in the back. There are no snacks.",
    "My houseplant claims it knew all this already. My houseplant is a liar.",
)

HOOKS: dict[Tone, tuple[str, str]] = {
    # (for a topic that is a clause or a noun phrase, for a direct question)
    N: ("Ever wondered {wonder}?", "{direct}"),
    P: ("Okay, real talk: have you ever wondered {wonder}?", "Okay, real talk: {direct}"),
    F: ("Consider, for a moment, {about}.", "Consider the following question: {direct}"),
    C: ("Take a slow breath, and let's gently explore {about}.",
        "Here is a gentle question to sit with: {direct}"),
    D: ("Stop scrolling. We need to talk about {about}.", "Stop scrolling. {direct}"),
}

TITLES: dict[Tone, tuple[str, str, str]] = {
    # (question topic, plain topic, direct question); {label} is the title-cased topic
    N: ("{label}", "{label}, Explained", "{label}"),
    P: ("{label}? Let's Find Out", "{label}, but Make It Fun", "{label} Let's Find Out"),
    F: ("{label}: A Short Explainer", "{label}: A Short Explainer", "{label} A Short Explainer"),
    C: ("{label}, Gently Explained", "{label}, Gently Explained", "{label} A Gentle Look"),
    D: ("The Real Story of {label}", "The Real Story of {label}", "{label} The Real Story"),
}

PALETTES: dict[Tone, tuple[tuple[str, str], ...]] = {
    # dark pairs only, so white captions keep a contrast ratio of at least 4.5:1
    N: (("#1d2b64", "#2c5364"), ("#203a43", "#2c5364"),
        ("#232526", "#414345"), ("#16222a", "#3a6073")),
    P: (("#6a1b9a", "#ad1457"), ("#4527a0", "#00695c"),
        ("#ad1457", "#4527a0"), ("#283593", "#6a1b9a")),
    F: (("#0f2027", "#203a43"), ("#1c1c2e", "#34344a"),
        ("#2b2d42", "#1b263b"), ("#1a1a1a", "#2e3b4e")),
    C: (("#134e5e", "#2f5f55"), ("#1e3c72", "#2a5298"),
        ("#2c3e50", "#2f5d62"), ("#35495e", "#1f4e5f")),
    D: (("#0f0c29", "#302b63"), ("#200122", "#6f0000"),
        ("#141e30", "#243b55"), ("#3a0000", "#000000")),
}
